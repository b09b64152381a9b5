"""Questions the knowledge base could not answer, and the workers' answers to them.

A resident's unanswered question waits here for a grid worker of the resident's grid. The
worker's answer goes back to the asker, and staff may promote it into the knowledge base,
where it is found like any curated entry from then on.

An answer is one worker's word to one resident; a promoted answer is the bot's word to every
grid, unreviewed. So promoting takes staff over the question's grid, whoever answered and
whatever the transport: a staff member may promote their own answer at once, a worker's
answer is offered to the staff above the grid (`Answered.reviewers`). A question with no
grid was routed to staff (`workers_for`), and only staff answer it. Each person has a few
unanswered questions at a time (`QuestionLimited`), since each one is put to every worker
of their grid.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub import access, audit, notify
from hub.core import Hub
from hub.errors import Conflict, HubError, InvalidInput, NotFound, PermissionDenied
from hub.models import Grid, Person, Role
from knowledge.base import KnowledgeBase
from knowledge.models import PromotedEntry, Question, QuestionState

MAX_ANSWER = 2000
QUESTION_WINDOW = timedelta(days=1)  # open questions asked in this window count against the limit
PROMOTE_REFUSALS = access.Refusals(role="ask.promote_staff_only")


class QuestionLimited(HubError):
    key = "ask.rate_limited"


@dataclass(frozen=True)
class Routed:
    """An open question and the workers who should hear of it."""

    question: Question
    workers: list[Person]


async def file_question(
    session: AsyncSession,
    *,
    asker: Person,
    text: str,
    lang: str,
    chat_id: int | None,
    grid_id: int | None,
    now: datetime,
    limit: int = 5,
) -> Routed:
    """Queue a question for the grid's workers (the asker's grid when asked in private).

    A resident with `limit` questions still open from the last day is refused (QuestionLimited)
    until one is answered or a day has passed; workers and staff are not limited.
    """
    grid_id = grid_id or asker.grid_id
    if not access.has_role(asker, Role.WORKER):
        waiting = await session.scalar(
            select(func.count()).select_from(Question).where(
                Question.asker_id == asker.id, Question.state == QuestionState.OPEN,
                Question.asked_at > now - QUESTION_WINDOW,
            )
        )
        if (waiting or 0) >= limit:
            raise QuestionLimited(limit=limit)
    question = Question(
        asker_id=asker.id, grid_id=grid_id, chat_id=chat_id, text=text.strip()[:MAX_ANSWER],
        lang=lang, state=QuestionState.OPEN, asked_at=now,
    )
    session.add(question)
    await session.flush()
    audit.record(
        session, at=now, actor=asker, entity="question", entity_id=question.id, action="ask",
        after={"grid_id": grid_id},
    )
    return Routed(question, await workers_for(session, grid_id))


async def workers_for(session: AsyncSession, grid_id: int | None) -> list[Person]:
    """Workers of the grid; when it has none, staff above it, so no question goes unheard."""
    if grid_id is None:
        return list(await session.scalars(
            select(Person).where(Person.role.in_([Role.STAFF, Role.ADMIN]), Person.active.is_(True))
        ))
    grid = await session.get(Grid, grid_id)
    if grid is None:
        return []
    own = list(await session.scalars(
        select(Person).where(
            Person.grid_id == grid_id, Person.role == Role.WORKER, Person.active.is_(True)
        )
    ))
    if own:
        return own
    ancestors = grid.path.strip("/").split("/")
    return list(await session.scalars(
        select(Person).join(Grid, Person.grid_id == Grid.id).where(
            Grid.code.in_(ancestors), Person.role.in_([Role.STAFF, Role.WORKER]),
            Person.active.is_(True),
        )
    ))


async def get(session: AsyncSession, question_id: int) -> Question:
    question = await session.get(Question, question_id)
    if question is None:
        raise NotFound("ask.question_unknown", id=question_id)
    return question


async def _require_answerer(session: AsyncSession, actor: Person, question: Question) -> None:
    """A worker over the question's grid; staff for a question without one."""
    minimum = Role.WORKER if question.grid_id is not None else Role.STAFF
    await access.require_at(session, actor, minimum, question.grid_id)


async def _require_promoter(session: AsyncSession, actor: Person, question: Question) -> None:
    grid = await session.get(Grid, question.grid_id) if question.grid_id is not None else None
    await access.require(session, actor, Role.STAFF, grid, refusals=PROMOTE_REFUSALS)


async def may_promote(session: AsyncSession, actor: Person, question: Question) -> bool:
    try:
        await _require_promoter(session, actor, question)
    except PermissionDenied:
        return False
    return True


async def reviewers_for(session: AsyncSession, grid_id: int | None) -> list[Person]:
    """Who may promote answers to this grid's questions: its staff nearest above it (any
    staff for a question without a grid), else the admins."""
    grid = await session.get(Grid, grid_id) if grid_id is not None else None
    staff = select(Person).where(Person.role == Role.STAFF, Person.active.is_(True))
    if grid is not None:
        staff = staff.join(Grid, Person.grid_id == Grid.id).where(
            Grid.code.in_(grid.path.strip("/").split("/"))
        )
    found = list(await session.scalars(staff))
    if found:
        return found
    return list(await session.scalars(
        select(Person).where(Person.role == Role.ADMIN, Person.active.is_(True))
    ))


@dataclass(frozen=True)
class Answered:
    """An answered question and its asker; whether the answerer may promote it themselves,
    and if not, the staff to offer it to for the knowledge base."""

    question: Question
    asker: Person
    promotable: bool
    reviewers: list[Person]


PROMOTE_PREFIX = "qp"  # the promote button's callback data, `qp:<question id>`: never renamed


def promote_buttons(hub: Hub, lang: str, question_id: int) -> notify.Buttons:
    return [[(hub.t(lang, "ask.promote_button"), f"{PROMOTE_PREFIX}:{question_id}")]]


async def answer(
    session: AsyncSession, hub: Hub, *, actor: Person, question_id: int, text: str, now: datetime
) -> Answered:
    """A worker of the question's grid answers it (staff, when it has no grid).

    In the same unit of work the asker is told the answer in private, and the staff who may
    promote a worker's answer are offered it with the promote button, whatever the transport.
    """
    question = await get(session, question_id)
    await _require_answerer(session, actor, question)
    text = text.strip()
    if not text:
        raise InvalidInput("ask.answer_empty")
    if len(text) > MAX_ANSWER:
        raise InvalidInput("ask.answer_too_long", limit=MAX_ANSWER)
    if question.state is QuestionState.ANSWERED:
        raise Conflict("ask.already_answered", id=question.id)
    question.state = QuestionState.ANSWERED
    question.answer = text
    question.answered_by_id = actor.id
    question.answered_at = now
    audit.record(
        session, at=now, actor=actor, entity="question", entity_id=question.id, action="answer",
        before={"state": "open"}, after={"state": "answered"},
    )
    asker = await session.get(Person, question.asker_id)
    assert asker is not None
    if await may_promote(session, actor, question):
        answered = Answered(question, asker, True, [])
    else:
        reviewers = [p for p in await reviewers_for(session, question.grid_id) if p.id != actor.id]
        answered = Answered(question, asker, False, reviewers)
    await _tell_answered(session, hub, answered, actor)
    return answered


async def _tell_answered(session: AsyncSession, hub: Hub, answered: Answered, answerer: Person) -> None:
    question = answered.question
    await notify.tell(
        session, hub, answered.asker, "ask.answered", question=question.text, answer=question.answer,
        ref=("question", question.id), dedupe_key=f"question:{question.id}:answer",
    )
    for reviewer in answered.reviewers:
        await notify.to_person(
            session, hub, reviewer,
            lambda lang: notify.Message(
                hub.t(lang, "ask.for_review", id=question.id, question=question.text,
                      answer=question.answer, answerer=answerer.name),
                promote_buttons(hub, lang, question.id),
            ),
            ref=("question", question.id), dedupe_key=f"question:{question.id}:review:{reviewer.id}",
        )


async def promote(
    session: AsyncSession, *, actor: Person, question_id: int, topic: str, now: datetime
) -> PromotedEntry:
    """Turn an answered question into a knowledge entry: staff over the question's grid only."""
    question = await get(session, question_id)
    await _require_promoter(session, actor, question)
    if question.state is not QuestionState.ANSWERED or not question.answer:
        raise Conflict("ask.not_answered", id=question.id)
    if question.promoted_entry_id:
        raise Conflict("ask.already_promoted", id=question.id)
    entry = PromotedEntry(
        id=f"promoted-{question.id}", question_id=question.id, topic=topic,
        question=question.text, answer=question.answer, lang=question.lang, created_at=now,
    )
    session.add(entry)
    question.promoted_entry_id = entry.id
    audit.record(
        session, at=now, actor=actor, entity="question", entity_id=question.id, action="promote",
        after={"entry": entry.id},
    )
    return entry


async def open_questions(session: AsyncSession, actor: Person) -> list[Question]:
    scope = await access.scope_path(session, actor)
    if scope is None or not access.has_role(actor, Role.WORKER):
        return []
    query = (
        select(Question)
        .outerjoin(Grid, Question.grid_id == Grid.id)
        .where(Question.state == QuestionState.OPEN)
        .order_by(Question.asked_at)
    )
    if scope:
        query = query.where(Grid.path.startswith(scope))
    return list(await session.scalars(query))


async def promoted_entries(session: AsyncSession) -> list[PromotedEntry]:
    return list(await session.scalars(select(PromotedEntry).order_by(PromotedEntry.created_at)))


KNOWLEDGE = "knowledge"


async def open_knowledge(hub: Any) -> KnowledgeBase:
    """Load the knowledge base (off the event loop) plus the answers promoted into it.

    Loaded once per process and kept on the hub; searching it is then a few milliseconds.
    """
    kb = hub.services.get(KNOWLEDGE)
    if kb is None:
        kb = await asyncio.to_thread(KnowledgeBase.load)
        async with hub.db.session() as session:
            for promoted in await promoted_entries(session):
                kb.add_promoted(promoted.id, promoted.topic, promoted.question, promoted.answer, promoted.lang)
        hub.services[KNOWLEDGE] = kb
    return kb
