"""The audit trail: every state change of something people rely on leaves a row."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.models import AuditEntry, Person


def actor_label(actor: Person | str) -> str:
    if isinstance(actor, Person):
        return f"person:{actor.id}" + (f" tg:{actor.telegram_id}" if actor.telegram_id else "")
    return actor


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
    entry = AuditEntry(
        at=at,
        actor_id=actor.id if isinstance(actor, Person) else None,
        actor_label=actor_label(actor),
        entity=entity,
        entity_id=str(entity_id),
        action=action,
        before=before,
        after=after,
    )
    session.add(entry)
    return entry


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
