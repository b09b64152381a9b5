"""Which grid a chat is bound to, and which chats a grid has, cached for a few seconds.

Every message in a group asks "which grid is this chat?", and every hazard card asks "which
chats does this grid have?" — the same few rows, read thousands of times for each time they
change. Reading them from the database each time was a good part of the cost of a report, so
this process keeps the answers for `TTL` seconds.

Why that is safe:
- Only plain values are kept (ids, codes, names, the kind), never ORM objects, so nothing
  cached is attached to, or changed through, a session that has ended.
- There is one cache per database engine: two hubs in one process (tests) never share one.
- The services of this process that change a binding or a grid's name (`grids.bind_chat`,
  `grids.upsert`, `outbox.chat_gone`, `outbox.chat_migrated`) call `invalidate`, which empties
  the cache at once and again when their unit of work ends, committed or not — so a reader
  that ran in between cannot leave a stale answer behind, nor one that never committed.
- A change made by another process (a second `gridcast bot`, the CLI) is seen within `TTL`
  seconds: a card may reach a chat just unbound, or miss one just bound, for that long.
  Binding is rare and done by hand; the outbox drops sends to chats that are gone.
"""

from __future__ import annotations

import time
import weakref
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncSession

from hub.models import Chat, ChatKind, Grid

TTL = 15.0  # seconds


@dataclass(frozen=True)
class GridFacts:
    """What the hot paths need of a grid; reads like a `Grid` for them (id, code, name, path)."""

    id: int
    code: str
    name: str
    path: str


@dataclass(frozen=True)
class Binding:
    """An active binding of a Telegram chat to a grid."""

    telegram_chat_id: int
    grid_id: int
    kind: ChatKind
    grid: GridFacts


class _Cache:
    def __init__(self) -> None:
        self.entries: dict[tuple[str, int], tuple[float, Any]] = {}

    def get(self, key: tuple[str, int]) -> tuple[bool, Any]:
        hit = self.entries.get(key)
        if hit is None or hit[0] < time.monotonic():
            return False, None
        return True, hit[1]

    def put(self, key: tuple[str, int], value: Any) -> None:
        self.entries[key] = (time.monotonic() + TTL, value)


_caches: weakref.WeakKeyDictionary[Engine, _Cache] = weakref.WeakKeyDictionary()


def _cache(session: AsyncSession) -> _Cache:
    engine = session.sync_session.get_bind()
    assert isinstance(engine, Engine)
    cache = _caches.get(engine)
    if cache is None:
        cache = _caches[engine] = _Cache()
    return cache


def _facts(grid: Grid) -> GridFacts:
    return GridFacts(grid.id, grid.code, grid.name, grid.path)


async def binding(session: AsyncSession, telegram_chat_id: int) -> Binding | None:
    """The active binding of a chat with its grid's facts, or None for an unbound chat."""
    cache = _cache(session)
    found, value = cache.get(("chat", telegram_chat_id))
    if found:
        return value
    row = (
        await session.execute(
            select(Chat.kind, Grid.id, Grid.code, Grid.name, Grid.path)
            .join(Grid, Chat.grid_id == Grid.id)
            .where(Chat.telegram_chat_id == telegram_chat_id, Chat.active.is_(True))
        )
    ).first()
    result = None
    if row is not None:
        kind, *grid = row
        facts = GridFacts(*grid)
        result = Binding(telegram_chat_id, facts.id, ChatKind(kind), facts)
        cache.put(("grid", facts.id), facts)
    cache.put(("chat", telegram_chat_id), result)
    return result


async def grid(session: AsyncSession, grid_id: int) -> GridFacts | None:
    """A grid's facts by id, or None when there is no such grid."""
    cache = _cache(session)
    found, value = cache.get(("grid", grid_id))
    if found:
        return value
    loaded = await session.get(Grid, grid_id)
    result = _facts(loaded) if loaded is not None else None
    cache.put(("grid", grid_id), result)
    return result


async def chats_of(session: AsyncSession, grid_id: int) -> tuple[int, ...]:
    """Telegram ids of the chats actively bound to a grid, in the order they were bound."""
    cache = _cache(session)
    found, value = cache.get(("chats", grid_id))
    if found:
        return value
    result = tuple(
        await session.scalars(
            select(Chat.telegram_chat_id)
            .where(Chat.grid_id == grid_id, Chat.active.is_(True))
            .order_by(Chat.id)
        )
    )
    cache.put(("chats", grid_id), result)
    return result


def invalidate(session: AsyncSession) -> None:
    """Forget every cached answer now, and again when this session's transaction ends."""
    cache = _cache(session)
    cache.entries.clear()

    def clear(*_: object) -> None:
        cache.entries.clear()

    sync = session.sync_session
    for name in ("after_commit", "after_rollback"):
        if not event.contains(sync, name, clear):
            event.listen(sync, name, clear, once=True)
