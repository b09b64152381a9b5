"""What a person is in the middle of: the next step of a guided report, a prompt waiting for
its reply, a question waiting for its answer — kept in the database, not in one process.

A bot process may be restarted halfway through someone's report, and in webhook mode several
processes take turns at one person's updates; a step kept in memory would be lost to the
restart, or unknown to the process that gets the next message. So each piece of state is a
row keyed by (Telegram user, chat, flow), its state as JSON, written when the step is taken
and read fresh when the next message comes. `ANY_CHAT` keys what belongs to the person
wherever they write (a guided report, a worker's evidence photo).

Every row expires: a conversation abandoned halfway is forgotten rather than catching the
person's messages for ever. Expired rows count as absent at once and are deleted by `sweep`
(and a person's own whenever their state is written).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, case, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from hub.models import Conversation

ANY_CHAT = 0  # state of the person, not of one chat (Telegram chat ids are never 0)
DEFAULT_TTL = timedelta(hours=24)


@dataclass(frozen=True)
class Entry:
    """One live piece of a person's state."""

    chat_id: int
    flow: str
    state: Any
    created_at: datetime


def _key(user_id: int, chat_id: int, flow: str) -> tuple[Any, ...]:
    return (Conversation.user_id == user_id, Conversation.chat_id == chat_id, Conversation.flow == flow)


async def of_user(session: AsyncSession, user_id: int, *, now: datetime) -> list[Entry]:
    """Everything this person is in the middle of, in every chat."""
    rows = await session.execute(
        select(Conversation.chat_id, Conversation.flow, Conversation.state, Conversation.created_at)
        .where(Conversation.user_id == user_id, Conversation.expires_at > now)
    )
    return [Entry(*row) for row in rows]


async def get(
    session: AsyncSession, user_id: int, flow: str, *, now: datetime, chat_id: int = ANY_CHAT
) -> Any | None:
    return await session.scalar(
        select(Conversation.state).where(*_key(user_id, chat_id, flow), Conversation.expires_at > now)
    )


async def put(
    session: AsyncSession,
    user_id: int,
    flow: str,
    state: Any,
    *,
    now: datetime,
    chat_id: int = ANY_CHAT,
    ttl: timedelta = DEFAULT_TTL,
) -> None:
    """Write the state of a flow, new or the next step of one; it lives `ttl` from now.

    `created_at` stays the flow's start while it lives; a flow started over after its expiry
    starts anew.
    """
    await session.execute(
        delete(Conversation).where(Conversation.user_id == user_id, Conversation.expires_at <= now)
    )
    insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    row = {"user_id": user_id, "chat_id": chat_id, "flow": flow, "state": state,
           "created_at": now, "updated_at": now, "expires_at": now + ttl}
    statement = insert(Conversation).values(row)
    await session.execute(statement.on_conflict_do_update(
        index_elements=["user_id", "chat_id", "flow"],
        set_={
            "state": statement.excluded.state,
            "updated_at": statement.excluded.updated_at,
            "expires_at": statement.excluded.expires_at,
            "created_at": case(
                (Conversation.expires_at <= now, statement.excluded.created_at),
                else_=Conversation.created_at,
            ),
        },
    ))


async def take(
    session: AsyncSession, user_id: int, flow: str, *, now: datetime, chat_id: int = ANY_CHAT
) -> Any | None:
    """Remove a live piece of state and return it: of two processes taking the same one at
    once, only one gets it (a double press answers once)."""
    return await session.scalar(
        delete(Conversation)
        .where(*_key(user_id, chat_id, flow), Conversation.expires_at > now)
        .returning(Conversation.state)
    )


async def clear(session: AsyncSession, user_id: int, flows: Iterable[str], *, chat_id: int = ANY_CHAT) -> None:
    names = list(flows)
    if names:
        await session.execute(
            delete(Conversation).where(
                Conversation.user_id == user_id, Conversation.chat_id == chat_id, Conversation.flow.in_(names)
            )
        )


# Every report asks it (a question still open counts against the rate limit): built once,
# with bound parameters, from the table's columns, so each call composes nothing and skips
# the ORM's loading. The prefix is matched literally: flow names hold "_", a LIKE wildcard.
_rows = Conversation.__table__.c
_BEGUN = select(_rows.user_id, _rows.flow, _rows.created_at).where(
    _rows.user_id.in_(bindparam("user_ids", expanding=True)),
    _rows.chat_id == bindparam("chat_id"),
    _rows.flow.like(bindparam("pattern"), escape="/"),
    _rows.expires_at > bindparam("now"),
)


async def begun(
    session: AsyncSession, user_ids: Iterable[int], prefix: str, *, now: datetime, chat_id: int = ANY_CHAT
) -> list[tuple[int, str, datetime]]:
    """(user, flow, created_at) of the live flows named `prefix`… of these people."""
    ids = sorted(set(user_ids))
    if not ids:
        return []
    pattern = prefix.replace("/", "//").replace("%", "/%").replace("_", "/_") + "%"
    params = {"user_ids": ids, "chat_id": chat_id, "pattern": pattern, "now": now}
    return [(user_id, flow, created_at) for user_id, flow, created_at in await session.execute(_BEGUN, params)]


async def sweep(session: AsyncSession, *, now: datetime) -> int:
    """Delete every expired row; returns how many."""
    result = await session.execute(delete(Conversation).where(Conversation.expires_at <= now))
    return int(getattr(result, "rowcount", 0) or 0)
