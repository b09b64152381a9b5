"""Benchmark: a year of seasonal campaigns for 1,000 grids, each with a bound chat and two
loudspeakers, on a fake clock.

Every shipped campaign is published for the whole tree; the release pass (the scheduler's
`campaign_release` job) runs at every instant something falls due and at the top of every
hour. For each day with releases it prints the pass's time and the rows it wrote (release
keys, outbox messages, loudspeaker slots), and beside it one pass over the same rows with
plain SQLAlchemy Core on a copy of the database: read the bound chats, insert the same
release rows, messages and slots in one executemany each. The ratio of the two over the year
is the verdict (target ≤ 2). The passes that find nothing to do are timed apart: the job runs
every minute, so their cost per run and per day is printed too.

Run: .venv/bin/python bench/campaign_year.py [--grids N] [--database sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, or_, select, update

from broadcasts.campaigns import release, states
from broadcasts.campaigns.models import CampaignRelease
from broadcasts.campaigns.plan import Planner
from broadcasts.speakers.models import Slot, Speaker
from hub import migrate
from hub.clock import FakeClock
from hub.core import Hub
from hub.db import Database
from hub.models import Chat, ChatKind, Grid, GridLevel, OutboxMessage
from hub.settings import load_settings

TARGET = 2.0
START = datetime(2026, 12, 31, 16, 0, tzinfo=UTC)  # 1 January 2027 in Shanghai
END = datetime(2027, 12, 31, 16, 0, tzinfo=UTC)
PG_ADMIN = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


async def seed(url: str, grids: int, now: datetime) -> None:
    """A district, 10 streets, 10 communities each, and `grids` grids below them, each with a
    residents' group and two speakers: Core inserts, as an import would."""
    db = Database(url)
    rows: list[dict[str, Any]] = [{"id": 1, "code": "D1", "name": "区", "level": GridLevel.DISTRICT,
                                   "parent_id": None, "path": "/D1/", "created_at": now}]
    for s in range(10):
        rows.append({"id": 2 + s, "code": f"S{s}", "name": f"街道{s}", "level": GridLevel.STREET,
                     "parent_id": 1, "path": f"/D1/S{s}/", "created_at": now})
    for c in range(100):
        rows.append({"id": 20 + c, "code": f"C{c}", "name": f"社区{c}", "level": GridLevel.COMMUNITY,
                     "parent_id": 2 + c // 10, "path": f"/D1/S{c // 10}/C{c}/", "created_at": now})
    leaves = [{"id": 200 + g, "code": f"T{g}", "name": f"第{g}网格", "level": GridLevel.GRID,
               "parent_id": 20 + g % 100, "path": f"/D1/S{g % 100 // 10}/C{g % 100}/T{g}/", "created_at": now}
              for g in range(grids)]
    rows += leaves
    async with db.engine.begin() as conn:
        await conn.execute(insert(Grid), rows)
        await conn.execute(insert(Chat), [
            {"telegram_chat_id": -10_000 - g["id"], "grid_id": g["id"], "kind": ChatKind.GROUP, "active": True,
             "created_at": now} for g in leaves])
        await conn.execute(insert(Speaker), [
            {"code": f"SPK{g['id']}-{n}", "name": f"喇叭{n}", "grid_id": g["id"], "zone_tags": [], "volume": 80,
             "active": True, "token_hash": hashlib.sha256(f"{g['id']}-{n}".encode()).hexdigest(),
             "token_set_at": now, "schedule_version": 0, "created_at": now, "updated_at": now}
            for g in leaves for n in (1, 2)])
    await db.dispose()


async def core_pass(db: Database, releases: list[dict], messages: list[dict], slots: list[dict]) -> float:
    """The same rows, written with plain Core: the chats read once, one executemany per table,
    and the speakers below a new slot told their schedule changed."""
    began = time.perf_counter()
    async with db.engine.begin() as conn:
        (await conn.execute(select(Chat.telegram_chat_id, Chat.grid_id, Grid.path)
                            .join(Grid, Grid.id == Chat.grid_id).where(Chat.active.is_(True)))).all()
        if slots:
            await conn.execute(insert(Slot), slots)
            await conn.execute(update(Speaker).where(Speaker.grid_id.in_(
                select(Grid.id).where(or_(*(Grid.path.startswith(p) for p in await _paths(conn, slots))))))
                .values(schedule_version=Speaker.schedule_version + 1))
        if releases:
            await conn.execute(insert(CampaignRelease), releases)
        if messages:
            await conn.execute(insert(OutboxMessage), messages)
    return time.perf_counter() - began


async def _paths(conn: Any, slots: list[dict]) -> list[str]:
    return list((await conn.execute(select(Grid.path).where(Grid.id.in_({s["grid_id"] for s in slots})))).scalars())


def _rows(objects: list[Any], skip: tuple[str, ...] = ("id",)) -> list[dict]:
    return [{c.key: getattr(o, c.key) for c in o.__table__.columns if c.key not in skip} for o in objects]


async def written(hub: Hub, since_release: int, since_message: int, since_slot: int) -> tuple[list, list, list]:
    async with hub.db.session() as session:
        releases = list(await session.scalars(select(CampaignRelease).where(CampaignRelease.id > since_release)))
        messages = list(await session.scalars(select(OutboxMessage).where(OutboxMessage.id > since_message)))
        slots = list(await session.scalars(select(Slot).where(Slot.id > since_slot)))
    return _rows(releases, ("id", "slot_id")), _rows(messages), _rows(slots)


async def last_ids(hub: Hub) -> tuple[int, int, int]:
    from sqlalchemy import func

    async with hub.db.session() as session:
        return tuple([await session.scalar(select(func.coalesce(func.max(t.id), 0)))  # type: ignore[return-value]
                      for t in (CampaignRelease, OutboxMessage, Slot)])


async def databases(kind: str, folder: Path) -> tuple[str, str, Any]:
    """Two migrated, empty databases: the hub's and the baseline's."""
    if kind == "sqlite":
        urls = [f"sqlite+aiosqlite:///{folder / name}" for name in ("hub.db", "core.db")]

        async def drop() -> None:
            return None
    else:
        import asyncpg

        names = [f"gridcast_bench_{n}_{int(time.time())}" for n in ("hub", "core")]
        admin = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/test")
        for name in names:
            await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.close()
        urls = [PG_ADMIN.rsplit("/", 1)[0] + f"/{name}" for name in names]

        async def drop() -> None:
            admin = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/test")
            for name in names:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()
    for url in urls:
        db = Database(url)
        await migrate.upgrade(db)
        await db.dispose()
    return urls[0], urls[1], drop


async def main(grids: int, kind: str) -> int:
    folder = Path(tempfile.mkdtemp(prefix="gridcast-bench-"))
    hub_url, core_url, drop = await databases(kind, folder)
    clock = FakeClock(START)
    try:
        for url in (hub_url, core_url):
            await seed(url, grids, START)
        hub = await Hub.open(load_settings(_env_file=None, data_dir=folder, database_url=hub_url),
                             clock=clock, upgrade=False)
        core = Database(core_url)
        known = await release.catalogue(hub)
        async with hub.db.session() as session:
            for campaign_id in known.campaigns:
                await states.publish(session, known, "bench", campaign_id, now=hub.now())
        planner = Planner(known, hub.tz)
        due = {d.at for d in planner.around(hub.local(START).date(), hub.local(END).date()) if START < d.at <= END}
        hours = {START + timedelta(hours=n) for n in range(1, int((END - START).total_seconds() // 3600) + 1)}
        ticks = [START, *sorted(due | hours)]

        busy: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0, 0, 0])
        idle_times: list[float] = []
        marks = await last_ids(hub)
        print(f"== a year of campaigns for {grids:,} grids, {2 * grids:,} speakers, {len(known.campaigns)} "
              f"campaigns, on {kind}: {len(ticks):,} passes")
        print(f"{'day':<11} {'keys':>6} {'messages':>8} {'slots':>5} {'pass ms':>8} {'core ms':>8} {'ratio':>6}")
        for tick in ticks:
            clock.set(tick)
            began = time.perf_counter()
            report = await release.release(hub)
            spent = time.perf_counter() - began
            if not (report.posts or report.slots.changed):
                idle_times.append(spent)
                continue
            releases, messages, slots = await written(hub, *marks)
            marks = await last_ids(hub)
            baseline = await core_pass(core, releases, messages, slots)
            day = hub.local(tick).date().isoformat()
            row = busy[day]
            row[0] += spent
            row[1] += baseline
            row[2] += len(releases)
            row[3] += len(messages)
            row[4] += len(slots)
        for day, (ours, theirs, keys, sent, slots_made) in sorted(busy.items()):
            print(f"{day:<11} {keys:>6} {sent:>8} {slots_made:>5} {ours * 1000:>8.1f} {theirs * 1000:>8.1f} "
                  f"{ours / theirs:>6.2f}")
        ours = sum(r[0] for r in busy.values())
        theirs = sum(r[1] for r in busy.values())
        idle = sum(idle_times) / max(1, len(idle_times))
        ratio = ours / theirs
        print(f"busy days: {len(busy)}; releasing: {ours:.2f} s over the year, plain Core {theirs:.2f} s; "
              f"ratio {ratio:.2f} (target ≤ {TARGET:g})")
        print(f"idle passes: {len(idle_times):,}, {idle * 1000:.2f} ms each; at one a minute that is "
              f"{idle * 1440:.2f} s of a day")
        print(f"verdict: {'PASS' if ratio <= TARGET else 'FAIL'} (ratio {ratio:.2f} ≤ {TARGET:g})")
        await core.dispose()
        await hub.close()
        return 0
    finally:
        await drop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grids", type=int, default=1000)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    options = parser.parse_args()
    sys.exit(asyncio.run(main(options.grids, options.database)))
