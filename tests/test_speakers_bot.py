"""/speakers end to end: the real Application and the fake Bot API. Workers and staff see the
speakers of their area, offline ones first, with what each played today; residents do not."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from broadcasts.speakers import reports
from broadcasts.speakers.models import Speaker
from tests.test_speakers_registry import WORKERS_CHAT, add_speaker, area


async def ask(telegram, chat, user, text="/speakers"):
    mark = len(telegram.calls)
    telegram.send_message(chat, user, text)
    return (await telegram.reply_to(chat["id"], since=mark)).params["text"]


async def test_workers_and_staff_see_their_speakers_offline_first(bot, bot_hub, telegram, clock):
    await area(bot_hub)
    for code, grid in (("SPK1", "T1"), ("SPK2", "T1"), ("SPK3", "T3")):
        await add_speaker(bot_hub, code, grid)
    async with bot_hub.db.session() as s:
        ids = {sp.code: sp.id for sp in await s.scalars(select(Speaker))}
        for code in ("SPK1", "SPK2", "SPK3"):
            await reports.heartbeat(s, ids[code], {"status": "idle", "version": "0.1.0"}, now=bot_hub.now())
        await reports.record_plays(s, ids["SPK2"], {"plays": [
            {"id": "1", "item": "urgent:7:red", "started": bot_hub.now().isoformat(), "result": "played"},
            {"id": "2", "item": "campaign:1:x", "started": bot_hub.now().isoformat(), "result": "played"},
            {"id": "3", "item": "campaign:1:y", "started": bot_hub.now().isoformat(), "result": "failed"},
        ]}, now=bot_hub.now())
    clock.advance(timedelta(minutes=20))
    async with bot_hub.db.session() as s:
        await reports.heartbeat(s, ids["SPK2"], {"status": "idle", "version": "0.1.0"}, now=bot_hub.now())

    worker = telegram.user(5001, "王芳")  # T1
    lines = (await ask(telegram, telegram.private(worker), worker)).splitlines()
    assert lines[0] == "📢 大喇叭：共 2 个，1 个离线"
    assert lines[1].startswith("🔴 SPK1") and "离线" in lines[1] and "最后在线 11-09 16:00" in lines[1]
    assert lines[2].startswith("🟢 SPK2") and "播放 2 次（紧急 1、宣传 1），失败 1 次" in lines[2]

    staff = telegram.user(5901, "陈建国", language_code="en")  # the whole street
    lines = (await ask(telegram, telegram.private(staff), staff)).splitlines()
    assert lines[0] == "📢 Loudspeakers: 3, 2 offline"
    assert [line.split()[1] for line in lines[1:]] == ["SPK1", "SPK3", "SPK2"]

    # in T1's workers' group: T1's speakers
    group = telegram.group(WORKERS_CHAT, "T1 workers")
    assert "共 2 个" in await ask(telegram, group, worker)


async def test_residents_are_refused_and_residents_groups_are_not_told(bot, bot_hub, telegram):
    await area(bot_hub)
    await add_speaker(bot_hub, "SPK1", "T1")
    resident = telegram.user(6001, "张阿姨")
    assert "网格员" in await ask(telegram, telegram.private(resident), resident)
    worker = telegram.user(5001, "王芳")
    group = telegram.group(-1001, "南苑一网格居民群")
    assert "私聊" in await ask(telegram, group, worker)


async def test_an_area_without_speakers_says_so(bot, bot_hub, telegram):
    await area(bot_hub)
    worker = telegram.user(5004, "林秀英")
    assert "还没有登记大喇叭" in await ask(telegram, telegram.private(worker), worker)
