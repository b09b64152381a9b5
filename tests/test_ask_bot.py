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
    reply = await ask(telegram, private, resident, "小区的微型消防站钥匙在谁那里？")
    question_id = int(reply.params["text"].split("问题编号 ")[1].split("）")[0])
    worker = telegram.user(5001, "王芳")
    worker_chat = telegram.private(worker)
    confirm = await ask(telegram, worker_chat, worker, f"/answer {question_id} 在3号楼一楼东侧。")
    button = confirm.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    query = telegram.press_button(worker_chat, worker, confirm.result["message_id"], button)
    await telegram.wait_for("answerCallbackQuery", lambda c: c.params["callback_query_id"] == query)
    assert "已加入知识库" in telegram.callback_answers[query]["text"]
    reply = await ask(telegram, private, resident, "小区的微型消防站钥匙在谁那里？")
    assert "3号楼一楼东侧" in reply.params["text"]
