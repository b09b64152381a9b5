"""Benchmark: what filing one-message reports costs the bot's process, by how many share a unit of work.

bench/report_intake.py measures the whole bot against an echo bot; this one measures the
filing alone, with no Telegram and no HTTP, the same reports (bench.report_intake.workload)
going two ways:

(a) the intake (bot/intake.py), B reports at a time: senders identified and registered,
    the rate limit, "is this the same as #N?", the hazards, their audit rows, receipts and
    cards rendered into the outbox — what the bot does for each report;
(b) the floor: the fewest statements that unit of work needs, as SQLAlchemy Core on the
    same async session — read the senders, count their last hour, read the candidates and
    pick among them, insert the hazards returning their ids, their audit rows and one outbox
    row each, commit. Nothing rendered, no ORM objects, no outcomes: it files nothing a
    person could use, and is here only to show how much of (a) is the storage stack DESIGN.md
    prescribes (SQLAlchemy asyncio on aiosqlite) rather than gridcast's own work.

Prints CPU per report — all threads of this process (SQLite runs in aiosqlite's thread) and
the event loop's thread alone — for each B, and the floor as a share of the intake. The
two take batches in turn, so both find the same reports stored.

Run: .venv/bin/python bench/intake_cost.py [--reports N]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import bindparam, func, insert, select  # noqa: E402
from telegram import Update  # noqa: E402

from bench.report_intake import RESIDENTS, TOKEN, seed_hub, workload  # noqa: E402
from bot.app import build_application  # noqa: E402
from bot.intake import Intake, intake_of  # noqa: E402
from hazards import categories  # noqa: E402
from hazards.delivery import REF_TYPE  # noqa: E402
from hazards.duplicates import candidates, pick  # noqa: E402
from hazards.intake import RATE_WINDOW, Draft, check_draft  # noqa: E402
from hazards.lifecycle import deadline_for  # noqa: E402
from hazards.models import AUDIT_ENTITY, Hazard, HazardState  # noqa: E402
from hub import bindings  # noqa: E402
from hub.core import Hub  # noqa: E402
from hub.models import AuditEntry, Person  # noqa: E402
from hub.outbox import OutboxMessage, Status  # noqa: E402
from hub.settings import load_settings  # noqa: E402
from tests.fakes.bot_api import FakeBotAPI  # noqa: E402

REPORTS = 480  # per batch size and way
BATCH_SIZES = (1, 4, 16)
# Every resident reports several times within the hour here; the limit's refusals are not
# what is measured, so it is raised out of the way.
LIMIT_PER_HOUR = 1000

_people = Person.__table__
_hazards = Hazard.__table__
_SENDERS = select(_people.c.telegram_id, _people.c.id).where(
    _people.c.telegram_id.in_(bindparam("telegram_ids", expanding=True))
)
_COUNTS = (
    select(_hazards.c.reporter_id, func.count())
    .where(_hazards.c.reporter_id.in_(bindparam("reporter_ids", expanding=True)),
           _hazards.c.reported_at > bindparam("hour_ago"))
    .group_by(_hazards.c.reporter_id)
)
_INSERT_HAZARDS = insert(_hazards).returning(_hazards.c.id)
_INSERT_AUDIT = insert(AuditEntry.__table__)
_INSERT_OUTBOX = insert(OutboxMessage.__table__)


@dataclass(frozen=True)
class Report:
    update: Update
    telegram_id: int
    chat_id: int
    text: str


@dataclass(frozen=True)
class Cost:
    process_ms: float  # CPU per report, every thread of this process
    loop_ms: float  # CPU per report, the event loop's thread alone


def reports(api: FakeBotAPI, count: int, seed: int) -> list[Report]:
    made = []
    for message in workload(api, count, 10_000, seed):
        data = api.send_message(message.chat, message.user, message.text)
        update = Update.de_json(data, None)
        made.append(Report(update, message.user["id"], message.chat["id"], message.text.split(None, 1)[1]))
    return made


def in_batches(items: Sequence[Report], size: int) -> list[Sequence[Report]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


async def through_intake(intake: Intake, batch: Sequence[Report]) -> None:
    """Queued together, so the intake files them in one unit of work."""
    await asyncio.gather(*(
        intake.enqueue(r.update, Draft(text=r.text, source_chat_id=r.chat_id)) for r in batch
    ))


def floor(hub: Hub) -> Callable[[Sequence[Report]], Awaitable[None]]:
    async def file(batch: Sequence[Report]) -> None:
        now = hub.now()
        drafts = [check_draft(Draft(text=r.text, source_chat_id=r.chat_id)) for r in batch]
        async with hub.db.session() as session:
            grid_ids = []
            for r in batch:
                binding = await bindings.binding(session, r.chat_id)
                assert binding is not None and binding.grid_id is not None
                grid_ids.append(binding.grid_id)
            senders = dict((await session.execute(_SENDERS, {"telegram_ids": [r.telegram_id for r in batch]})).all())
            await session.execute(_COUNTS, {"reporter_ids": sorted(senders.values()), "hour_ago": now - RATE_WINDOW})
            rows = await candidates(session, set(grid_ids), now)
            for draft, grid_id in zip(drafts, grid_ids, strict=True):
                pick(rows[grid_id], category=draft.category, text=draft.text, lat=None, lon=None, limit=3)
            made = [
                {
                    "grid_id": grid_id, "category": draft.category, "text": draft.text,
                    "reporter_id": senders[r.telegram_id], "reporter_named": False, "urgent": False,
                    "state": HazardState.REPORTED, "source_chat_id": r.chat_id, "reported_at": now,
                    "deadline_at": deadline_for(categories.get(draft.category or ""), now, False),
                    "reopened_count": 0, "updated_at": now,
                }
                for r, draft, grid_id in zip(batch, drafts, grid_ids, strict=True)
            ]
            ids = list((await session.execute(_INSERT_HAZARDS, made)).scalars())
            await session.execute(_INSERT_AUDIT, [
                {"at": now, "actor_id": row["reporter_id"], "actor_label": f"person:{row['reporter_id']}",
                 "entity": AUDIT_ENTITY, "entity_id": str(hazard_id), "action": "report",
                 "after": {"state": HazardState.REPORTED.value, "category": row["category"]}}
                for row, hazard_id in zip(made, ids, strict=True)
            ])
            await session.execute(_INSERT_OUTBOX, [
                {"chat_id": row["source_chat_id"], "kind": "text", "payload": {"text": row["text"]},
                 "status": Status.PENDING, "priority": 3, "attempts": 0, "next_attempt_at": now,
                 "created_at": now, "ref_type": REF_TYPE, "ref_id": str(hazard_id)}
                for row, hazard_id in zip(made, ids, strict=True)
            ])

    return file


async def measure(
    ways: Sequence[Callable[[Sequence[Report]], Awaitable[None]]], items: list[Report], size: int
) -> list[Cost]:
    """CPU per report of each way, taking batches in turn so each sees the same stored reports."""
    process = [0.0] * len(ways)
    loop = [0.0] * len(ways)
    for i, batch in enumerate(in_batches(items, size)):
        way = i % len(ways)
        started, started_loop = time.process_time(), time.thread_time()
        await ways[way](batch)
        process[way] += time.process_time() - started
        loop[way] += time.thread_time() - started_loop
    share = len(items) / len(ways)
    return [Cost(1000 * p / share, 1000 * t / share) for p, t in zip(process, loop, strict=True)]


async def main_async(count: int) -> int:
    with tempfile.TemporaryDirectory(prefix="gridcast-bench-") as tmp:
        settings = load_settings(_env_file=None, data_dir=Path(tmp), telegram_token=TOKEN,
                                 report_limit_per_hour=LIMIT_PER_HOUR)
        hub = await Hub.open(settings)
        try:
            await seed_hub(hub)
            intake = intake_of(build_application(hub, rate_limited=False))
            api = FakeBotAPI()
            everyone = reports(api, RESIDENTS, seed=1)  # registers every resident once
            for batch in in_batches(everyone, 4):
                await through_intake(intake, batch)
            for batch in in_batches(reports(api, 40, seed=2), 4):  # the floor's statements compiled
                await floor(hub)(batch)

            def file_with_intake(batch: Sequence[Report]) -> Awaitable[None]:
                return through_intake(intake, batch)

            rows = []
            for i, size in enumerate(BATCH_SIZES):
                measured, least = await measure(
                    [file_with_intake, floor(hub)], reports(api, 2 * count, seed=10 + i), size
                )
                rows.append((size, measured, least))
            async with hub.db.session() as session:
                filed = await session.scalar(select(func.count()).select_from(Hazard))
        finally:
            await hub.close()
    print(f"intake cost   {count} one-message reports per row, SQLite; CPU per report, "
          "whole process / event-loop thread")
    print("  reports per unit of work      intake              floor (Core)      floor / intake")
    for size, measured, least in rows:
        print(f"  {size:>24}   {measured.process_ms:6.2f} / {measured.loop_ms:5.2f} ms"
              f"   {least.process_ms:6.2f} / {least.loop_ms:5.2f} ms   {least.process_ms / measured.process_ms:6.2f}")
    print(f"  {filed} hazards stored at the end")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reports", type=int, default=REPORTS)
    args = parser.parse_args()
    return asyncio.run(main_async(args.reports))


if __name__ == "__main__":
    sys.exit(main())
