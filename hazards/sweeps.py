"""The scheduler's hazard jobs: overdue reminders, escalation, and the "is it fixed?" follow-up.

Each alert goes out exactly once per hazard and level, even when two scheduler runs race
(a failover, a slow job overlapping the next): the alert row is inserted first and its unique
key picks the one run that may tell anyone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hazards import categories
from hazards.categories import Category
from hazards.models import (
    AUDIT_ENTITY,
    OVERDUE_STATES,
    AlertKind,
    Hazard,
    HazardAlert,
    HazardState,
)
from hazards.notices import (
    Notice,
    NoticeKind,
    grid_of,
    hazard_params,
    private,
    staff_above,
    workers,
)
from hub import audit
from hub.models import Person

ESCALATION_SHARE = 0.5
MIN_ESCALATION_GRACE = timedelta(hours=12)
FOLLOWUP_AFTER = timedelta(days=3)
SCHEDULER = "scheduler"


def alert_level(kind: AlertKind, round_: int) -> int:
    """Levels count on across rectification rounds (a round ends when a hazard is reopened):
    reminder 1 and escalation 2 in the first round, 3 and 4 in the next, …; the follow-up is
    asked once per closing. So a reopened hazard is reminded again for its new deadline.
    """
    if kind is AlertKind.FOLLOWUP:
        return round_ + 1
    return 2 * round_ + (1 if kind is AlertKind.REMINDER else 2)


def escalation_grace(category: Category) -> timedelta:
    """How long past the deadline before the grids above hear: half the period, at least 12 h."""
    return max(category.deadline * ESCALATION_SHARE, MIN_ESCALATION_GRACE)


async def _claim(
    session: AsyncSession, hazard: Hazard, kind: AlertKind, level: int, now: datetime
) -> bool:
    """Record the alert before telling anyone; False if another run already did.

    The savepoint keeps the loser's unit of work usable for the hazards after this one.
    """
    try:
        async with session.begin_nested():
            session.add(HazardAlert(hazard_id=hazard.id, kind=kind, level=level, sent_at=now))
            await session.flush()
    except IntegrityError:
        return False
    return True


async def _sent(session: AsyncSession, ids: Sequence[int]) -> set[tuple[int, AlertKind, int]]:
    if not ids:
        return set()
    rows = await session.execute(
        select(HazardAlert.hazard_id, HazardAlert.kind, HazardAlert.level).where(
            HazardAlert.hazard_id.in_(ids)
        )
    )
    return {(h, k, lv) for h, k, lv in rows.tuples()}


async def overdue_sweep(session: AsyncSession, now: datetime) -> list[Notice]:
    """Remind, then escalate, once each per hazard and rectification round.

    Past the deadline the assignee is reminded (the grid's workers while nobody has accepted
    it); past the deadline plus `escalation_grace` the staff of the grids above are told.
    """
    escalated = exists().where(
        HazardAlert.hazard_id == Hazard.id,
        HazardAlert.kind == AlertKind.ESCALATION,
        HazardAlert.level == Hazard.reopened_count * 2 + 2,
    )
    query = (
        select(Hazard)
        .where(Hazard.state.in_(sorted(OVERDUE_STATES)), Hazard.deadline_at < now, ~escalated)
        .order_by(Hazard.id)
    )
    due = list(await session.scalars(query))
    sent = await _sent(session, [h.id for h in due])
    notices: list[Notice] = []
    for hazard in due:
        grace = escalation_grace(categories.get_or_other(hazard.category))
        for kind in (AlertKind.REMINDER, AlertKind.ESCALATION):
            if kind is AlertKind.ESCALATION and now <= hazard.deadline_at + grace:
                continue
            level = alert_level(kind, hazard.reopened_count)
            if (hazard.id, kind, level) in sent:
                continue
            if await _claim(session, hazard, kind, level, now):
                notices += await _alert(session, hazard, kind, level, now)
    return notices


async def _alert(
    session: AsyncSession, hazard: Hazard, kind: AlertKind, level: int, now: datetime
) -> list[Notice]:
    grid = await grid_of(session, hazard)
    assignee = await session.get(Person, hazard.assignee_id) if hazard.assignee_id else None
    if kind is AlertKind.ESCALATION:
        people = await staff_above(session, grid)
    elif assignee is not None and assignee.active:
        people = [assignee]
    else:
        people = await workers(session, grid.id) or await staff_above(session, grid)
    params = {
        **hazard_params(hazard, grid, now),
        "overdue_hours": max(1, math.floor((now - hazard.deadline_at) / timedelta(hours=1))),
        "assignee": assignee.name if assignee is not None else None,
    }
    await audit.change(session, hazard, at=now, actor=SCHEDULER, entity=AUDIT_ENTITY,
                       action=kind.value, after={"level": level, "to": [p.id for p in people]})
    notices = [private(p, hazard, f"hazard.{kind.value}", params) for p in people]
    return [n for n in notices if n is not None]


async def followup_sweep(session: AsyncSession, now: datetime) -> list[Notice]:
    """Three days after closing, ask the reporter once whether it really is fixed.

    The answer comes back through `hazards.lifecycle.answer_followup`.
    """
    asked = exists().where(
        HazardAlert.hazard_id == Hazard.id,
        HazardAlert.kind == AlertKind.FOLLOWUP,
        HazardAlert.level == Hazard.reopened_count + 1,
    )
    query = (
        select(Hazard)
        .where(
            Hazard.state == HazardState.CLOSED,
            Hazard.closed_at <= now - FOLLOWUP_AFTER,
            ~asked,
        )
        .order_by(Hazard.id)
    )
    notices: list[Notice] = []
    for hazard in list(await session.scalars(query)):
        level = alert_level(AlertKind.FOLLOWUP, hazard.reopened_count)
        if not await _claim(session, hazard, AlertKind.FOLLOWUP, level, now):
            continue
        await audit.change(session, hazard, at=now, actor=SCHEDULER, entity=AUDIT_ENTITY,
                           action="followup", after={"level": level})
        reporter = await session.get(Person, hazard.reporter_id) if hazard.reporter_id else None
        if reporter is None:
            continue
        params = hazard_params(hazard, await grid_of(session, hazard), now)
        notice = private(
            reporter, hazard, "hazard.followup", params, NoticeKind.FOLLOWUP, ("yes", "no")
        )
        if notice is not None:
            notices.append(notice)
    return notices
