"""Questions the knowledge base could not answer: answer them, and (staff) promote an answer
into the knowledge base.

knowledge.questions decides who may answer and who may promote; the asker hears the answer in
a private chat and the staff who may promote a worker's answer are offered it, through
hub.notify in the same unit of work, as when the answer is given with the bot's /answer.
"""

from __future__ import annotations

from aiohttp import web

from hub import notify
from knowledge import questions
from web.dashboard.pages import Act, acting, render

PROMOTE_PREFIX = "qp"  # the promote button's callback data, `qp:<question id>` (bot/ask.py)
TOPIC = "community"


def _id(request: web.Request) -> int:
    value = request.match_info["id"]
    if not value.isdigit() or len(value) > 12:
        raise web.HTTPNotFound()
    return int(value)


async def knowledge_page(request: web.Request) -> web.StreamResponse:
    async with acting(request) as act:
        waiting = await questions.open_questions(act.db, act.person)
    return await render(request, "knowledge.html", {"active": "knowledge", "questions": waiting})


async def _tell(act: Act, answered: questions.Answered) -> None:
    question, hub = answered.question, act.hub
    await notify.tell(
        act.db, hub, answered.asker, "ask.answered", question=question.text, answer=question.answer,
        ref=("question", question.id), dedupe_key=f"question:{question.id}:answer",
    )
    for reviewer in answered.reviewers:
        await notify.to_person(
            act.db, hub, reviewer,
            lambda lang: notify.Message(
                hub.t(lang, "ask.for_review", id=question.id, question=question.text,
                      answer=question.answer, answerer=act.person.name),
                [[(hub.t(lang, "ask.promote_button"), f"{PROMOTE_PREFIX}:{question.id}")]],
            ),
            ref=("question", question.id), dedupe_key=f"question:{question.id}:review:{reviewer.id}",
        )


async def answer(request: web.Request) -> web.StreamResponse:
    question_id = _id(request)
    form = await request.post()
    async with acting(request) as act:
        answered = await questions.answer(act.db, actor=act.person, question_id=question_id,
                                          text=str(form.get("answer", "")), now=act.now())
        await _tell(act, answered)
        if answered.promotable:
            await act.flash(act.t("ask.answer_sent", id=question_id))
            raise web.HTTPSeeOther(f"/knowledge/{question_id}")
        await act.flash(act.t("ask.answer_sent_to_asker", id=question_id))
        raise web.HTTPSeeOther("/knowledge")


async def question_page(request: web.Request) -> web.StreamResponse:
    """An answered question for staff who may promote it into the knowledge base."""
    question_id = _id(request)
    async with acting(request) as act:
        question = await questions.get(act.db, question_id)
        if not await questions.may_promote(act.db, act.person, question):
            raise web.HTTPNotFound()
    return await render(request, "question.html", {"active": "knowledge", "question": question})


async def promote(request: web.Request) -> web.StreamResponse:
    question_id = _id(request)
    async with acting(request) as act:
        entry = await questions.promote(act.db, actor=act.person, question_id=question_id, topic=TOPIC,
                                        now=act.now())
        await act.flash(act.t("ask.promoted", id=question_id))
    knowledge = act.hub.services.get(questions.KNOWLEDGE)
    if knowledge is not None:  # this process answers questions too: it knows the answer at once
        knowledge.add_promoted(entry.id, entry.topic, entry.question, entry.answer, entry.lang)
    raise web.HTTPSeeOther("/knowledge")
