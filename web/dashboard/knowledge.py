"""Questions the knowledge base could not answer: answer them, and (staff) promote an answer
into the knowledge base.

knowledge.questions decides who may answer and who may promote, and tells the asker and the
staff who may promote a worker's answer, as it does for the bot's /answer.
"""

from __future__ import annotations

from aiohttp import web

from knowledge import questions
from web.dashboard.pages import acting, render

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


async def answer(request: web.Request) -> web.StreamResponse:
    question_id = _id(request)
    form = await request.post()
    async with acting(request) as act:
        answered = await questions.answer(act.db, act.hub, actor=act.person, question_id=question_id,
                                          text=str(form.get("answer", "")), now=act.now())
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
