"""Looking at hazards: one ticket with its timeline, and a reporter's own reports.

Nothing here changes anything; the timeline is the hazard's audit rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hazards.models import AUDIT_ENTITY, Hazard
from hazards.notices import grid_of, hazard_params
from hub import access, audit
from hub.errors import NotFound, PermissionDenied
from hub.models import AuditEntry, Grid, Person


@dataclass(frozen=True)
class TimelineItem:
    at: datetime
    action: str
    actor: str | None
    after: dict[str, Any] | None


@dataclass(frozen=True)
class HazardView:
    hazard: Hazard
    grid: Grid
    params: dict[str, Any]  # for the "hazard.detail" template
    timeline: list[TimelineItem]


async def get(session: AsyncSession, hazard_id: int, *, lock: bool = False) -> Hazard:
    query = select(Hazard).where(Hazard.id == hazard_id)
    if lock:
        query = query.with_for_update()
    hazard = await session.scalar(query)
    if hazard is None:
        raise NotFound("hazard.not_found", id=hazard_id)
    return hazard


async def my_reports(session: AsyncSession, reporter: Person, limit: int = 20) -> list[Hazard]:
    return list(
        await session.scalars(
            select(Hazard)
            .where(Hazard.reporter_id == reporter.id)
            .order_by(Hazard.reported_at.desc(), Hazard.id.desc())
            .limit(limit)
        )
    )


async def detail(
    session: AsyncSession, viewer: Person, hazard_id: int, *, now: datetime
) -> HazardView:
    """A hazard with its timeline, for its reporter or anyone who may act on it.

    Workers see who did what; the reporter sees the steps without workers' names.
    """
    hazard = await get(session, hazard_id)
    grid = await grid_of(session, hazard)
    is_worker = await access.may_act(session, viewer, grid)
    if not is_worker and hazard.reporter_id != viewer.id:
        raise PermissionDenied("hazard.detail_refused", id=hazard.id)
    names: dict[int, str] = {}
    entries: list[AuditEntry] = await audit.history(session, AUDIT_ENTITY, hazard.id)
    actor_ids = {e.actor_id for e in entries if e.actor_id is not None}
    if is_worker and actor_ids:
        names = dict(
            (await session.execute(select(Person.id, Person.name).where(Person.id.in_(actor_ids))))
            .tuples()
            .all()
        )
    timeline = [
        TimelineItem(e.at, e.action, names.get(e.actor_id) if e.actor_id else None, e.after)
        for e in entries
    ]
    reporter = await session.get(Person, hazard.reporter_id) if hazard.reporter_id else None
    assignee = await session.get(Person, hazard.assignee_id) if hazard.assignee_id else None
    params = {
        **hazard_params(hazard, grid, now),
        "reporter": reporter.name
        if reporter is not None and (is_worker or hazard.reporter_named)
        else None,
        "assignee": assignee.name if assignee is not None and is_worker else None,
        "original": hazard.duplicate_of_id,
        "reopened": hazard.reopened_count,
    }
    return HazardView(hazard, grid, params, timeline)


def timeline_params(item: TimelineItem) -> tuple[str, dict[str, Any]]:
    """The template key and params for one timeline line."""
    after = item.after or {}
    return f"hazard.timeline.{item.action}", {
        "at": item.at,
        "actor": item.actor,
        "reason": after.get("reason"),
        "original": after.get("original"),
    }
