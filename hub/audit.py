"""The audit trail: every state change of something people rely on leaves a row."""

from __future__ import annotations

from datetime import datetime
from typing import Any

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


async def history(session: AsyncSession, entity: str, entity_id: object) -> list[AuditEntry]:
    rows = await session.scalars(
        select(AuditEntry)
        .where(AuditEntry.entity == entity, AuditEntry.entity_id == str(entity_id))
        .order_by(AuditEntry.at, AuditEntry.id)
    )
    return list(rows)
