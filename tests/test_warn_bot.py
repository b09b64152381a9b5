"""/warn end to end: the real Application, the fake Bot API, the outbox sender delivering."""

from broadcasts.warnings import lifecycle as warnings
from broadcasts.warnings.models import WarningStatus
from tests.test_warnings import CHATS, district

AREA_T1 = {-1001, -1101}  # T1's residents' group and workers' group
ELSEWHERE = {-1002, -1003, -1010}


async def command(telegram, chat, user, text):
    mark = len(telegram.calls)
    telegram.send_message(chat, user, text)
    return await telegram.reply_to(chat["id"], since=mark)


def buttons(call):
    return [b["callback_data"] for row in call.params["reply_markup"]["inline_keyboard"] for b in row]


async def press(telegram, chat, user, call, data):
    mark = len(telegram.calls)
    query = telegram.press_button(chat, user, call.result["message_id"], data)
    await telegram.wait_for("answerCallbackQuery", lambda c: c.params["callback_query_id"] == query, since=mark)
    return query, mark


async def delivered(telegram, chat_ids, needle, since=0):
    calls = await telegram.wait_for(
        "sendMessage", lambda c: c.chat_id in chat_ids and needle in c.params["text"],
        count=len(chat_ids), since=since, timeout=10,
    )
    return {c.chat_id for c in calls}


async def test_a_red_warning_is_previewed_sent_updated_and_cancelled(bot, bot_hub, telegram):
    await district(bot_hub)
    worker = telegram.user(5001, "王芳")
    private = telegram.private(worker)
    preview = await command(telegram, private, worker, "/warn 红 东门液化气泄漏，请立即向北撤离")
    assert "预览" in preview.params["text"] and "红色" in preview.params["text"]
    data = buttons(preview)
    assert [d.rsplit(":", 1)[1] for d in data] == ["send", "edit", "cancel"]
    assert telegram.sent(-1001) == []  # nothing goes out before "send"

    # a stranger pressing the preview's button is refused and nothing is sent
    stranger = telegram.user(5003, "郑丽华")
    query, _ = await press(telegram, private, stranger, preview, data[0])
    assert "不是您发布的" in telegram.callback_answers[query]["text"]

    query, mark = await press(telegram, private, worker, preview, data[0])
    assert await delivered(telegram, AREA_T1, "东门液化气泄漏", since=mark) == AREA_T1
    edited = await telegram.wait_for("editMessageText", since=mark)
    assert "已发送到 2 个群" in edited[0].params["text"]
    pins = await telegram.wait_for("pinChatMessage", count=2, since=mark)
    assert {c.chat_id for c in pins} == AREA_T1
    assert not any(c.chat_id in ELSEWHERE for c in telegram.sent())

    # pressing send again (a replay) changes nothing
    query, _ = await press(telegram, private, worker, preview, data[0])
    assert "已经发送过了" in telegram.callback_answers[query]["text"]
    assert len([c for c in telegram.sent(-1001) if "东门液化气泄漏" in c.params.get("text", "")]) == 1

    # the delivery report, in chat
    async with bot_hub.db.session() as s:
        [warning] = await warnings.list_warnings(s)
    report_mark = len(telegram.calls)
    telegram.press_button(private, worker, edited[0].result["message_id"], f"wn:{warning.id}:report")
    report = await telegram.reply_to(5001, since=report_mark)
    assert "已送达 2" in report.params["text"]

    # an update and a cancellation reach the same chats
    preview = await command(telegram, private, worker, f"/warn update {warning.id} 泄漏已控制，请继续远离")
    _, mark = await press(telegram, private, worker, preview, buttons(preview)[0])
    assert await delivered(telegram, AREA_T1, "泄漏已控制", since=mark) == AREA_T1
    async with bot_hub.db.session() as s:
        update = (await warnings.list_warnings(s))[0]
    preview = await command(telegram, private, worker, f"/warn cancel {update.id} 抢修完成")
    _, mark = await press(telegram, private, worker, preview, buttons(preview)[0])
    assert await delivered(telegram, AREA_T1, "解除预警", since=mark) == AREA_T1
    async with bot_hub.db.session() as s:
        statuses = [w.status for w in await warnings.list_warnings(s)]
    assert statuses == [WarningStatus.SENT, WarningStatus.CANCELLED, WarningStatus.SUPERSEDED]
    assert not any(c.chat_id in ELSEWHERE for c in telegram.sent())


async def test_a_resident_cannot_warn(bot, bot_hub, telegram):
    await district(bot_hub)
    resident = telegram.user(6001, "张阿姨")
    group = telegram.group(CHATS["T1"])
    reply = await command(telegram, group, resident, "/warn 红 着火了")
    assert reply.params["text"] == "只有网格员才能这样做。"
    async with bot_hub.db.session() as s:
        assert await warnings.list_warnings(s) == []


async def test_edit_then_send_and_cancel_of_a_preview(bot, bot_hub, telegram):
    await district(bot_hub)
    worker = telegram.user(5001, "王芳")
    group = telegram.group(CHATS["T1"])
    preview = await command(telegram, group, worker, "/warn 黄 明天停水")
    _, mark = await press(telegram, group, worker, preview, buttons(preview)[1])
    prompt = await telegram.reply_to(CHATS["T1"], since=mark)
    assert prompt.params["reply_markup"]["force_reply"] is True
    mark = len(telegram.calls)
    telegram.send_message(group, worker, "橙 明天8点到18点停水，请提前储水", reply_to=prompt.result["message_id"])
    new_preview = await telegram.reply_to(CHATS["T1"], since=mark)
    assert "橙色" in new_preview.params["text"] and "提前储水" in new_preview.params["text"]
    _, mark = await press(telegram, group, worker, new_preview, buttons(new_preview)[2])
    edited = await telegram.wait_for("editMessageText", since=mark)
    assert "没有发出" in edited[0].params["text"]
    async with bot_hub.db.session() as s:
        [warning] = await warnings.list_warnings(s)
    assert warning.status is WarningStatus.DISCARDED and warning.description.startswith("明天8点")


async def test_bad_warn_input_gets_a_clear_reply(bot, bot_hub, telegram):
    await district(bot_hub)
    worker = telegram.user(5001, "王芳")
    private = telegram.private(worker)
    assert "用法：/warn" in (await command(telegram, private, worker, "/warn")).params["text"]
    assert "太长" in (await command(telegram, private, worker, "/warn 红 " + "火" * 5000)).params["text"]
    assert "没有文字" in (await command(telegram, private, worker, "/warn 红 🔥🔥🔥")).params["text"]
    assert "没有编号为 999" in (await command(telegram, private, worker, "/warn cancel 999")).params["text"]
    async with bot_hub.db.session() as s:
        assert await warnings.list_warnings(s) == []
