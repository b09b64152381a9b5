"""Numbers no row can have — superscripts, 20 and 25 digits — in commands and in callback data
get a clear answer, never the apology of the crash path (issue 12, item 11)."""

import pytest

from tests.test_report_bot import buttons, card_in, press, say, seed

APOLOGY = "出了点问题"
HUGE = "9" * 20


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/hazard ²", "用法：/hazard 编号"),
        ("/hazard ٣", "用法：/hazard 编号"),  # a digit to Python, not to us
        (f"/hazard {HUGE}", f"没有编号为 #{HUGE} 的隐患"),
        (f"/hazard #{'1' * 400}", "没有编号为 #111"),
        ("/hazard 0", "没有编号为 #0 的隐患"),
        ("/answer ² 在物业", "用法：/answer 问题编号"),
        (f"/answer {HUGE} 在物业", f"没有编号为 {HUGE} 的问题"),
        ("/record ²", "用法：/record"),
        (f"/record R{HUGE}", f"没有编号为 {HUGE} 的录音请求"),
        ("/warn update ² 台风已过", "用法：/warn"),
        (f"/warn update {HUGE} 台风已过", f"没有编号为 {HUGE} 的预警"),
        (f"/warn cancel #{HUGE}", f"没有编号为 {HUGE} 的预警"),
    ],
)
async def test_out_of_range_numbers_in_commands(bot, bot_hub, telegram, text, expected):
    await seed(bot_hub)
    worker = telegram.user(5001, "王芳")
    reply = await say(telegram, telegram.private(worker), worker, text)
    assert expected in reply.params["text"]
    assert APOLOGY not in reply.params["text"]


async def test_callbacks_with_huge_ids(bot, bot_hub, telegram):
    await seed(bot_hub)
    group = telegram.group(-1001)
    await say(telegram, group, telegram.user(6001, "张阿姨"), "/report 3号楼楼道堆满纸箱")
    card = await card_in(telegram, -1001, "accept")
    worker, huge = telegram.user(5001, "王芳"), "9" * 25
    for data, expected in [
        (f"hz:{huge}:accept", "的隐患"),
        (f"hz:{huge}:fixed", "的隐患"),
        (f"hzf:{huge}:no", "的隐患"),
        (f"wn:{huge}:send", "的预警"),
        (f"wn:{huge}:report", "的预警"),
        (f"qp:{huge}", "的问题"),
        (f"rec:{huge}", "的录音请求"),
    ]:
        answer = await press(telegram, group, worker, card.result["message_id"], data)
        assert expected in answer["text"] and APOLOGY not in answer["text"], data

    # the answer to "is this the same as #N?" carries a ticket number too
    second = telegram.user(6002, "刘叔")
    question = await say(telegram, group, second, "/report 3号楼的楼道里堆了好多纸箱")
    assert buttons(question) == ["rs:6002:1:1", "rs:6002:1:new"]
    answer = await press(telegram, group, second, question.result["message_id"], f"rs:6002:1:{huge}")
    assert "的隐患" in answer["text"] and APOLOGY not in answer["text"]


async def test_a_huge_original_number_after_dup(bot, bot_hub, telegram):
    await seed(bot_hub)
    group = telegram.group(-1001)
    await say(telegram, group, telegram.user(6001, "张阿姨"), "/report 7号楼消防通道被铁门锁死")
    card = await card_in(telegram, -1001, "dup")
    worker = telegram.user(5001, "王芳")
    mark = len(telegram.calls)
    await press(telegram, group, worker, card.result["message_id"], "hz:1:dup")
    await telegram.reply_to(5001, since=mark)
    private = telegram.private(worker)
    assert "只发送编号" in (await say(telegram, private, worker, "²")).params["text"]
    reply = await say(telegram, private, worker, f"#{HUGE}")
    assert f"没有编号为 #{HUGE} 的隐患" in reply.params["text"]
