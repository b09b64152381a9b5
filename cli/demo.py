"""`gridcast demo`: a demo district, so a newcomer sees a real tree of grids and people at once.

Modelled on a Putian street office: a district, a street, an urban community and a
village, each split into grids with their workers; three village loudspeakers with a
day's slots, quiet hours at night and Puxian as the village's dialect; and the bundled
campaigns published for the street, released at once, so whatever the day the speakers'
schedules carry the season's campaign and their clips are rendered. Running it twice changes
nothing.
"""

from __future__ import annotations

import argparse
import contextlib
from typing import Any

from cli.common import command, with_hub
from hub import grids, people
from hub.core import Hub
from hub.errors import Conflict, NotFound
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


# Loudspeakers: (id, name, grid, zone tags, where it stands).
SPEAKERS = [
    ("SPK1", "东岩村村口大喇叭", "T3", ("village-gate",), "村部门口榕树下"),
    ("SPK2", "东岩村后山大喇叭", "T4", ("hillside",), "后山茶园路口"),
    ("SPK3", "南苑社区广场喇叭", "T1", ("square",), "社区文化广场"),
]
QUIET_HOURS = ("S1", "22:00-06:00")
DIALECT = ("C2", "putian")
SLOT_SCRIPT = "daily-safety-tip"


async def load_demo_speakers(hub: Hub) -> list[tuple[str, str]]:
    """The demo's loudspeakers, quiet hours, dialect and slots; returns (id, token) of the
    speakers added this time (a token is shown once, so a second run shows none)."""
    from audio import library
    from broadcasts.speakers import registry, slots, timing

    added: list[tuple[str, str]] = []
    catalogue = await library.catalogue(hub)
    async with hub.db.session() as session:
        for code, name, grid, zones, location in SPEAKERS:
            try:
                await registry.get(session, code)
            except NotFound:
                _, token = await registry.add(session, ACTOR, registry.SpeakerSpec(
                    code, name, grid, zones, location), now=hub.now())
                added.append((code, token))
        span = timing.parse_span(QUIET_HOURS[1])
        if (await registry.area_settings(session, await grids.get(session, QUIET_HOURS[0]))).quiet != timing.Span(*span):
            await registry.set_quiet_hours(session, ACTOR, QUIET_HOURS[0], span, now=hub.now())
        if (await registry.area_settings(session, await grids.get(session, DIALECT[0]))).dialect != DIALECT[1]:
            await registry.set_dialect(session, ACTOR, DIALECT[0], DIALECT[1], catalogue.dialects, now=hub.now())
        if SLOT_SCRIPT in catalogue.scripts and not [
            s for s, _ in await slots.list_slots(session) if s.source == ACTOR
        ]:
            for spec in (
                # Every speaker of the street, morning, noon and evening.
                slots.SlotSpec("S1", SLOT_SCRIPT, [7 * 60 + 30, 12 * 60, 18 * 60 + 30], source=ACTOR),
                # The village in the evening, every hour from 19:30 to 23:30: the quiet hours
                # from 22:00 keep the last ones off the air.
                slots.SlotSpec("C2", SLOT_SCRIPT, [19 * 60 + 30], window_minutes=240, every_minutes=60,
                               source=ACTOR),
            ):
                await slots.add(session, ACTOR, spec, catalogue, now=hub.now())
    await slots.render_ahead(hub)
    return added


CAMPAIGN_AREA = "S1"


async def load_demo_campaigns(hub: Hub) -> list[str]:
    """Publish every campaign for the demo's street (those already published there stay as
    they are), release what is due now, and return the lines saying what runs now and next."""
    from datetime import timedelta

    from broadcasts.campaigns import release, states
    from broadcasts.campaigns.plan import occasions
    from broadcasts.speakers import slots

    known = await release.catalogue(hub)
    async with hub.db.session() as session:
        for campaign_id in sorted(known.campaigns):
            # Published (or paused by someone) before: a second run changes nothing.
            with contextlib.suppress(Conflict):
                await states.publish(session, known, ACTOR, campaign_id, CAMPAIGN_AREA, now=hub.now())
    await release.release(hub)
    await slots.render_ahead(hub)  # the campaign's clips, before any speaker asks
    today = hub.local(hub.now()).date()
    lang = hub.settings.default_language
    lines = []
    for occasion in occasions(known, today, today + timedelta(days=30)):
        running = occasion.span.start <= today
        lines.append(f"  {'now ' if running else 'next'} {occasion.span.start} – {occasion.span.end}  "
                     f"{occasion.campaign.id}  {occasion.campaign.title(lang)}")
    return lines


@with_hub
async def demo(hub: Hub, args: argparse.Namespace) -> int:
    print(await load_demo(hub))
    added = await load_demo_speakers(hub)
    for code, token in added:
        print(f"loudspeaker {code}: token (shown only now) {token}")
    print(f"{len(SPEAKERS)} loudspeakers: try `gridcast speakers list` and `gridcast speakers schedule SPK1`"
          + (f"; run an agent with `gridcast speaker-agent --hub {hub.settings.public_url} --id SPK1 "
             "--token <its token>`" if added else ""))
    season = await load_demo_campaigns(hub)
    print(f"campaigns published for {CAMPAIGN_AREA}; this month:" if season else
          f"campaigns published for {CAMPAIGN_AREA}; none falls in the next 30 days")
    for line in season:
        print(line)
    print("try `gridcast campaigns list` and `gridcast campaigns preview`")
    return 0


def add_parser(sub: Any) -> None:
    command(sub, "demo", demo, "load a demo district")
