"""Hazard reports end to end: the real Application polling the fake Bot API, outbox running."""

import io
from datetime import timedelta

import pytest
from PIL import Image
from sqlalchemy import delete, func, select

import scheduler
from hazards import lifecycle
from hazards.models import Hazard, HazardState
from hub import audit, grids, people
from hub.models import ChatKind, Role
from tests.test_bot_start import seed as seed_grids


async def seed(hub):
    """T1 with two workers, a residents' group and a workers' group; a worker of T2; staff."""
    await seed_grids(hub)  # grids D1 > S1 > C1 > T1, T2 and worker 5001 (王芳) in T1
    async with hub.db.session() as s:
        for telegram_id, name, role, grid in [
            (5002, "陈刚", Role.WORKER, "T1"), (5003, "李强", Role.WORKER, "T2"),
            (5900, "周主任", Role.STAFF, "S1"),
        ]:
            await people.appoint(s, telegram_id=telegram_id, name=name, role=role, grid_code=grid,
                                 actor="test", now=hub.now())
        worker = await people.get(s, 5001)
        await grids.bind_chat(s, actor=worker, telegram_chat_id=-1001, title="南苑一网格群",
                              code="T1", now=hub.now())
        await grids.bind_chat(s, actor=worker, telegram_chat_id=-1002, title="网格员工作群",
                              code="T1", kind=ChatKind.WORKERS, now=hub.now())


def jpeg(colour=(200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buffer, format="JPEG")
    return buffer.getvalue()


async def say(telegram, chat, user, text):
    """The bot's answer to this message: in a group, the reply that quotes it, not a card that
    the outbox happened to deliver in between."""
    mark = len(telegram.calls)
    sent = telegram.send_message(chat, user, text)["message"]["message_id"]
    if chat["type"] == "private":
        return await telegram.reply_to(chat["id"], since=mark)

    def quotes(call):
        reply = call.params.get("reply_parameters") or {}
        return call.chat_id == chat["id"] and reply.get("message_id") == sent
    return (await telegram.wait_for(predicate=quotes, since=mark))[0]


def buttons(call):
    rows = (call.params.get("reply_markup") or {}).get("inline_keyboard", [])
    return [b.get("callback_data") or b.get("url") for row in rows for b in row]


async def press(telegram, chat, user, message_id, data):
    query = telegram.press_button(chat, user, message_id, data)
    await telegram.wait_for("answerCallbackQuery", lambda c: c.params["callback_query_id"] == query)
    return telegram.callback_answers[query]


async def card_in(telegram, chat_id, action, *, hazard_id=1, since=0):
    """The card of a hazard sent to a chat that offers `action`."""
    calls = await telegram.wait_for(
        "sendMessage", lambda c: c.chat_id == chat_id and f"hz:{hazard_id}:{action}" in buttons(c),
        since=since,
    )
    return calls[-1]


async def told(telegram, chat_id, words, *, since=0):
    calls = await telegram.wait_for(
        "sendMessage", lambda c: c.chat_id == chat_id and words in c.params["text"], since=since
    )
    return calls[0]


async def load(hub, hazard_id=1):
    async with hub.db.session() as s:
        return await s.get(Hazard, hazard_id)


async def count(hub):
    async with hub.db.session() as s:
        return await s.scalar(select(func.count()).select_from(Hazard))


async def test_group_report_is_accepted_fixed_with_a_photo_and_verified(bot, bot_hub, telegram):
    await seed(bot_hub)
    group = telegram.group(-1001)
    resident = telegram.user(6001, "张阿姨")
    receipt = await say(telegram, group, resident, "/report 3号楼楼道堆满纸箱，堵住了楼梯")
    assert "编号 #1" in receipt.params["text"]

    card = await card_in(telegram, -1001, "accept")
    await card_in(telegram, -1002, "accept")  # the workers' group gets it too
    assert buttons(card) == ["hz:1:accept", "hz:1:reject", "hz:1:dup"]
    assert "张阿姨" not in card.params["text"]  # not named unless they choose to be

    # a resident and a worker of another grid are refused, and nothing changes
    for user in (resident, telegram.user(5003, "李强")):
        answer = await press(telegram, group, user, card.result["message_id"], "hz:1:accept")
        assert answer["show_alert"] and "#1" in answer["text"]
    assert (await load(bot_hub)).state is HazardState.REPORTED

    worker, second = telegram.user(5001, "王芳"), telegram.user(5002, "陈刚")
    mark = len(telegram.calls)
    await press(telegram, group, worker, card.result["message_id"], "hz:1:accept")
    edited = await telegram.wait_for("editMessageText", lambda c: c.chat_id == -1001, since=mark)
    assert "整改中" in edited[0].params["text"]
    assert buttons(edited[0]) == ["hz:1:reject", "hz:1:dup", "hz:1:fixed"]
    await told(telegram, 6001, "已被网格员受理", since=mark)

    # "fixed" asks the worker for a photo in private, then acts on it
    mark = len(telegram.calls)
    answer = await press(telegram, group, worker, card.result["message_id"], "hz:1:fixed")
    assert "私聊" in answer["text"]
    assert "照片" in (await telegram.reply_to(5001, since=mark)).params["text"]
    assert (await load(bot_hub)).state is HazardState.ACCEPTED
    mark = len(telegram.calls)
    telegram.send_photo(telegram.private(worker), worker, jpeg())
    assert "已整改待验收" in (await telegram.reply_to(5001, since=mark)).params["text"]
    await told(telegram, 6001, "已完成整改", since=mark)
    card = await card_in(telegram, -1001, "verify", since=mark)

    # the fixer may not verify their own work when the grid has another worker
    answer = await press(telegram, group, worker, card.result["message_id"], "hz:1:verify")
    assert "另一位网格员" in answer["text"]
    mark = len(telegram.calls)
    await press(telegram, group, second, card.result["message_id"], "hz:1:verify")
    await told(telegram, 6001, "已验收销号", since=mark)

    hazard = await load(bot_hub)
    assert hazard.state is HazardState.CLOSED and hazard.evidence_photo
    assert (hazard.fixer_id, hazard.verifier_id) != (None, None)
    async with bot_hub.db.session() as s:
        timeline = [e.action for e in await audit.history(s, "hazard", 1)]
    assert timeline == ["report", "accept", "fixed", "verify"]


async def test_guided_report_moves_to_private_and_stays_anonymous(bot, bot_hub, telegram):
    await seed(bot_hub)
    group = telegram.group(-1001)
    resident = telegram.user(6001, "张阿姨")
    invite = await say(telegram, group, resident, "/report")
    [link] = buttons(invite)
    assert link.startswith("https://t.me/gridcast_test_bot?start=report_")
    payload = link.split("start=")[1]

    private = telegram.private(resident)
    prompt = await say(telegram, private, resident, f"/start {payload}")
    assert "rf:cat:ebike-indoor-charging" in buttons(prompt)
    mark = len(telegram.calls)
    await press(telegram, private, resident, prompt.result["message_id"], "rf:cat:ebike-indoor-charging")
    question = await telegram.reply_to(6001, since=mark)
    assert "电池" in question.params["text"]  # the category's own danger question
    mark = len(telegram.calls)
    await press(telegram, private, resident, question.result["message_id"], "rf:danger:yes")
    assert "119" in (await telegram.reply_to(6001, since=mark)).params["text"]
    await telegram.wait_for("sendMessage", lambda c: c.chat_id == 6001 and "描述" in c.params["text"], since=mark)

    # a command while the flow waits is answered as a command, and the flow goes on
    assert "可用命令" in (await say(telegram, private, resident, "/help")).params["text"]
    photo_prompt = await say(telegram, private, resident, "5号楼一楼楼道有人给电动车充电")
    assert "照片" in photo_prompt.params["text"]
    mark = len(telegram.calls)
    telegram.send_photo(private, resident, jpeg())
    assert "位置" in (await telegram.reply_to(6001, since=mark)).params["text"]
    mark = len(telegram.calls)
    telegram.send_location(private, resident, 25.4312, 119.0078)
    named = await telegram.reply_to(6001, since=mark)
    mark = len(telegram.calls)
    await press(telegram, private, resident, named.result["message_id"], "rf:named:no")
    confirm = await telegram.reply_to(6001, since=mark)
    assert "有人正处于危险中" in confirm.params["text"] and "不显示您的名字" in confirm.params["text"]
    mark = len(telegram.calls)
    await press(telegram, private, resident, confirm.result["message_id"], "rf:confirm:yes")
    receipt = await telegram.reply_to(6001, since=mark)
    assert "编号 #1" in receipt.params["text"] and "119" in receipt.params["text"]

    hazard = await load(bot_hub)
    assert hazard.urgent and hazard.photo and hazard.lat == pytest.approx(25.4312)
    assert hazard.category == "ebike-indoor-charging" and not hazard.reporter_named
    card = await card_in(telegram, -1001, "accept", since=mark)
    assert "紧急" in card.params["text"] and "张阿姨" not in card.params["text"]
    # nothing of the flow is left to catch the resident's next question
    assert "❓" in (await say(telegram, private, resident, "灭火器怎么用？")).params["text"]


async def test_a_similar_report_is_offered_as_the_same_problem(bot, bot_hub, telegram):
    await seed(bot_hub)
    group = telegram.group(-1001)
    first, second = telegram.user(6001, "张阿姨"), telegram.user(6002, "刘叔")
    await say(telegram, group, first, "/report 3号楼楼道堆满纸箱")
    question = await say(telegram, group, second, "/report 3号楼的楼道里堆了好多纸箱")
    assert "#1" in question.params["text"]
    assert buttons(question) == ["rs:6002:1:1", "rs:6002:1:new"]
    assert await count(bot_hub) == 1  # nothing filed while the question is open

    answer = await press(telegram, group, first, question.result["message_id"], "rs:6002:1:1")
    assert answer["show_alert"] and "正在上报的人" in answer["text"]
    mark = len(telegram.calls)
    await press(telegram, group, second, question.result["message_id"], "rs:6002:1:1")
    edited = await telegram.wait_for("editMessageText", lambda c: c.chat_id == -1001, since=mark)
    assert "与 #1 是同一个问题" in edited[0].params["text"]
    duplicate = await load(bot_hub, 2)
    assert duplicate.state is HazardState.DUPLICATE and duplicate.duplicate_of_id == 1
    # pressing again finds nothing pending
    answer = await press(telegram, group, second, question.result["message_id"], "rs:6002:1:new")
    assert "过期" in answer["text"] and await count(bot_hub) == 2


async def test_a_worker_marks_a_duplicate_by_number(bot, bot_hub, telegram):
    await seed(bot_hub)
    group = telegram.group(-1001)
    await say(telegram, group, telegram.user(6001, "张阿姨"), "/report 7号楼消防通道被铁门锁死")
    mark = len(telegram.calls)
    await say(telegram, group, telegram.user(6002, "刘叔"), "/report 菜市场旁边有人私拉电线充电")
    card = await card_in(telegram, -1001, "dup", hazard_id=2, since=mark)
    worker = telegram.user(5001, "王芳")
    mark = len(telegram.calls)
    await press(telegram, group, worker, card.result["message_id"], "hz:2:dup")
    assert "编号" in (await telegram.reply_to(5001, since=mark)).params["text"]
    private = telegram.private(worker)
    assert "只发送编号" in (await say(telegram, private, worker, "就是前面那个")).params["text"]
    mark = len(telegram.calls)
    reply = await say(telegram, private, worker, "#1")
    assert "重复问题" in reply.params["text"]
    await told(telegram, 6002, "与 #1 是同一个问题", since=mark)
    await told(telegram, 6001, "另有居民反映了同样的问题", since=mark)


async def test_is_it_fixed_no_reopens(bot, bot_hub, telegram, clock):
    await seed(bot_hub)
    private = telegram.private(resident := telegram.user(6001, "张阿姨"))
    await say(telegram, telegram.group(-1001), resident, "/report 2号楼灭火器过期了")
    async with bot_hub.db.session() as s:
        w1, w2 = await people.get(s, 5001), await people.get(s, 5002)
        await lifecycle.act(s, w1, 1, "accept", now=clock.now())
        await lifecycle.act(s, w1, 1, "fixed", now=clock.now(), photo="ab" * 32)
        await lifecycle.act(s, w2, 1, "verify", now=clock.now())
    clock.advance(timedelta(days=3, minutes=1))
    mark = len(telegram.calls)
    await scheduler.hazard_followup(bot_hub)
    question = await told(telegram, 6001, "真的解决了吗", since=mark)
    assert buttons(question) == ["hzf:1:yes", "hzf:1:no"]
    mark = len(telegram.calls)
    await press(telegram, private, resident, question.result["message_id"], "hzf:1:no")
    await told(telegram, 6001, "已重新打开", since=mark)
    await told(telegram, 5001, "仍未解决", since=mark)
    assert (await load(bot_hub)).state is HazardState.ACCEPTED


async def test_location_after_a_report_attaches_to_it(bot, bot_hub, telegram):
    await seed(bot_hub)
    resident = telegram.user(6001, "张阿姨")
    await say(telegram, telegram.group(-1001), resident, "/report 河边护栏断了一截")
    mark = len(telegram.calls)
    telegram.send_location(telegram.private(resident), resident, 25.43, 119.01)
    assert "已把位置添加到隐患 #1" in (await telegram.reply_to(6001, since=mark)).params["text"]
    hazard = await load(bot_hub)
    assert (hazard.lat, hazard.lon) == (25.43, 119.01)


async def test_ledger_hazard_and_my(bot, bot_hub, telegram, clock):
    await seed(bot_hub)
    group = telegram.group(-1001)
    resident, worker = telegram.user(6001, "张阿姨"), telegram.user(5001, "王芳")
    await say(telegram, group, resident, "/report 3号楼楼道堆满纸箱")
    await say(telegram, group, resident, "/report 7号楼消防通道被铁门锁死")
    clock.advance(timedelta(hours=30))  # the fire exit (24 h) is overdue, the clutter (48 h) not
    ledger = (await say(telegram, group, worker, "/ledger")).params["text"]
    assert "未销号隐患 2 条，其中超期 1 条" in ledger
    assert ledger.index("#2") < ledger.index("#1")  # overdue first
    assert "只有网格员" in (await say(telegram, group, resident, "/ledger")).params["text"]

    assert "私聊" in (await say(telegram, group, worker, "/hazard 1")).params["text"]
    detail = (await say(telegram, telegram.private(worker), worker, "/hazard #1")).params["text"]
    assert "隐患 #1" in detail and "上报人：张阿姨" in detail and "处理记录" in detail
    mine = (await say(telegram, telegram.private(resident), resident, "/my")).params["text"]
    assert "#1" in mine and "#2" in mine and "待受理" in mine
    stranger = telegram.user(6009, "路人")
    refused = await say(telegram, telegram.private(stranger), stranger, "/hazard 1")
    assert "只有上报人和负责的网格员" in refused.params["text"]


# --- bad input: a clear reply, and nothing written -----------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/report " + "楼道着火隐患" * 834, "描述太长了"),  # 5,004 characters
        ("/report 😀😀🔥🔥", "请用文字描述"),
    ],
)
async def test_bad_report_text(bot, bot_hub, telegram, text, expected):
    await seed(bot_hub)
    reply = await say(telegram, telegram.group(-1001), telegram.user(6001, "张阿姨"), text)
    assert expected in reply.params["text"]
    assert await count(bot_hub) == 0


async def test_a_25_mb_photo_is_refused_without_downloading_it(bot, bot_hub, telegram):
    await seed(bot_hub)
    user = telegram.user(6001, "张阿姨")
    mark = len(telegram.calls)
    telegram.send_photo(telegram.group(-1001), user, b"\xff\xd8" + bytes(25 * 1024 * 1024), caption="/report 楼道堆满纸箱")
    reply = await telegram.reply_to(-1001, since=mark)
    assert "照片太大了" in reply.params["text"] and "25.0 MB" in reply.params["text"]
    assert not [c for c in telegram.calls[mark:] if c.method == "getFile"]
    assert await count(bot_hub) == 0


async def test_a_document_that_is_not_an_image_is_refused(bot, bot_hub, telegram):
    await seed(bot_hub)
    user = telegram.user(6001, "张阿姨")
    mark = len(telegram.calls)
    telegram.send_document(telegram.group(-1001), user, b"%PDF-1.4 not a photo", "scan.pdf",
                           "application/pdf", caption="/report 楼道堆满纸箱")
    assert "不是能识别的图片" in (await telegram.reply_to(-1001, since=mark)).params["text"]
    assert await count(bot_hub) == 0
    assert not list((bot_hub.settings.data_dir / "photos").glob("**/*.jpg"))


async def test_a_photo_report_in_one_message_is_filed(bot, bot_hub, telegram):
    await seed(bot_hub)
    user = telegram.user(6001, "张阿姨")
    mark = len(telegram.calls)
    telegram.send_photo(telegram.group(-1001), user, jpeg(), caption="/report@gridcast_test_bot 楼道堆满纸箱")
    assert "编号 #1" in (await telegram.reply_to(-1001, since=mark)).params["text"]
    assert (await load(bot_hub)).photo


async def test_a_location_with_no_report_pending(bot, bot_hub, telegram):
    await seed(bot_hub)
    user = telegram.user(6001, "张阿姨")
    mark = len(telegram.calls)
    telegram.send_location(telegram.private(user), user, 25.43, 119.01)
    assert "现在没有等待位置的上报" in (await telegram.reply_to(6001, since=mark)).params["text"]
    assert await count(bot_hub) == 0


async def test_a_button_for_a_hazard_that_no_longer_exists(bot, bot_hub, telegram):
    await seed(bot_hub)
    group = telegram.group(-1001)
    await say(telegram, group, telegram.user(6001, "张阿姨"), "/report 3号楼楼道堆满纸箱")
    card = await card_in(telegram, -1001, "accept")
    async with bot_hub.db.session() as s:
        await s.execute(delete(Hazard).where(Hazard.id == 1))
    answer = await press(telegram, group, telegram.user(5001, "王芳"), card.result["message_id"], "hz:1:accept")
    assert answer["show_alert"] and "没有编号为 #1 的隐患" in answer["text"]
    assert await count(bot_hub) == 0


async def test_each_same_question_answers_for_its_own_report(bot, bot_hub, telegram):
    """Two questions open at once: the answer to the first files the first report, not the later."""
    await seed(bot_hub)
    group = telegram.group(-1001)
    first, second = telegram.user(6001, "张阿姨"), telegram.user(6002, "刘叔")
    await say(telegram, group, first, "/report 3号楼楼道堆满纸箱")
    await say(telegram, group, first, "/report 9号楼电梯困人")
    boxes = await say(telegram, group, second, "/report 3号楼的楼道里堆了好多纸箱")
    lift = await say(telegram, group, second, "/report 9号楼的电梯里困人了")
    assert buttons(boxes) == ["rs:6002:1:1", "rs:6002:1:new"]
    assert buttons(lift) == ["rs:6002:2:2", "rs:6002:2:new"]
    await say(telegram, group, second, "/report 12号楼门口河边护栏断了")  # a receipt closes no question

    mark = len(telegram.calls)
    await press(telegram, group, second, boxes.result["message_id"], "rs:6002:1:1")
    await telegram.wait_for("editMessageText", lambda c: c.chat_id == -1001, since=mark)
    mark = len(telegram.calls)
    await press(telegram, group, second, lift.result["message_id"], "rs:6002:2:new")
    await telegram.wait_for("editMessageText", lambda c: c.chat_id == -1001, since=mark)
    async with bot_hub.db.session() as s:
        filed = {h.text: h for h in await s.scalars(select(Hazard))}
    assert filed["3号楼的楼道里堆了好多纸箱"].duplicate_of_id == 1
    assert filed["9号楼的电梯里困人了"].duplicate_of_id is None
    assert filed["9号楼的电梯里困人了"].state is HazardState.REPORTED
