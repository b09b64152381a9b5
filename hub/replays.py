"""Telegram update ids already taken, so a replay is dropped by whichever process it reaches.

Telegram posts an update again when it did not see our answer in time, and anyone who saw
one posted (with the secret) can post it again. Remembering the ids in one process's memory
let a replay through after a restart, or to the other process of two. Telegram keeps an
undelivered update for at most a day, so an id is remembered for `KEEP` and then forgotten:
the table holds about a day of updates, pruned as new ones arrive.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from hub.models import TelegramUpdate

KEEP = timedelta(hours=24)
PRUNE_EVERY = 256  # ids are consecutive: every 256th update forgets those older than KEEP


async def first_sight(session: AsyncSession, update_id: int, *, now: datetime) -> bool:
    """Record the update id; False when it was recorded before (a replay)."""
    insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    recorded = await session.scalar(
        insert(TelegramUpdate)
        .values(update_id=update_id, seen_at=now)
        .on_conflict_do_nothing(index_elements=["update_id"])
        .returning(TelegramUpdate.update_id)
    )
    if update_id % PRUNE_EVERY == 0:
        await forget_before(session, now - KEEP)
    return recorded is not None


async def forget_before(session: AsyncSession, cutoff: datetime) -> None:
    await session.execute(delete(TelegramUpdate).where(TelegramUpdate.seen_at < cutoff))
