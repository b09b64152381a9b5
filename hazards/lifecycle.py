"""The one place a hazard's state changes, after it is filed: 问题清单 → 整改台账 → 逐一销号.

A grid worker accepts a ticket, rectifies it with a photo as evidence, someone verifies it and
it is closed — or it is rejected, merged into the report it duplicates, or reopened; its
reporter's answer to "is it fixed?" confirms the closing or reopens it. Every change writes an
audit row (the timeline).

Services never send anything: they return `Notice`s (hazards.notices) saying who must be told
what, so the same call serves the chat, the dashboard and the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hazards import categories, photos
from hazards.categories import Category
from hazards.duplicates import root
from hazards.models import AUDIT_ENTITY, TRANSITIONS, Action, Hazard, HazardState, audit_state
from hazards.notices import (
    Notice,
    cards,
    grid_of,
    hazard_params,
    private,
    recipients,
    tell_reporters,
    workers,
)
from hazards.views import get
from hub import access, audit
from hub.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from hub.models import Grid, Person, Role

MAX_REASON = 200
URGENT_DEADLINE = timedelta(hours=4)
# Who may act on a hazard: a worker of its grid, or staff above it.
REFUSALS = access.Refusals(role="hazard.refused_not_worker", scope="hazard.refused_out_of_scope")


@dataclass(frozen=True)
class Outcome:
    hazard: Hazard
    notices: list[Notice] = field(default_factory=list)


def deadline_for(category: Category, start: datetime, urgent: bool) -> datetime:
    """When rectification is due: the category's period, shortened when someone is in danger."""
    period = category.deadline
    return start + (min(period, URGENT_DEADLINE) if urgent else period)


def parse_action(value: str | Action) -> Action:
    try:
        return Action(value)
    except ValueError:
        raise InvalidInput("hazard.unknown_action", action=str(value)[:32]) from None


async def _allowed(
    session: AsyncSession, actor: Person, hazard_id: int, action: Action, *, lock: bool
) -> tuple[Hazard, Grid, HazardState]:
    hazard = await get(session, hazard_id, lock=lock)
    grid = await grid_of(session, hazard)
    await access.require(session, actor, Role.WORKER, grid, refusals=REFUSALS, id=hazard.id)
    target = TRANSITIONS.get((hazard.state, action))
    if target is None:
        raise Conflict(f"hazard.illegal.{hazard.state.value}", id=hazard.id, action=action.value)
    return hazard, grid, target


async def check_act(
    session: AsyncSession, actor: Person, hazard_id: int, action: str | Action
) -> Hazard:
    """Whether `act` would be allowed now, changing nothing.

    `fixed` and `dup` need a second answer (a photo, a ticket number): a chat asks for it only
    after this says yes, so nobody is asked for a photo they may not give.
    """
    hazard, _, _ = await _allowed(session, actor, hazard_id, parse_action(action), lock=False)
    return hazard


def _reopen(hazard: Hazard, worker: Person | None, now: datetime) -> None:
    """Back to accepted with a fresh rectification period (and fresh reminders).

    `worker` (one `act` let reopen it) takes it on when nobody has; a reporter's "not fixed"
    leaves the assignee as it was.
    """
    hazard.state = HazardState.ACCEPTED
    hazard.reopened_count += 1
    hazard.deadline_at = deadline_for(categories.get_or_other(hazard.category), now, hazard.urgent)
    hazard.accepted_at = hazard.accepted_at or now
    if hazard.assignee_id is None and worker is not None:
        hazard.assignee_id = worker.id
    hazard.rectified_at = None
    hazard.closed_at = None
    hazard.evidence_photo = None
    hazard.verifier_id = None
    hazard.duplicate_of_id = None


async def act(
    session: AsyncSession,
    actor: Person,
    hazard_id: int,
    action: str | Action,
    *,
    now: datetime,
    photo: str | None = None,
    duplicate_of: int | None = None,
    reason: str | None = None,
) -> Outcome:
    """Apply a card button. `fixed` needs `photo` (a stored photo's hash), `dup` needs
    `duplicate_of`; `reason` is an optional note for `reject` and `reopen`.
    """
    action = parse_action(action)
    hazard, grid, target = await _allowed(session, actor, hazard_id, action, lock=True)
    note = (reason or "").strip() or None
    if note is not None and len(note) > MAX_REASON:
        raise InvalidInput("hazard.reason_too_long", limit=MAX_REASON)
    before = audit_state(hazard)
    extra: dict[str, Any] = {}
    original: Hazard | None = None
    if action is Action.ACCEPT:
        hazard.assignee_id = actor.id
        hazard.accepted_at = now
    elif action is Action.REJECT:
        hazard.closed_at = now
    elif action is Action.DUP:
        original = await _original_for(session, actor, hazard, duplicate_of)
        hazard.duplicate_of_id = original.id
        hazard.closed_at = now
        extra["original"] = original.id
    elif action is Action.FIXED:
        if not photos.is_photo_hash(photo):
            raise InvalidInput("hazard.needs_photo", id=hazard.id)
        hazard.fixer_id = actor.id
        hazard.evidence_photo = photo
        hazard.rectified_at = now
        extra["photo"] = photo
    elif action is Action.VERIFY:
        if hazard.fixer_id == actor.id and len(await workers(session, hazard.grid_id)) > 1:
            raise PermissionDenied("hazard.verify_needs_other", id=hazard.id)
        hazard.verifier_id = actor.id
        hazard.closed_at = now
    elif action is Action.REOPEN:
        _reopen(hazard, actor, now)
    hazard.state = target
    hazard.updated_at = now
    if note is not None:
        extra["reason"] = note
    await audit.change(session, hazard, at=now, actor=actor, entity=AUDIT_ENTITY,
                       action=action.value, before=before, after={**audit_state(hazard), **extra})
    params = {**hazard_params(hazard, grid, now), "reason": note, "original": extra.get("original")}
    notices = await tell_reporters(session, hazard, f"hazard.notice.{action.value}", params)
    if original is not None:
        told = recipients(notices)
        merged = {
            **params,
            **hazard_params(original, await grid_of(session, original), now),
            "duplicate": hazard.id,
        }
        notices += [
            n
            for n in await tell_reporters(session, original, "hazard.notice.dup_original", merged)
            if n.telegram_id not in told
        ]
        await _repoint_followers(session, hazard, original)
    notices += await cards(session, hazard, grid, now)
    return Outcome(hazard, notices)


async def _original_for(
    session: AsyncSession, actor: Person, hazard: Hazard, duplicate_of: int | None
) -> Hazard:
    if duplicate_of is None:
        raise InvalidInput("hazard.dup_needs_original", id=hazard.id)
    original = await root(session, duplicate_of)
    if original is None:
        raise NotFound("hazard.not_found", id=duplicate_of)
    if original.id == hazard.id:
        raise InvalidInput("hazard.dup_self", id=hazard.id)
    if original.state is HazardState.REJECTED:
        raise Conflict("hazard.dup_rejected", id=original.id)
    grid = await grid_of(session, original)
    await access.require(session, actor, Role.WORKER, grid, refusals=REFUSALS, id=original.id)
    return original


async def _repoint_followers(session: AsyncSession, hazard: Hazard, original: Hazard) -> None:
    """Reports merged into `hazard` now follow its original, so chains stay one link long."""
    followers = await session.scalars(select(Hazard).where(Hazard.duplicate_of_id == hazard.id))
    for follower in followers:
        follower.duplicate_of_id = original.id


async def answer_followup(
    session: AsyncSession, reporter: Person, hazard_id: int, fixed: bool, *, now: datetime
) -> Outcome:
    """The reporter's answer to "is it fixed?"; "no" reopens the hazard for the grid."""
    hazard = await get(session, hazard_id, lock=True)
    if hazard.reporter_id != reporter.id:
        raise PermissionDenied("hazard.followup_not_reporter", id=hazard.id)
    if hazard.state is not HazardState.CLOSED:
        raise Conflict("hazard.followup_not_closed", id=hazard.id, state=hazard.state.value)
    grid = await grid_of(session, hazard)
    before = audit_state(hazard)
    if fixed:
        await audit.change(session, hazard, at=now, actor=reporter, entity=AUDIT_ENTITY,
                           action="confirm", before=before, after=before)
        params = hazard_params(hazard, grid, now)
        thanks = private(reporter, hazard, "hazard.followup_thanks", params)
        return Outcome(hazard, [thanks] if thanks else [])
    _reopen(hazard, None, now)
    hazard.updated_at = now
    await audit.change(session, hazard, at=now, actor=reporter, entity=AUDIT_ENTITY,
                       action="not_fixed", before=before, after=audit_state(hazard))
    params = hazard_params(hazard, grid, now)
    notices = await tell_reporters(session, hazard, "hazard.followup_reopened", params)
    assignee = await session.get(Person, hazard.assignee_id) if hazard.assignee_id else None
    if assignee is not None:
        told = private(assignee, hazard, "hazard.notice.reopened_by_reporter", params)
        notices += [told] if told else []
    notices += await cards(session, hazard, grid, now)
    return Outcome(hazard, notices)
