"""The audit trail: every state change of something people rely on leaves a row."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.models import AuditEntry, Person


def actor_label(actor: Person | str) -> str:
    if isinstance(actor, Person):
        return f"person:{actor.id}" + (f" tg:{actor.telegram_id}" if actor.telegram_id else "")
    return actor


@dataclass(frozen=True)
class Entry:
    """One audit row to write (`record_many`); `actor` as for `record`."""

    actor: Person | str
    entity: str
    entity_id: object
    action: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None


def _values(entry: Entry, at: datetime) -> dict[str, Any]:
    actor = entry.actor
    return {
        "at": at, "actor_id": actor.id if isinstance(actor, Person) else None, "actor_label": actor_label(actor),
        "entity": entry.entity, "entity_id": str(entry.entity_id), "action": entry.action,
        "before": entry.before, "after": entry.after,
    }


def record(
    session: AsyncSession,
    *,
    at: datetime,
    actor: Person | str,
    entity: str,
    entity_id: object,
    action: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add an audit row to the caller's unit of work, so it commits or rolls back with the change.

    `actor` is the person who acted, or a label such as "cli" or "scheduler" for the system.
    """
    entry = AuditEntry(**_values(Entry(actor, entity, entity_id, action, before, after), at))
    session.add(entry)
    return entry


async def record_many(session: AsyncSession, entries: Sequence[Entry], *, at: datetime) -> None:
    """Write several audit rows now, in the caller's unit of work, as one statement.

    For what a batch changes at once (the reports filed together by the intake): `record`
    adds an object per row, which the ORM then inserts one by one to learn each id, and
    nobody reads an audit row's id. Into the table, not through the ORM's bulk path, which
    costs more than the statement. The rows it records must already be written (flushed).
    """
    if entries:
        await session.execute(insert(AuditEntry.__table__), [_values(entry, at) for entry in entries])


class Row(Protocol):
    """Anything with a primary key named `id`: a hazard, a grid, a person, a recording…"""

    id: Any


async def change(
    session: AsyncSession,
    obj: Row,
    *,
    at: datetime,
    actor: Person | str,
    entity: str,
    action: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    entity_id: object = None,
) -> AuditEntry:
    """Record a change of `obj` with its audit row, in the caller's unit of work.

    `obj` is added to the session when it is not there yet, and flushed when it is new or
    changed since the last flush: a new row gets the id its audit row names, and the row is
    written after the change it records. An object a batch has already flushed costs no further
    round trip, so rows audited in a loop after one flush stay one flush. The audit row names
    `obj.id` unless `entity_id` says otherwise (a grid is known by its code).
    """
    if obj not in session:
        session.add(obj)
    if obj in session.new or session.is_modified(obj):
        await session.flush()
    return record(
        session,
        at=at,
        actor=actor,
        entity=entity,
        entity_id=obj.id if entity_id is None else entity_id,
        action=action,
        before=before,
        after=after,
    )


async def history(session: AsyncSession, entity: str, entity_id: object) -> list[AuditEntry]:
    rows = await session.scalars(
        select(AuditEntry)
        .where(AuditEntry.entity == entity, AuditEntry.entity_id == str(entity_id))
        .order_by(AuditEntry.at, AuditEntry.id)
    )
    return list(rows)
