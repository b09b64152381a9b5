"""Reports that arrive together: the intake files them in one unit of work, end to end.

`bot.intake` queues the one-message reports that reach the bot at the same moment and files
them together through `hazards.intake.submit_many`. Batching must not change what anyone sees: each
resident still gets a ticket of their own, a near-identical report in the same batch is still
asked "is this the same as #N?", a location sent right after a report still finds it, one
broken report does not sink its neighbours, and the hourly limit still counts every report.

Messages queued on the fake Bot API before the bot's next getUpdates reach the bot in one
answer; that is how these tests make reports share a moment (`delivered_together` checks it).
"""

import re

import pytest
from sqlalchemy import select

from hazards import intake
from hazards.models import Hazard
from hub import grids, people
from hub.models import Grid, Person
from tests.test_report_bot import buttons, count, load, press, seed

TICKET = re.compile(r"编号 #(\d+)")


@pytest.fixture
def batches(monkeypatch):
    """The texts of each batch the intake hands to `hazards.intake.submit_many`, in order."""
    seen = []
    original = intake.submit_many

    async def recording(session, submissions, **kwargs):
        seen.append([s.draft.text for s in submissions])
        return await original(session, submissions, **kwargs)

    monkeypatch.setattr(intake, "submit_many", recording)
    return seen


async def bind_second_group(hub):
    """A residents' group for T2 (-1003), bound by T2's worker 李强 (5003)."""
    async with hub.db.session() as s:
        worker = await people.get(s, 5003)
        await grids.bind_chat(s, actor=worker, telegram_chat_id=-1003, title="南苑二网格群",
                              code="T2", now=hub.now())


async def answer_to(telegram, sent, *, since=0):
    """The bot's message that quotes `sent` (what telegram.send_… returned)."""
    chat_id, message_id = sent["message"]["chat"]["id"], sent["message"]["message_id"]

    def quotes(call):
        reply = call.params.get("reply_parameters") or {}
        return call.chat_id == chat_id and reply.get("message_id") == message_id

    return (await telegram.wait_for(predicate=quotes, since=since))[0]


def ticket(call):
    found = TICKET.search(call.params["text"])
    assert found, call.params["text"]
    return int(found.group(1))


def delivered_together(telegram, sent):
    """Whether one getUpdates answer carried all of these updates."""
    wanted = {update["update_id"] for update in sent}
    return any(
        c.method == "getUpdates" and wanted <= {u["update_id"] for u in c.result or []}
        for c in telegram.calls
    )


async def filed(hub):
    """Every hazard as (id, text, reporter's Telegram id, grid code)."""
    async with hub.db.session() as s:
        rows = await s.execute(
            select(Hazard.id, Hazard.text, Person.telegram_id, Grid.code)
            .join(Person, Hazard.reporter_id == Person.id)
            .join(Grid, Hazard.grid_id == Grid.id)
            .order_by(Hazard.id)
        )
        return [tuple(row) for row in rows]


async def test_residents_reporting_at_once_each_get_their_own_ticket(bot, bot_hub, telegram, batches):
    await seed(bot_hub)
    await bind_second_group(bot_hub)
    t1, t2 = telegram.group(-1001), telegram.group(-1003)
    reports = [
        (t1, 6001, "张阿姨", "3号楼楼道堆满纸箱"),
        (t2, 6002, "刘叔", "2号楼地下室有人私拉电线"),
        (t1, 6003, "陈奶奶", "5号楼消防通道被电动车堵住"),
        (t2, 6004, "黄师傅", "9号楼楼梯间堆放煤气罐"),
        (t1, 6005, "吴大姐", "7号楼灭火器过期了"),
        (t2, 6006, "郑老师", "11号楼门口消防栓漏水"),
    ]
    sent = [telegram.send_message(chat, telegram.user(uid, name), f"/report {text}")
            for chat, uid, name, text in reports]

    replies = [await answer_to(telegram, s) for s in sent]
    tickets = [ticket(r) for r in replies]
    assert len(set(tickets)) == len(reports)
    assert delivered_together(telegram, sent)
    assert any(len(batch) > 1 for batch in batches), batches  # they really shared a unit of work

    by_id = {hazard_id: (text, uid, code) for hazard_id, text, uid, code in await filed(bot_hub)}
    assert len(by_id) == len(reports)
    for number, (chat, uid, _, text) in zip(tickets, reports, strict=True):
        assert by_id[number] == (text, uid, "T1" if chat is t1 else "T2")


async def test_two_alike_reports_in_one_batch_file_one_and_ask_the_other(bot, bot_hub, telegram, batches):
    await seed(bot_hub)
    group = telegram.group(-1001)
    first = telegram.send_message(group, telegram.user(6001, "张阿姨"), "/report 3号楼楼道堆满纸箱")
    second = telegram.send_message(group, telegram.user(6002, "刘叔"), "/report 3号楼的楼道里堆了好多纸箱")

    number = ticket(await answer_to(telegram, first))
    question = await answer_to(telegram, second)
    assert delivered_together(telegram, [first, second])
    assert batches == [["3号楼楼道堆满纸箱", "3号楼的楼道里堆了好多纸箱"]]  # one batch, in order
    assert f"#{number}" in question.params["text"]
    assert buttons(question) == [f"rs:6002:1:{number}", "rs:6002:1:new"]
    assert [(h, u) for h, _, u, _ in await filed(bot_hub)] == [(number, 6001)]


async def test_a_location_right_behind_its_report_attaches_to_it(bot, bot_hub, telegram):
    await seed(bot_hub)
    group, resident = telegram.group(-1001), telegram.user(6001, "张阿姨")
    report = telegram.send_message(group, resident, "/report 河边护栏断了一截")
    place = telegram.send_location(group, resident, 25.4312, 119.0078)

    number = ticket(await answer_to(telegram, report))
    located = await answer_to(telegram, place)
    assert delivered_together(telegram, [report, place])
    assert located.params["text"] == bot_hub.t("zh-Hans", "hazard.located", id=number)
    hazard = await load(bot_hub, number)
    assert (hazard.lat, hazard.lon) == (pytest.approx(25.4312), pytest.approx(119.0078))


async def test_a_report_that_breaks_the_batch_does_not_sink_the_others(bot, bot_hub, telegram, monkeypatch):
    await seed(bot_hub)
    calls = []
    original = intake.submit_many

    async def fragile(session, submissions, **kwargs):
        texts = [s.draft.text for s in submissions]
        calls.append(texts)
        if any("BOOM" in text for text in texts):
            raise RuntimeError("a report the unit of work cannot take")
        return await original(session, submissions, **kwargs)

    monkeypatch.setattr(intake, "submit_many", fragile)
    group = telegram.group(-1001)
    sent = [
        telegram.send_message(group, telegram.user(6001, "张阿姨"), "/report 3号楼楼道堆满纸箱"),
        telegram.send_message(group, telegram.user(6002, "刘叔"), "/report 5号楼 BOOM 配电箱冒烟"),
        telegram.send_message(group, telegram.user(6003, "陈奶奶"), "/report 7号楼灭火器过期了"),
    ]

    first, broken, third = [await answer_to(telegram, s) for s in sent]
    assert delivered_together(telegram, sent)
    assert any(len(texts) > 1 and any("BOOM" in t for t in texts) for texts in calls), calls
    assert broken.params["text"] == bot_hub.t("zh-Hans", "bot.apology")
    rows = await filed(bot_hub)
    assert sorted((h, u) for h, _, u, _ in rows) == sorted([(ticket(first), 6001), (ticket(third), 6003)])
    assert not any("BOOM" in text for _, text, _, _ in rows)


async def test_the_hourly_limit_counts_reports_sent_in_a_row(bot, bot_hub, telegram, monkeypatch):
    await seed(bot_hub)
    monkeypatch.setattr(bot_hub.settings, "report_limit_per_hour", 2)
    group, resident = telegram.group(-1001), telegram.user(6001, "张阿姨")
    sent = [telegram.send_message(group, resident, f"/report {text}")
            for text in ("3号楼楼道堆满纸箱", "5号楼消防通道被电动车堵住", "7号楼灭火器过期了")]

    replies = [await answer_to(telegram, s) for s in sent]
    assert [ticket(r) for r in replies[:2]] == [1, 2]
    assert replies[2].params["text"] == bot_hub.t("zh-Hans", "hazard.rate_limited", limit=2, minutes=60)
    assert [telegram.calls.index(r) for r in replies] == sorted(telegram.calls.index(r) for r in replies)
    assert [(h, t) for h, t, _, _ in await filed(bot_hub)] == [
        (1, "3号楼楼道堆满纸箱"), (2, "5号楼消防通道被电动车堵住"),
    ]
    assert await count(bot_hub) == 2


async def test_same_as_questions_count_against_the_hourly_limit(bot, bot_hub, telegram, monkeypatch):
    """A question "is this the same as #N?" is a report attempt: a flood of look-alikes is
    refused like a flood of reports, whether the questions are answered or not."""
    await seed(bot_hub)
    monkeypatch.setattr(bot_hub.settings, "report_limit_per_hour", 3)
    group = telegram.group(-1001)
    first, second = telegram.user(6001, "张阿姨"), telegram.user(6002, "刘叔")
    await answer_to(telegram, telegram.send_message(group, first, "/report 3号楼楼道堆满纸箱"))
    asked = []
    for _ in range(3):  # one at a time, as a person would
        asked.append(await answer_to(telegram, telegram.send_message(group, second, "/report 3号楼的楼道里堆了好多纸箱")))
    assert [buttons(q)[0] for q in asked] == ["rs:6002:1:1", "rs:6002:2:1", "rs:6002:3:1"]
    refused = await answer_to(telegram, telegram.send_message(group, second, "/report 3号楼的楼道里堆了好多纸箱"))
    assert refused.params["text"] == bot_hub.t("zh-Hans", "hazard.rate_limited", limit=3, minutes=60)
    unlike = await answer_to(telegram, telegram.send_message(group, second, "/report 9号楼配电间私拉电线"))
    assert unlike.params["text"] == refused.params["text"]  # nor anything else while they are open
    # Answered, a question becomes the report that counts: still three, still refused.
    await press(telegram, group, second, asked[0].result["message_id"], "rs:6002:1:1")
    assert await count(bot_hub) == 2
    again = await answer_to(telegram, telegram.send_message(group, second, "/report 9号楼配电间私拉电线"))
    assert again.params["text"] == refused.params["text"] and await count(bot_hub) == 2


async def test_a_same_as_button_files_only_what_it_offered_to_whom(bot, bot_hub, telegram):
    """rs:<owner>:<question>:<ticket>: a ticket the question did not offer, a question never
    asked or asked of someone else, each get a short alert and change nothing."""
    await seed(bot_hub)
    group = telegram.group(-1001)
    first, second = telegram.user(6001, "张阿姨"), telegram.user(6002, "刘叔")
    await answer_to(telegram, telegram.send_message(group, first, "/report 3号楼楼道堆满纸箱"))
    await answer_to(telegram, telegram.send_message(group, first, "/report 9号楼电梯困人"))
    question = await answer_to(telegram, telegram.send_message(group, second, "/report 3号楼的楼道里堆了好多纸箱"))
    assert buttons(question) == ["rs:6002:1:1", "rs:6002:1:new"]
    message_id = question.result["message_id"]
    expired = bot_hub.t("zh-Hans", "hazard.flow_expired")

    for data in ("rs:6002:1:2", "rs:6002:1:77", "rs:6002:2:1", "rs:6002:2:new"):
        answer = await press(telegram, group, second, message_id, data)
        assert answer["show_alert"] and answer["text"] == expired, data
    answer = await press(telegram, group, first, message_id, "rs:6002:1:2")  # not their question
    assert answer["show_alert"] and answer["text"] == bot_hub.t("zh-Hans", "hazard.not_yours")
    answer = await press(telegram, group, first, message_id, "rs:6001:1:2")  # nor one asked of them
    assert answer["show_alert"] and answer["text"] == expired
    assert await count(bot_hub) == 2 and (await load(bot_hub, 2)).duplicate_of_id is None

    # The question is still open, and its own answer still files what it offered.
    mark = len(telegram.calls)
    await press(telegram, group, second, message_id, "rs:6002:1:1")
    await telegram.wait_for("editMessageText", lambda c: c.chat_id == -1001, since=mark)
    assert (await load(bot_hub, 3)).duplicate_of_id == 1
