"""Who may put words in the bot's mouth: promoting answers, grid-less questions, and how many
unanswered questions one person may leave with the workers (issue 12, items 3 and 5)."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from hub import people
from hub.errors import PermissionDenied
from hub.models import Role
from knowledge import questions
from knowledge.base import KnowledgeBase
from knowledge.models import Question
from knowledge.questions import KNOWLEDGE
from tests.test_ask_bot import ask
from tests.test_bot_start import seed

UNKNOWN = ["小区的微型消防站钥匙在谁那里？", "3号楼的物业值班电话是多少？", "社区图书室几点开门？",
           "广场舞的音响能开到几点？", "业委会什么时候换届？"]


async def seed_people(hub, *, resident_grid="T1"):
    """Grids D1 > S1 > C1 > T1, T2; worker 5001 in T1; staff 5900 over S1; resident 6001."""
    await seed(hub)
    async with hub.db.session() as s:
        await people.appoint(s, telegram_id=5900, name="周主任", role=Role.STAFF, grid_code="S1",
                             actor="test", now=hub.now())
        if resident_grid:
            await people.appoint(s, telegram_id=6001, name="张阿姨", role=Role.RESIDENT,
                                 grid_code=resident_grid, actor="test", now=hub.now())


def question_id_of(reply) -> int:
    return int(reply.params["text"].split("问题编号 ")[1].split("）")[0])


async def notified(telegram, chat_id, question_id):
    """The outbox tells the grid's workers of a new question; let that arrive before a worker
    answers, so the answer's reply is not mistaken for it."""
    await telegram.wait_for("sendMessage", lambda c: str(c.params.get("chat_id")) == str(chat_id)
                            and f"编号 {question_id}" in c.params.get("text", ""))


async def promoted(hub, question_id):
    async with hub.db.session() as s:
        return (await s.get(Question, question_id)).promoted_entry_id


async def test_a_worker_cannot_promote_even_their_own_answer(bot, bot_hub, telegram):
    bot_hub.services[KNOWLEDGE] = KnowledgeBase.load()  # a promotion would change the base
    await seed_people(bot_hub)
    resident, worker = telegram.user(6001, "张阿姨"), telegram.user(5001, "王芳")
    private = telegram.private(resident)
    question_id = question_id_of(await ask(telegram, private, resident, UNKNOWN[0]))
    await notified(telegram, 5001, question_id)
    confirm = await ask(telegram, telegram.private(worker), worker, f"/answer {question_id} 钥匙扔了，别管了。")
    assert "已把您的回答发给" in confirm.params["text"]
    assert "reply_markup" not in confirm.params

    # the old button, pressed anyway (or forged), is refused
    query = telegram.press_button(telegram.private(worker), worker, confirm.result["message_id"], f"qp:{question_id}")
    await telegram.wait_for("answerCallbackQuery", lambda c: c.params["callback_query_id"] == query)
    assert "只有管理人员才能把回答加入知识库" in telegram.callback_answers[query]["text"]
    assert await promoted(bot_hub, question_id) is None
    # and the bot keeps not knowing, for every grid
    assert "已经转给您的网格员" in (await ask(telegram, private, resident, UNKNOWN[0])).params["text"]


async def test_staff_may_promote_their_own_answer_at_once(bot, bot_hub, telegram):
    bot_hub.services[KNOWLEDGE] = KnowledgeBase.load()
    await seed_people(bot_hub)
    resident, staff = telegram.user(6001, "张阿姨"), telegram.user(5900, "周主任")
    private = telegram.private(resident)
    question_id = question_id_of(await ask(telegram, private, resident, UNKNOWN[1]))
    staff_chat = telegram.private(staff)
    confirm = await ask(telegram, staff_chat, staff, f"/answer {question_id} 物业值班电话 0594-1234567。")
    buttons = confirm.params["reply_markup"]["inline_keyboard"]
    assert buttons[0][0]["callback_data"] == f"qp:{question_id}"
    query = telegram.press_button(staff_chat, staff, confirm.result["message_id"], f"qp:{question_id}")
    await telegram.wait_for("answerCallbackQuery", lambda c: c.params["callback_query_id"] == query)
    assert "已加入知识库" in telegram.callback_answers[query]["text"]
    assert await promoted(bot_hub, question_id) == f"promoted-{question_id}"
    assert "0594-1234567" in (await ask(telegram, private, resident, UNKNOWN[1])).params["text"]


async def test_a_question_without_a_grid_is_answered_by_staff_only(bot, bot_hub, telegram):
    await seed_people(bot_hub, resident_grid=None)
    stranger = telegram.user(6020, "过路人")  # in no grid: the question has none
    question_id = question_id_of(await ask(telegram, telegram.private(stranger), stranger, UNKNOWN[2]))
    async with bot_hub.db.session() as s:
        assert (await s.get(Question, question_id)).grid_id is None

    worker = telegram.user(5001, "王芳")
    refused = await ask(telegram, telegram.private(worker), worker, f"/answer {question_id} 随便几点。")
    assert refused.params["text"] == "只有管理人员才能这样做。"
    async with bot_hub.db.session() as s:
        assert (await s.get(Question, question_id)).answer is None

    staff = telegram.user(5900, "周主任")
    mark = len(telegram.calls)
    confirm = await ask(telegram, telegram.private(staff), staff, f"/answer {question_id} 每天9点到17点。")
    assert "已把您的回答发给" in confirm.params["text"]
    await telegram.wait_for("sendMessage", lambda c: c.chat_id == 6020 and "9点到17点" in c.params["text"],
                            since=mark, timeout=5)


async def test_the_question_past_the_limit_is_refused(bot, bot_hub, telegram, monkeypatch):
    monkeypatch.setattr(bot_hub.settings, "open_question_limit", 2)
    await seed_people(bot_hub)
    resident = telegram.user(6001, "张阿姨")
    private = telegram.private(resident)
    first = question_id_of(await ask(telegram, private, resident, UNKNOWN[0]))
    question_id_of(await ask(telegram, private, resident, UNKNOWN[1]))
    refused = await ask(telegram, private, resident, UNKNOWN[2])
    assert "已有 2 个问题在等待" in refused.params["text"]
    async with bot_hub.db.session() as s:
        assert await s.scalar(select(func.count()).select_from(Question)) == 2

    # answered questions no longer count, and neither do those of yesterday
    worker = telegram.user(5001, "王芳")
    await ask(telegram, telegram.private(worker), worker, f"/answer {first} 在物业。")
    question_id_of(await ask(telegram, private, resident, UNKNOWN[2]))
    assert "已有 2 个" in (await ask(telegram, private, resident, UNKNOWN[3])).params["text"]
    bot_hub.clock.advance(timedelta(hours=25))
    question_id_of(await ask(telegram, private, resident, UNKNOWN[3]))
    # a question the knowledge base answers is never limited
    assert "❓" in (await ask(telegram, private, resident, "家里闻到煤气味怎么办？")).params["text"]


async def test_promoting_takes_staff_over_the_grid_whatever_the_transport(hub):
    await seed_people(hub)
    async with hub.db.session() as s:
        resident, worker, staff = [await people.get(s, t) for t in (6001, 5001, 5900)]
        routed = await questions.file_question(
            s, asker=resident, text=UNKNOWN[0], lang="zh-Hans", chat_id=None, grid_id=None, now=hub.now()
        )
        question_id = routed.question.id
        answered = await questions.answer(s, hub, actor=worker, question_id=question_id, text="在物业。", now=hub.now())
        assert not answered.promotable and [p.telegram_id for p in answered.reviewers] == [5900]
        with pytest.raises(PermissionDenied) as refused:
            await questions.promote(s, actor=worker, question_id=question_id, topic="community", now=hub.now())
        assert refused.value.key == "ask.promote_staff_only"
        entry = await questions.promote(s, actor=staff, question_id=question_id, topic="community", now=hub.now())
        assert entry.answer == "在物业。"
