"""`gridcast demo`: a demo district, so a newcomer sees a real tree of grids and people at once.

Modelled on a Putian street office: a district, a street, an urban community and a
village, each split into grids with their workers. Running it twice changes nothing.
"""

from __future__ import annotations

import argparse
from typing import Any

from cli.common import command, with_hub
from hub import grids, people
from hub.core import Hub
from hub.models import GridLevel, Role

ACTOR = "demo"


def _box(lon: float, lat: float, size: float = 0.01) -> dict[str, object]:
    ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


GRIDS = [
    grids.GridSpec("D1", "城厢区", None, GridLevel.DISTRICT, _box(118.98, 25.40, 0.08), "350302"),
    grids.GridSpec("S1", "南苑街道", "D1", GridLevel.STREET, _box(119.00, 25.42, 0.04)),
    grids.GridSpec("C1", "南苑社区", "S1", GridLevel.COMMUNITY, _box(119.00, 25.42, 0.02)),
    grids.GridSpec("T1", "南苑社区第一网格", "C1", GridLevel.GRID, _box(119.00, 25.42)),
    grids.GridSpec("T2", "南苑社区第二网格", "C1", GridLevel.GRID, _box(119.01, 25.42)),
    grids.GridSpec("C2", "东岩村", "S1", GridLevel.COMMUNITY, _box(119.02, 25.44, 0.02)),
    grids.GridSpec("T3", "东岩村第一网格（村部片）", "C2", GridLevel.GRID, _box(119.02, 25.44)),
    grids.GridSpec("T4", "东岩村第二网格（后山片）", "C2", GridLevel.GRID, _box(119.03, 25.44)),
]

PEOPLE = [
    (5901, "陈建国（南苑街道应急办）", Role.STAFF, "S1"),
    (5001, "王芳", Role.WORKER, "T1"),
    (5002, "李强", Role.WORKER, "T1"),
    (5003, "郑丽华", Role.WORKER, "T2"),
    (5004, "林秀英", Role.WORKER, "T3"),
    (5005, "黄志明", Role.WORKER, "T4"),
    (6001, "张阿姨", Role.RESIDENT, "T1"),
    (6002, "刘师傅（五金店）", Role.RESIDENT, "T2"),
    (6003, "林大伯", Role.RESIDENT, "T3"),
]


async def load_demo(hub: Hub) -> str:
    async with hub.db.session() as session:
        await grids.import_specs(session, GRIDS, actor=ACTOR, now=hub.now())
        for telegram_id, name, role, grid in PEOPLE:
            await people.appoint(
                session, telegram_id=telegram_id, name=name, role=role, grid_code=grid,
                actor=ACTOR, now=hub.now(),
            )
    return (
        f"demo district loaded: {len(GRIDS)} grids, {len(PEOPLE)} people. "
        "Try `gridcast grids list` and `gridcast people list`; in Telegram a worker binds "
        "a group with /bind T1."
    )


@with_hub
async def demo(hub: Hub, args: argparse.Namespace) -> int:
    print(await load_demo(hub))
    return 0


def add_parser(sub: Any) -> None:
    command(sub, "demo", demo, "load a demo district")
