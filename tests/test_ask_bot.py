"""Safety Q&A through the fake Bot API: /ask, private questions, the unanswered queue."""

import pytest

from hub import grids, people
from hub.models import Role
from knowledge.base import KnowledgeBase
from knowledge.questions import KNOWLEDGE
from tests.test_bot_start import seed


async def ask(telegram, chat, user, text):
    mark = len(telegram.calls)
    telegram.send_message(chat, user, text)
    return await telegram.reply_to(chat["id"], since=mark)


async def test_ask_in_a_group_and_plain_text_in_private(bot, telegram):
    resident = telegram.user(6001, "张阿姨")
    group = telegram.group(-1001)
    reply = await ask(telegram, group, resident, "/ask 电动车可以推进楼道里充电吗")
    assert "充电" in reply.params["text"] and "❓" in reply.params["text"]
    private = telegram.private(resident)
    reply = await ask(telegram, private, resident, "家里闻到煤气味怎么办？")
    text = reply.params["text"]
    assert "窗" in text or "阀" in text
    buttons = reply.params.get("reply_markup", {}).get("inline_keyboard", [])
    assert 1 <= len(buttons) <= 3
    data = buttons[0][0]["callback_data"]
    assert data.startswith("qa:")
    mark = len(telegram.calls)
    telegram.press_button(private, resident, reply.result["message_id"], data)
    related = await telegram.reply_to(6001, since=mark)
    assert related.params["text"].startswith("❓")


async def test_answers_follow_the_askers_language(bot, telegram):
    english = telegram.user(6002, "Liu", language_code="en")
    reply = await ask(telegram, telegram.private(english), english, "what should I do if oil in a pan catches fire")
    assert "lid" in reply.params["text"].lower()
    hant = telegram.user(6003, "陳", language_code="zh-hk")
    reply = await ask(telegram, telegram.private(hant), hant, "滅火器點樣用？")
    assert "滅火器" in reply.params["text"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/ask", "请在 /ask 后面写上您的问题"),
        ("/ask " + "着火" * 2500, "问题太长了"),
        ("/ask 😀😀😀🔥", "没看懂您的问题"),
        ("/ask ？？？！！！...", "没看懂您的问题"),
    ],
)
async def test_bad_questions_get_a_sensible_reply(bot, telegram, text, expected):
    user = telegram.user(6010, "X")
    reply = await ask(telegram, telegram.group(-1004), user, text)
    assert expected in reply.params["text"]


async def test_mixed_script_question_is_answered(bot, telegram):
    user = telegram.user(6011, "X")
    reply = await ask(telegram, telegram.private(user), user, "e-bike 電動車 battery 在家充电 safe吗")
    assert "❓" in reply.params["text"]


async def test_unknown_question_reaches_the_worker_and_the_answer_the_asker(bot, bot_hub, telegram):
    await seed(bot_hub)
    async with bot_hub.db.session() as s:
        await grids.bind_chat(s, actor=await people.get(s, 5001), telegram_chat_id=-1001, title="群",
                              code="T1", now=bot_hub.now())
    resident = telegram.user(6001, "张阿姨")
    group = telegram.group(-1001)
    reply = await ask(telegram, group, resident, "/ask 小区的微型消防站钥匙在谁那里？")
    assert "已经转给您的网格员" in reply.params["text"]
    question_id = int(reply.params["text"].split("问题编号 ")[1].split("）")[0])
    to_worker = await telegram.wait_for("sendMessage", lambda c: c.chat_id == 5001, timeout=5)
    assert "微型消防站" in to_worker[0].params["text"]

    worker = telegram.user(5001, "王芳")
    worker_chat = telegram.private(worker)
    mark = len(telegram.calls)
    telegram.send_message(worker_chat, worker, f"/answer {question_id} 钥匙在3号楼物业值班室，24小时有人。")
    confirm = await telegram.reply_to(5001, since=mark)
    assert "已把您的回答发给" in confirm.params["text"]
    to_asker = await telegram.wait_for("sendMessage", lambda c: c.chat_id == 6001, since=mark, timeout=5)
    assert "物业值班室" in to_asker[0].params["text"]

    # answering twice, or by a resident, is refused
    again = await ask(telegram, worker_chat, worker, f"/answer {question_id} 再答一次")
    assert "已经有人回答过" in again.params["text"]
    stranger = telegram.user(6009, "路人")
    refused = await ask(telegram, telegram.private(stranger), stranger, f"/answer {question_id} 我来答")
    assert refused.params["text"] == "只有网格员才能这样做。"


async def test_a_promoted_answer_is_found_next_time(bot, bot_hub, telegram):
    bot_hub.services[KNOWLEDGE] = KnowledgeBase.load()  # this test changes the base
    await seed(bot_hub)
    resident = telegram.user(6001, "张阿姨")
    private = telegram.private(resident)
    async with bot_hub.db.session() as s:
        await people.appoint(s, telegram_id=6001, name="张阿姨", role=Role.RESIDENT, grid_code="T1",
                             actor="test", now=bot_hub.now())
        await people.appoint(s, telegram_id=5900, name="周主任", role=Role.STAFF, grid_code="S1",
                             actor="test", now=bot_hub.now())
    reply = await ask(telegram, private, resident, "小区的微型消防站钥匙在谁那里？")
    question_id = int(reply.params["text"].split("问题编号 ")[1].split("）")[0])
    worker = telegram.user(5001, "王芳")
    worker_chat = telegram.private(worker)
    mark = len(telegram.calls)
    confirm = await ask(telegram, worker_chat, worker, f"/answer {question_id} 在3号楼一楼东侧。")
    assert "reply_markup" not in confirm.params  # a worker's answer is promoted by staff (issue 12)
    # the staff above the grid are offered it, with the button
    [review] = await telegram.wait_for("sendMessage", lambda c: c.chat_id == 5900, since=mark, timeout=5)
    assert "在3号楼一楼东侧" in review.params["text"]
    button = review.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    assert button == f"qp:{question_id}"
    staff = telegram.user(5900, "周主任")
    query = telegram.press_button(telegram.private(staff), staff, review.result["message_id"], button)
    await telegram.wait_for("answerCallbackQuery", lambda c: c.params["callback_query_id"] == query)
    assert "已加入知识库" in telegram.callback_answers[query]["text"]
    reply = await ask(telegram, private, resident, "小区的微型消防站钥匙在谁那里？")
    assert "3号楼一楼东侧" in reply.params["text"]


# -- issue 16: the asker's language, the place, phase and purpose, first questions ---------


async def test_a_question_in_another_of_our_languages_is_answered_in_it(bot, telegram):
    """A reader of Chinese who asks in English gets English, related questions included;
    one who asks in Traditional characters gets Traditional."""
    chinese = telegram.user(6021, "刘")  # language_code zh-hans
    private = telegram.private(chinese)
    reply = await ask(telegram, private, chinese, "what should I do if my clothes catch fire")
    text = reply.params["text"]
    assert "roll" in text.lower() and "❓" in text
    assert not any("\u4e00" <= c <= "\u9fff" for c in text)
    buttons = reply.params.get("reply_markup", {}).get("inline_keyboard", [])
    assert buttons and buttons[0][0]["callback_data"].endswith(":en")
    mark = len(telegram.calls)
    telegram.press_button(private, chinese, reply.result["message_id"], buttons[0][0]["callback_data"])
    related = await telegram.reply_to(6021, since=mark)
    assert not any("\u4e00" <= c <= "\u9fff" for c in related.params["text"])
    reply = await ask(telegram, private, chinese, "/ask 身上衣服著火了怎麼辦")
    assert "著火" in reply.params["text"] or "滾" in reply.params["text"]
    assert "滚" not in reply.params["text"]
    english = telegram.user(6022, "Liu", language_code="en")
    reply = await ask(telegram, telegram.private(english), english, "身上衣服着火了怎么办")
    assert "滚" in reply.params["text"]  # a Chinese question from a reader of English: Chinese


async def test_a_question_about_the_place_goes_to_the_worker_in_the_askers_language(bot, bot_hub, telegram):
    await seed(bot_hub)
    async with bot_hub.db.session() as s:
        await people.appoint(s, telegram_id=6023, name="Ann", role=Role.RESIDENT, grid_code="T1",
                             actor="test", now=bot_hub.now())
    resident = telegram.user(6023, "Ann", language_code="zh-hans")
    reply = await ask(telegram, telegram.private(resident), resident, "what time does the community clinic open")
    text = reply.params["text"]
    assert "question about the place" in text and "grid worker" in text  # in the question's language
    to_worker = await telegram.wait_for("sendMessage", lambda c: c.chat_id == 5001, timeout=5)
    assert "community clinic" in to_worker[0].params["text"]
    reply = await ask(telegram, telegram.private(resident), resident, "我们楼的消火栓归哪家公司维护")
    assert "本地" in reply.params["text"] and "已经转给您的网格员" in reply.params["text"]


async def test_phase_and_purpose_through_the_bot(bot, telegram):
    user = telegram.user(6024, "X")
    private = telegram.private(user)
    kb = KnowledgeBase.load()
    for question, entry_id in [
        ("台风刮得正猛 一家人待在屋里要注意什么", "typhoon-at-home"),
        ("台风过去以后出门要当心什么", "typhoon-after"),
        ("灭火器的操作步骤", "extinguisher-how-to-use"),
        ("灭火器有哪几类 分别灭什么火", "extinguisher-types"),
    ]:
        reply = await ask(telegram, private, user, question)
        assert kb.entry_text(entry_id, "zh-Hans")[1][:40] in reply.params["text"], question


async def test_first_questions_through_the_bot(bot, telegram):
    """The safety days come from the campaigns' calendar; people living in shops and
    workshops; a hazard category that had no entry (other: how to report)."""
    user = telegram.user(6025, "X")
    private = telegram.private(user)
    reply = await ask(telegram, private, user, "消防日是每年的哪一天")
    assert "11月9日" in reply.params["text"] and "全国消防日" in reply.params["text"]
    reply = await ask(telegram, private, user, "When is disaster prevention day in China?")
    assert "12 May" in reply.params["text"]
    reply = await ask(telegram, private, user, "作坊里晚上睡人有什么问题")
    assert "住" in reply.params["text"] and "❓" in reply.params["text"]
    reply = await ask(telegram, private, user, "看到安全隐患了 怎么在这上报")
    assert "/report" in reply.params["text"]
