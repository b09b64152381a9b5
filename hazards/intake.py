"""Filing a report: a resident's draft checked, rate-limited, asked about and written.

问题清单 → 整改台账 → 逐一销号 begins here: a report becomes a ticket in its grid, with its
deadline and an audit row (the first line of its timeline); from then on `hazards.lifecycle`
changes it. A draft that may repeat an open report is not filed at once: the reporter is asked
"is this the same as #N?" first (hazards.repeats keeps the question open for the answer); an
open question counts against the hourly limit as a report would.

Services never send anything: they return `Notice`s (hazards.notices) saying who must be told
what, so the same call serves the chat, the dashboard and the CLI.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hazards import categories, photos, rates, repeats
from hazards.duplicates import candidates, load, pick, root
from hazards.lifecycle import deadline_for
from hazards.models import AUDIT_ENTITY, Hazard, HazardState, audit_state
from hazards.notices import Notice, cards, hazard_params, language
from hazards.rates import RATE_WINDOW as RATE_WINDOW
from hazards.rates import RateLimited as RateLimited
from hazards.rates import check_rate as check_rate
from hub import audit, bindings
from hub.bindings import GridFacts
from hub.errors import HubError, InvalidInput
from hub.models import Person

MAX_TEXT = 1000
MAX_ADDRESS = 200
LOCATE_WINDOW = timedelta(minutes=10)  # "a location sent right after" a report belongs to it


@dataclass(frozen=True)
class Draft:
    """What a reporter gave: from one message, or gathered by the guided flow.

    `urgent` is the answer to the category's "is anyone in danger right now?" question;
    `same_as` is the ticket the reporter agreed this is the same as.
    """

    text: str = ""
    category: str | None = None
    photo: str | None = None
    lat: float | None = None
    lon: float | None = None
    address: str | None = None
    named: bool = False
    urgent: bool = False
    source_chat_id: int | None = None
    same_as: int | None = None


@dataclass(frozen=True)
class Filed:
    hazard: Hazard
    receipt: Notice  # to the reporter at once; the bot may reply in place instead
    notices: list[Notice] = field(default_factory=list)


@dataclass(frozen=True)
class Similar:
    """Nothing filed yet: the draft may repeat open reports, so the reporter is asked first.

    `draft` is the checked draft; file it again with `same_as` set, or with the offer off.
    `params` holds each candidate's facts for the "hazard.similar" question.
    """

    draft: Draft
    candidates: list[Hazard]
    params: list[dict[str, Any]]
    question: int | None = None  # the reporter's number for it, to answer with; None without Telegram


@dataclass(frozen=True)
class Answered:
    """A reporter's answer to their open question: the draft to file (with `same_as` when they
    said it is the same problem), in the grid it was asked for, without asking again."""

    draft: Draft
    grid_id: int



# --- checking what a reporter sent -------------------------------------------------------


def clean_text(text: str | None, *, has_photo: bool = False) -> str:
    """The report's text, trimmed; refused when too long or when it says nothing in words.

    A photo speaks for itself, so with one the text may be empty or emoji only.
    """
    cleaned = unicodedata.normalize("NFC", text or "").strip()
    if len(cleaned) > MAX_TEXT:
        raise InvalidInput("hazard.text_too_long", limit=MAX_TEXT, length=len(cleaned))
    if not has_photo and not any(ch.isalpha() for ch in cleaned):
        raise InvalidInput("hazard.no_text")
    return cleaned


def _check_location(lat: float | None, lon: float | None) -> None:
    if (lat is None) != (lon is None):
        raise InvalidInput("hazard.bad_location")
    if lat is None or lon is None:
        return
    if not (math.isfinite(lat) and math.isfinite(lon)) or abs(lat) > 90 or abs(lon) > 180:
        raise InvalidInput("hazard.bad_location")


def check_draft(draft: Draft) -> Draft:
    """Validate a whole draft before anything is written; returns it cleaned."""
    if draft.photo is not None and not photos.is_photo_hash(draft.photo):
        raise InvalidInput("hazard.photo_unknown")
    text = clean_text(draft.text, has_photo=draft.photo is not None)
    address = (draft.address or "").strip() or None
    if address is not None and len(address) > MAX_ADDRESS:
        raise InvalidInput("hazard.address_too_long", limit=MAX_ADDRESS)
    _check_location(draft.lat, draft.lon)
    category = draft.category or categories.suggest_category(text)
    categories.get(category)
    return replace(draft, text=text, address=address, category=category)


# --- reporting ---------------------------------------------------------------------------


async def _grid_for(session: AsyncSession, reporter: Person, grid_id: int | None) -> GridFacts:
    """The chat's grid in a group, the reporter's own in private."""
    grid_id = grid_id or reporter.grid_id
    grid = await bindings.grid(session, grid_id) if grid_id else None
    if grid is None:
        raise InvalidInput("hazard.no_grid")
    return grid


@dataclass(frozen=True)
class Submission:
    """One report as a chat sends it; `offer_similar` off files it without asking."""

    reporter: Person
    draft: Draft
    grid_id: int | None  # the chat's grid in a group; None in private, for the reporter's own
    offer_similar: bool = True


@dataclass(frozen=True)
class _Checked:
    submission: Submission
    draft: Draft
    grid: GridFacts

    @property
    def asks(self) -> bool:
        return self.submission.offer_similar and self.draft.same_as is None


async def report(
    session: AsyncSession, reporter: Person, draft: Draft, *, grid_id: int | None, now: datetime,
    limit_per_hour: int = 10,
) -> Filed:
    """File a report without asking whether it repeats another (the CLI, a known duplicate)."""
    filed = await submit(
        session, reporter, draft, grid_id=grid_id, now=now, limit_per_hour=limit_per_hour,
        offer_similar=False,
    )
    assert isinstance(filed, Filed)
    return filed


async def submit(
    session: AsyncSession,
    reporter: Person,
    draft: Draft,
    *,
    grid_id: int | None,
    now: datetime,
    limit_per_hour: int = 10,
    offer_similar: bool = True,
) -> Filed | Similar:
    """A report as a chat sends it: filed at once, unless it may repeat an open report.

    Then nothing is written and the candidates come back, for the reporter to answer "is this
    the same as #N?"; their answer comes back as `same_as`, or with `offer_similar` off.
    """
    (outcome,) = await submit_many(
        session, [Submission(reporter, draft, grid_id, offer_similar)], now=now,
        limit_per_hour=limit_per_hour,
    )
    if isinstance(outcome, HubError):
        raise outcome
    return outcome


async def submit_many(
    session: AsyncSession, submissions: list[Submission], *, now: datetime, limit_per_hour: int = 10
) -> list[Filed | Similar | HubError]:
    """Several reports in one unit of work, each with the outcome it would have had alone.

    A refusal (bad text, no grid, the rate limit) is that report's outcome and writes nothing;
    the others go on. Reports are taken in order: one that may repeat another of the same batch
    waits for a later round, after the earlier is written, so it is asked "is this the same as
    #N?" about it just as if it had come a moment later. Each round reads the rate counts and
    the candidates of all its reports in two statements and writes all its reports in one
    flush, which is what lets a busy hour's reports cost less than one unit of work each.
    """
    outcomes: list[Filed | Similar | HubError | None] = [None] * len(submissions)
    waiting: list[tuple[int, _Checked]] = []
    for i, submission in enumerate(submissions):
        try:
            draft = check_draft(submission.draft)
            grid = await _grid_for(session, submission.reporter, submission.grid_id)
        except HubError as refusal:
            outcomes[i] = refusal
        else:
            waiting.append((i, _Checked(submission, draft, grid)))
    while waiting:
        waiting = await _round(session, waiting, outcomes, now, limit_per_hour)
    assert all(outcome is not None for outcome in outcomes)
    return outcomes  # type: ignore[return-value]


async def _round(
    session: AsyncSession,
    waiting: list[tuple[int, _Checked]],
    outcomes: list[Filed | Similar | HubError | None],
    now: datetime,
    limit_per_hour: int,
) -> list[tuple[int, _Checked]]:
    """Decide and write what can be decided now; return the reports left for the next round.

    A report accepted or asked about in this round counts against its reporter's limit for
    the reports after it, before either is written.
    """
    limited = {c.submission.reporter.id: c.submission.reporter for _, c in waiting if rates.limited(c.submission.reporter)}
    counts = await rates.counts(session, limited.values(), now)
    rows = await candidates(session, {c.grid.id for _, c in waiting if c.asks}, now)
    accepted: list[tuple[int, _Checked]] = []
    asked: list[tuple[int, _Checked, Similar]] = []
    later: list[tuple[int, _Checked]] = []
    for i, checked in waiting:
        reporter, draft, grid = checked.submission.reporter, checked.draft, checked.grid
        if checked.asks and _repeats_accepted(checked, accepted):
            later.append((i, checked))
            continue
        if reporter.id in limited:
            unwritten = sum(1 for _, a in accepted if a.submission.reporter.id == reporter.id)
            unwritten += sum(1 for _, a, _ in asked if a.submission.reporter.id == reporter.id)
            if counts.get(reporter.id, 0) + unwritten >= limit_per_hour:
                outcomes[i] = await rates.refusal(session, reporter, now, limit_per_hour, unwritten)
                continue
        if checked.asks:
            ids = pick(rows[grid.id], category=draft.category, text=draft.text, lat=draft.lat,
                       lon=draft.lon, limit=3)
            found = await load(session, ids)
            if found:
                asked.append((i, checked, Similar(draft, found, [hazard_params(h, grid, now) for h in found])))
                continue
        accepted.append((i, checked))
    for i, similar in await _ask(session, asked, now):
        outcomes[i] = similar
    for (i, _), filed in zip(accepted, await _file(session, [c for _, c in accepted], now), strict=True):
        outcomes[i] = filed
    return later


async def _ask(
    session: AsyncSession, asked: list[tuple[int, _Checked, Similar]], now: datetime
) -> list[tuple[int, Similar]]:
    """Keep each question open for its reporter's answer (hazards.repeats), with its number."""
    answerable = [(i, c, similar) for i, c, similar in asked if c.submission.reporter.telegram_id is not None]
    numbers = await repeats.ask(session, [
        repeats.Ask(c.submission.reporter.telegram_id, asdict(similar.draft), c.grid.id,  # type: ignore[arg-type]
                    [h.id for h in similar.candidates])
        for _, c, similar in answerable
    ], now=now)
    numbered = {i: replace(similar, question=n) for (i, _, similar), n in zip(answerable, numbers, strict=True)}
    return [(i, numbered.get(i, similar)) for i, _, similar in asked]


async def answer(
    session: AsyncSession, reporter: Person, question: int, same_as: int | None, *, now: datetime
) -> Answered:
    """The reporter's answer to their question `question`: `same_as` one of the reports it
    offered, or None for a report of its own. Refused, with nothing changed, for a question
    that is not their open one or a report it did not offer (hazards.repeats.answer)."""
    draft, grid_id = await repeats.answer(session, reporter.telegram_id, question, same_as, now=now)
    return Answered(replace(Draft(**draft), same_as=same_as), grid_id)


def _repeats_accepted(checked: _Checked, accepted: list[tuple[int, _Checked]]) -> bool:
    """Whether a report may repeat one accepted earlier in the same round (same grid)."""
    earlier = [
        (i, a.draft.category or "", a.draft.text, a.draft.lat, a.draft.lon, True)
        for i, a in accepted
        if a.grid.id == checked.grid.id
    ]
    draft = checked.draft
    return bool(earlier) and bool(
        pick(earlier, category=draft.category, text=draft.text, lat=draft.lat, lon=draft.lon, limit=1)
    )


async def _file(session: AsyncSession, batch: list[_Checked], now: datetime) -> list[Filed]:
    """Write checked drafts: the hazards in one flush, their audit rows in one statement, then
    receipts and cards.

    The flush is one INSERT on PostgreSQL; on SQLite, which cannot return new ids in the order
    given, the ORM sends one per report.
    """
    if not batch:
        return []
    originals: list[Hazard | None] = []
    for checked in batch:
        original = await root(session, checked.draft.same_as) if checked.draft.same_as else None
        if original is not None and (original.grid_id != checked.grid.id or not original.state.is_open):
            original = None  # closed meanwhile: file it as a report of its own
        originals.append(original)
    made = [_new_hazard(c, original, now) for c, original in zip(batch, originals, strict=True)]
    session.add_all(made)
    await session.flush()
    await audit.record_many(session, [_audit(c, h) for c, h in zip(batch, made, strict=True)], at=now)
    filed = []
    for checked, original, hazard in zip(batch, originals, made, strict=True):
        filed.append(await _filed(session, checked, original, hazard, now))
    return filed


def _audit(checked: _Checked, hazard: Hazard) -> audit.Entry:
    """The audit row of a written report."""
    draft = checked.draft
    after = {
        **audit_state(hazard),
        "grid": checked.grid.code,
        "category": hazard.category,
        "urgent": draft.urgent,
        "named": draft.named,
        "photo": draft.photo,
        "located": draft.lat is not None,
    }
    return audit.Entry(checked.submission.reporter, AUDIT_ENTITY, hazard.id, "report", after=after)


def _new_hazard(checked: _Checked, original: Hazard | None, now: datetime) -> Hazard:
    draft, grid = checked.draft, checked.grid
    assert draft.category is not None
    category = categories.get(draft.category)
    return Hazard(
        grid_id=grid.id,
        category=category.id,
        text=draft.text,
        address=draft.address,
        lat=draft.lat,
        lon=draft.lon,
        photo=draft.photo,
        reporter_id=checked.submission.reporter.id,
        reporter_named=draft.named,
        urgent=draft.urgent,
        state=HazardState.DUPLICATE if original else HazardState.REPORTED,
        duplicate_of_id=original.id if original else None,
        source_chat_id=draft.source_chat_id,
        reported_at=now,
        deadline_at=deadline_for(category, now, draft.urgent),
        closed_at=now if original else None,
        reopened_count=0,
        updated_at=now,
    )


async def _filed(
    session: AsyncSession, checked: _Checked, original: Hazard | None, hazard: Hazard, now: datetime
) -> Filed:
    """A written report's receipt for the reporter, and its cards."""
    reporter, grid = checked.submission.reporter, checked.grid
    category = categories.get(hazard.category)
    params = {
        **hazard_params(hazard, grid, now),
        "emergency_number": category.emergency_number,
        "original": original.id if original else None,
    }
    receipt = Notice(
        "hazard.filed",
        params,
        hazard.id,
        telegram_id=reporter.telegram_id,
        lang=language(reporter),
    )
    notices = [] if original else await cards(session, hazard, grid, now)
    return Filed(hazard, receipt, notices)


async def attach_location(
    session: AsyncSession, reporter: Person, lat: float, lon: float, *, now: datetime
) -> Hazard:
    """A location sent right after a report belongs to the reporter's latest one.

    Only within LOCATE_WINDOW and only to a report not yet located: a location shared later
    is not silently taken as a correction.
    """
    _check_location(lat, lon)
    hazard = await session.scalar(
        select(Hazard)
        .where(Hazard.reporter_id == reporter.id, Hazard.reported_at >= now - LOCATE_WINDOW)
        .order_by(Hazard.reported_at.desc(), Hazard.id.desc())
        .limit(1)
    )
    if hazard is None or hazard.lat is not None:
        raise InvalidInput("hazard.no_pending_report")
    hazard.lat, hazard.lon = lat, lon
    hazard.updated_at = now
    await audit.change(session, hazard, at=now, actor=reporter, entity=AUDIT_ENTITY,
                       action="locate", before={"lat": None, "lon": None}, after={"lat": lat, "lon": lon})
    return hazard
