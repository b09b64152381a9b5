"""Looking at hazards: one ticket with its timeline, a reporter's own reports, and the
overview staff open the dashboard on (open and overdue counts, the weekly trend).

Nothing here changes anything; the timeline is the hazard's audit rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hazards import ledger
from hazards.models import AUDIT_ENTITY, OPEN_STATES, OVERDUE_STATES, Hazard
from hazards.notices import grid_of, hazard_params
from hub import access, audit
from hub.errors import NotFound, PermissionDenied
from hub.models import AuditEntry, Grid, Person, Role

PHOTO_REFUSALS = access.Refusals(role="hazard.refused_not_worker", scope="hazard.refused_out_of_scope")


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
    may_act: bool = False  # the viewer is a worker or staff over the hazard's grid


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
    return HazardView(hazard, grid, params, timeline, is_worker)


PHOTO_KINDS = ("report", "evidence")  # the resident's photo, the rectification's evidence


async def photo_of(session: AsyncSession, viewer: Person, hazard_id: int, kind: str) -> str:
    """The hash of a hazard's photo, for a worker or staff member over its grid only.

    A resident's photo shows their home's surroundings: the reporter sees their own in chat,
    and on the dashboard only those who act on the hazard see it.
    """
    hazard = await get(session, hazard_id)
    await access.require(session, viewer, Role.WORKER, await grid_of(session, hazard),
                         refusals=PHOTO_REFUSALS, id=hazard.id)
    photo = {"report": hazard.photo, "evidence": hazard.evidence_photo}.get(kind)
    if photo is None:
        raise NotFound("hazard.photo_unknown")
    return photo


def timeline_params(item: TimelineItem) -> tuple[str, dict[str, Any]]:
    """The template key and params for one timeline line."""
    after = item.after or {}
    return f"hazard.timeline.{item.action}", {
        "at": item.at,
        "actor": item.actor,
        "reason": after.get("reason"),
        "original": after.get("original"),
    }


# --- the overview: counts and a trend, for the dashboard -----------------------------------


@dataclass(frozen=True)
class Tally:
    """Open hazards of one grid and category, and how many of them are overdue."""

    grid_code: str
    grid_name: str
    category: str
    open: int
    overdue: int


async def open_counts(
    session: AsyncSession, viewer: Person, *, now: datetime, since: datetime, grid_code: str | None = None
) -> list[Tally]:
    """Hazards reported since `since` that are still open, by grid and category, with the
    overdue among them; most overdue first. For workers and staff, of their scope.

    One grouped query over the open hazards' index; the few groups are then narrowed to the
    viewer's grids, so the cost follows the open hazards, not the whole ledger.
    """
    scope = await ledger.scope_of(session, viewer, grid_code)
    overdue = case((and_(Hazard.state.in_(sorted(OVERDUE_STATES)), Hazard.deadline_at < now), 1), else_=0)
    query = (
        select(Hazard.grid_id, Hazard.category, func.count(), func.sum(overdue))
        .where(Hazard.state.in_(sorted(OPEN_STATES)), Hazard.reported_at >= since)
        .group_by(Hazard.grid_id, Hazard.category)
    )
    counted = [
        (grid_id, category, total, int(late or 0))
        for grid_id, category, total, late in (await session.execute(query)).tuples()
        if scope.holds(grid_id)
    ]
    names = await _grid_names(session, {grid_id for grid_id, *_ in counted})
    tallies = [Tally(*names[grid_id], category, total, late) for grid_id, category, total, late in counted]
    return sorted(tallies, key=lambda t: (-t.overdue, -t.open, t.grid_code, t.category))


async def _grid_names(session: AsyncSession, ids: set[int]) -> dict[int, tuple[str, str]]:
    if not ids:
        return {}
    rows = await session.execute(select(Grid.id, Grid.code, Grid.name).where(Grid.id.in_(ids)))
    return {grid_id: (code, name) for grid_id, code, name in rows.tuples()}


@dataclass(frozen=True)
class Week:
    start: datetime  # local midnight of the Monday the week starts on
    reported: int
    closed: int  # closed, rejected or merged as a duplicate in that week


async def weekly_trend(
    session: AsyncSession, viewer: Person, *, now: datetime, tz: ZoneInfo, weeks: int = 12,
    grid_code: str | None = None,
) -> list[Week]:
    """Hazards reported and closed per week over the last `weeks` weeks (this one included),
    weeks starting on Monday in the hub's time zone; for workers and staff, of their scope.

    Each count is a range of the reported_at / closed_at index, bucketed by a CASE over the
    week boundaries, so the same query runs on SQLite and PostgreSQL alike.
    """
    scope = await ledger.scope_of(session, viewer, grid_code)
    in_scope = scope.condition(walk=True)  # the time index leads; the grids only filter
    today = now.astimezone(tz).date()
    monday = today - timedelta(days=today.weekday())
    starts = [
        datetime.combine(monday - timedelta(weeks=weeks - 1 - i), time(), tzinfo=tz) for i in range(weeks)
    ]
    counts: dict[str, list[int]] = {}
    for name, column in (("reported", Hazard.reported_at), ("closed", Hazard.closed_at)):
        bucket = case(*((column < start, i - 1) for i, start in enumerate(starts[1:], start=1)),
                      else_=weeks - 1)
        query = select(bucket, func.count()).where(column >= starts[0], column <= now)
        if in_scope is not None:
            query = query.where(in_scope)
        found = dict((await session.execute(query.group_by(bucket))).tuples().all())
        counts[name] = [int(found.get(i, 0)) for i in range(weeks)]
    return [Week(start, counts["reported"][i], counts["closed"][i]) for i, start in enumerate(starts)]
