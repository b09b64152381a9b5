"""The delivery outbox: every message the hub owes a chat, kept until it is delivered.

Accepting a message and sending it are two steps. The first is a row written in the same
unit of work as the change that caused it, so a crash can never lose it; the second is done
by senders that claim rows, send them and mark the outcome. A claim is a lease: rows whose
sender died are claimed again when the lease runs out, so delivery is at least once and a
crash duplicates at most the messages that were in flight.

On PostgreSQL several processes drain the same table with `FOR UPDATE SKIP LOCKED`; on
SQLite one process does, with the same code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import (
    bindparam,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from hub import bindings
from hub.models import Chat, OutboxMessage
from hub.models import OutboxStatus as Status

LEASE = timedelta(seconds=60)
MAX_ATTEMPTS = 12
BACKOFF_BASE_SECONDS = 2.0
BACKOFF_CAP_SECONDS = 300.0


@dataclass(frozen=True)
class Envelope:
    """What a sender needs to deliver one claimed row, detached from the session."""

    id: int
    chat_id: int
    kind: str
    payload: dict[str, Any]
    attempts: int
    ref_type: str | None
    ref_id: str | None


class Queued(NamedTuple):
    """One message to queue: to which chat, what, ahead of what, about what."""

    chat_id: int
    payload: dict[str, Any]
    kind: str = "text"
    priority: int = 5
    ref: tuple[str, object] | None = None


def _new_row(message: Queued, now: datetime, expires_at: datetime | None, dedupe_key: str | None = None
             ) -> dict[str, Any]:
    """The columns of a message queued now, due at once."""
    ref = message.ref
    return {
        "chat_id": message.chat_id, "payload": message.payload, "kind": message.kind, "status": Status.PENDING,
        "priority": message.priority, "attempts": 0, "next_attempt_at": now, "created_at": now,
        "expires_at": expires_at, "dedupe_key": dedupe_key,
        "ref_type": ref[0] if ref else None, "ref_id": str(ref[1]) if ref else None,
    }


async def enqueue(
    session: AsyncSession,
    *,
    chat_id: int,
    payload: dict[str, Any],
    now: datetime,
    kind: str = "text",
    priority: int = 5,
    ref: tuple[str, object] | None = None,
    dedupe_key: str | None = None,
    expires_at: datetime | None = None,
) -> OutboxMessage | None:
    """Add a message to the caller's unit of work. With a dedupe key, a repeat is a no-op."""
    message = OutboxMessage(**_new_row(Queued(chat_id, payload, kind, priority, ref), now, expires_at, dedupe_key))
    if dedupe_key is None:
        session.add(message)
        return message
    try:
        async with session.begin_nested():
            session.add(message)
    except IntegrityError:
        return None
    return message


async def enqueue_many(
    session: AsyncSession, rows: Sequence[Queued], *, now: datetime, expires_at: datetime | None = None
) -> int:
    """Add many messages to the caller's unit of work in one INSERT; returns how many.

    For what owes many messages at once — a campaign's post to thousands of chats, the cards
    of the reports filed together: one statement with no RETURNING, where `enqueue` adds an
    object per row and SQLite then inserts them one by one; into the table, not through the
    ORM's bulk path, which costs more than the statement. No dedupe key: a batch is made
    exactly once by a caller that keys the change itself.
    """
    if not rows:
        return 0
    await session.execute(insert(OutboxMessage.__table__), [_new_row(row, now, expires_at) for row in rows])
    return len(rows)


async def claim(
    session: AsyncSession | AsyncConnection, *, worker: str, now: datetime, limit: int = 50, lease: timedelta = LEASE
) -> list[Envelope]:
    """Lease up to `limit` due messages to `worker`: pending ones, or ones whose lease ran out.

    Messages past their `expires_at` are never claimed; `expire` marks them failed.
    """
    due = (
        or_(
            (OutboxMessage.status == Status.PENDING) & (OutboxMessage.next_attempt_at <= now),
            (OutboxMessage.status == Status.SENDING) & (OutboxMessage.lease_until < now),
        )
        & or_(OutboxMessage.expires_at.is_(None), OutboxMessage.expires_at > now)
    )
    query = (
        select(OutboxMessage.id)
        .where(due)
        .order_by(OutboxMessage.priority, OutboxMessage.id)
        .limit(limit)
    )
    dialect = session.bind.dialect if isinstance(session, AsyncSession) else session.dialect
    if dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    ids = list(await session.scalars(query))
    if not ids:
        return []
    rows = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids), due)
        .values(
            status=Status.SENDING,
            claimed_by=worker,
            lease_until=now + lease,
            attempts=OutboxMessage.attempts + 1,
        )
        .returning(
            OutboxMessage.id, OutboxMessage.chat_id, OutboxMessage.kind, OutboxMessage.payload,
            OutboxMessage.attempts, OutboxMessage.ref_type, OutboxMessage.ref_id,
        )
    )
    claimed = [Envelope(*row) for row in rows.all()]
    return sorted(claimed, key=lambda e: ids.index(e.id))


async def expire(session: AsyncSession, *, now: datetime) -> int:
    """Fail what waited past its end (a warning no longer in force): it must not go out late."""
    result = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status.in_([Status.PENDING, Status.SENDING]),
               OutboxMessage.expires_at.is_not(None), OutboxMessage.expires_at <= now)
        .values(status=Status.FAILED, lease_until=None, error="expired")
    )
    return result.rowcount or 0


async def mark_sent_many(
    session: AsyncSession | AsyncConnection, rows: Sequence[tuple[int, int | None]], *, now: datetime
) -> None:
    """Mark several messages sent in one executemany (the sender's group commit)."""
    table = OutboxMessage.__table__
    await session.execute(
        table.update()
        .where(table.c.id == bindparam("row"))
        .values(status=Status.SENT.value, sent_at=now, telegram_message_id=bindparam("message_id"),
                lease_until=None, error=None),
        [{"row": row, "message_id": message_id} for row, message_id in rows],
    )


async def mark_sent(
    session: AsyncSession, message_id: int, *, now: datetime, telegram_message_id: int | None
) -> None:
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .values(status=Status.SENT, sent_at=now, telegram_message_id=telegram_message_id,
                lease_until=None, error=None)
    )


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, attempts - 1)))


async def mark_retry(
    session: AsyncSession, message_id: int, *, now: datetime, error: str,
    after: timedelta | None = None, attempts: int,
) -> Status:
    """Put a message back for a later try; after too many tries it fails for good."""
    if attempts >= MAX_ATTEMPTS:
        await mark_failed(session, message_id, now=now, error=error)
        return Status.FAILED
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .values(status=Status.PENDING, next_attempt_at=now + (after or backoff(attempts)),
                lease_until=None, error=error[:500])
    )
    return Status.PENDING


async def release(session: AsyncSession, message_id: int, *, now: datetime, after: timedelta) -> None:
    """Hand a message back untried (a rate limit said wait), without counting an attempt."""
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .values(status=Status.PENDING, next_attempt_at=now + after, lease_until=None,
                attempts=OutboxMessage.attempts - 1)
    )


async def mark_failed(session: AsyncSession, message_id: int, *, now: datetime, error: str) -> None:
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .values(status=Status.FAILED, lease_until=None, error=error[:500])
    )


async def chat_gone(session: AsyncSession, chat_id: int, *, now: datetime, error: str) -> int:
    """The bot was blocked or removed: deactivate the binding and fail what waits for the chat."""
    await session.execute(update(Chat).where(Chat.telegram_chat_id == chat_id).values(active=False))
    bindings.invalidate(session)
    result = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.chat_id == chat_id,
               OutboxMessage.status.in_([Status.PENDING, Status.SENDING]))
        .values(status=Status.FAILED, lease_until=None, error=error[:500])
    )
    return result.rowcount or 0


async def chat_migrated(session: AsyncSession, old_id: int, new_id: int) -> None:
    """A group became a supergroup: move its binding and its waiting messages to the new id."""
    await session.execute(update(Chat).where(Chat.telegram_chat_id == old_id).values(telegram_chat_id=new_id))
    bindings.invalidate(session)
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.chat_id == old_id,
               OutboxMessage.status.in_([Status.PENDING, Status.SENDING]))
        .values(chat_id=new_id, status=Status.PENDING, lease_until=None,
                attempts=OutboxMessage.attempts - 1)
    )


async def report(session: AsyncSession, ref_type: str, ref_id: object) -> dict[str, int]:
    """How many messages for one warning (or card, or campaign) are sent, pending, failed."""
    rows = await session.execute(
        select(OutboxMessage.status, func.count())
        .where(OutboxMessage.ref_type == ref_type, OutboxMessage.ref_id == str(ref_id))
        .group_by(OutboxMessage.status)
    )
    counts = {status.value: 0 for status in Status}
    for status, count in rows.all():
        counts[Status(status).value] = count
    return counts


async def per_chat(session: AsyncSession, ref_type: str, ref_id: object) -> Sequence[OutboxMessage]:
    return list(await session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.ref_type == ref_type, OutboxMessage.ref_id == str(ref_id))
        .order_by(OutboxMessage.chat_id)
    ))
