"""Questions the knowledge base could not answer, and the workers' answers to them.

A resident's unanswered question waits here for a grid worker of the resident's grid. The
worker's answer goes back to the asker, and staff may promote it into the knowledge base,
where it is found like any curated entry from then on.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub import access, audit
from hub.errors import Conflict, InvalidInput, NotFound
from hub.models import Grid, Person, Role
from knowledge.base import KnowledgeBase
from knowledge.models import PromotedEntry, Question, QuestionState

MAX_ANSWER = 2000


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
) -> Routed:
    """Queue a question for the grid's workers (the asker's grid when asked in private)."""
    grid_id = grid_id or asker.grid_id
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


async def _require_scope(session: AsyncSession, actor: Person, question: Question) -> None:
    await access.require_at(session, actor, Role.WORKER, question.grid_id)


async def answer(
    session: AsyncSession, *, actor: Person, question_id: int, text: str, now: datetime
) -> tuple[Question, Person]:
    """A worker of the question's grid answers it; returns the question and its asker."""
    question = await get(session, question_id)
    await _require_scope(session, actor, question)
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
    return question, asker


async def promote(
    session: AsyncSession, *, actor: Person, question_id: int, topic: str, now: datetime
) -> PromotedEntry:
    """Turn an answered question into a knowledge entry (staff, or a worker of its grid)."""
    question = await get(session, question_id)
    await _require_scope(session, actor, question)
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
