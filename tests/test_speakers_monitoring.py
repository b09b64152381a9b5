"""Watching the speakers, on both databases with the fake clock: one message to the workers
when a speaker falls silent and one when it is back, per outage; an alert for an urgent warning
not reported played within two polls; the proof-of-play export."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

from sqlalchemy import select

from broadcasts.speakers import monitoring, reports
from hub import audit
from hub.models import OutboxMessage
from tests.test_speakers_registry import VILLAGE_WORKERS_CHAT, WORKERS_CHAT, add_speaker, area
from tests.test_speakers_schedule import send_warning


async def beat(hub, speaker_id: int) -> None:
    async with hub.db.session() as s:
        await reports.heartbeat(s, speaker_id, {"status": "idle", "version": "0.1.0"}, now=hub.now())


async def speaker_ids(hub) -> dict[str, int]:
    from broadcasts.speakers.models import Speaker

    async with hub.db.session() as s:
        return {sp.code: sp.id for sp in await s.scalars(select(Speaker))}


async def told(hub, chat_id: int) -> list[str]:
    async with hub.db.session() as s:
        rows = await s.scalars(select(OutboxMessage).where(OutboxMessage.chat_id == chat_id)
                               .order_by(OutboxMessage.id))
        return [row.payload["text"] for row in rows]


async def test_a_silent_speaker_is_reported_once_per_outage_and_its_return_too(hub, clock):
    await area(hub)
    await add_speaker(hub, "SPK1", "T1", location="东门")
    await add_speaker(hub, "SPK2", "T1")  # never seen: not installed yet, never "offline"
    ids = await speaker_ids(hub)
    await beat(hub, ids["SPK1"])
    clock.advance(timedelta(minutes=9))
    assert await monitoring.sweep(hub) == monitoring.Swept(0, 0, 0)
    clock.advance(timedelta(minutes=2))
    assert await monitoring.sweep(hub) == monitoring.Swept(1, 0, 0)
    assert await monitoring.sweep(hub) == monitoring.Swept(0, 0, 0)
    [alert] = await told(hub, WORKERS_CHAT)
    assert "SPK1" in alert and "东门" in alert and "10 分钟" in alert and "SPK2" not in alert

    clock.advance(timedelta(minutes=30))
    assert await monitoring.sweep(hub) == monitoring.Swept(0, 0, 0)  # still silent: nothing more
    await beat(hub, ids["SPK1"])
    assert await monitoring.sweep(hub) == monitoring.Swept(0, 1, 0)
    assert await monitoring.sweep(hub) == monitoring.Swept(0, 0, 0)
    assert "恢复在线" in (await told(hub, WORKERS_CHAT))[-1]

    clock.advance(timedelta(minutes=11))  # a second outage is a second message
    assert await monitoring.sweep(hub) == monitoring.Swept(1, 0, 0)
    assert len(await told(hub, WORKERS_CHAT)) == 3
    async with hub.db.session() as s:
        actions = [h.action for h in await audit.history(s, "speaker", "SPK1")]
    assert actions == ["create", "offline", "back", "offline"]


async def test_the_nearest_workers_group_above_a_speaker_hears_of_it(hub, clock):
    await area(hub)
    await add_speaker(hub, "SPK3", "T3")  # the village's grid: no workers' group of its own
    await beat(hub, (await speaker_ids(hub))["SPK3"])
    clock.advance(timedelta(minutes=15))
    await monitoring.sweep(hub)
    assert len(await told(hub, VILLAGE_WORKERS_CHAT)) == 1
    assert await told(hub, WORKERS_CHAT) == []


async def test_an_urgent_warning_not_reported_played_within_two_polls_is_reported(hub, clock):
    await area(hub)
    await add_speaker(hub, "SPK1", "T1")
    await add_speaker(hub, "SPK2", "T1")
    ids = await speaker_ids(hub)
    clock.advance(timedelta(seconds=5))
    for code in ("SPK1", "SPK2"):
        await beat(hub, ids[code])
    warning_id = await send_warning(hub, "红 化工厂泄漏，请关闭门窗")
    item = f"urgent:{warning_id}:red"
    async with hub.db.session() as s:
        await reports.record_plays(s, ids["SPK2"], {"plays": [{
            "id": "x1", "item": item, "started": hub.now().isoformat(), "result": "playing"}]}, now=hub.now())
    clock.advance(timedelta(seconds=25))
    assert (await monitoring.sweep(hub)).missed == 0  # not two polls (and the clip's length) yet
    clock.advance(timedelta(seconds=60))
    for code in ("SPK1", "SPK2"):
        await beat(hub, ids[code])
    assert (await monitoring.sweep(hub)).missed == 1
    assert (await monitoring.sweep(hub)).missed == 0  # asked again: nothing new
    messages = [m for m in await told(hub, WORKERS_CHAT) if "没有报告播放" in m]
    assert len(messages) == 1 and "SPK1" in messages[0] and "化工厂泄漏" in messages[0]


async def test_the_proof_of_play_log_exports_as_csv_and_json(hub, clock):
    await area(hub)
    await add_speaker(hub, "SPK1", "T1")
    await add_speaker(hub, "SPK3", "T3")
    ids = await speaker_ids(hub)
    async with hub.db.session() as s:
        for code, client_id in (("SPK1", "a"), ("SPK3", "b")):
            await reports.record_plays(s, ids[code], {"plays": [{
                "id": client_id, "item": "filler:1:20261109T0800Z", "scheduled": "2026-11-09T08:00:00Z",
                "started": "2026-11-09T08:00:01Z", "ended": "2026-11-09T08:00:27Z", "result": "played"}]},
                now=hub.now())
        rows = await reports.log_rows(s, None)
        village = await reports.log_rows(s, None, under="C2")
    assert [r.speaker for r in rows] == ["SPK1", "SPK3"] and [r.grid for r in village] == ["T3"]
    table = list(csv.DictReader(io.StringIO(reports.export(rows, "csv", hub.tz).decode("utf-8-sig"))))
    assert table[0] == {"speaker": "SPK1", "grid": "T1", "item": "filler:1:20261109T0800Z",
                        "scheduled": "2026-11-09T16:00:00+08:00", "started": "2026-11-09T16:00:01+08:00",
                        "ended": "2026-11-09T16:00:27+08:00", "result": "played", "error": ""}
    assert json.loads(reports.export(rows, "json", hub.tz))[1]["speaker"] == "SPK3"


async def test_the_overview_puts_silent_speakers_first_with_what_they_played_today(hub, clock):
    await area(hub)
    for code in ("SPK1", "SPK2", "SPK3"):
        await add_speaker(hub, code, "T1")
    ids = await speaker_ids(hub)
    await beat(hub, ids["SPK3"])
    async with hub.db.session() as s:
        await reports.record_plays(s, ids["SPK3"], {"plays": [
            {"id": "1", "item": "urgent:4:red", "started": hub.now().isoformat(), "result": "played"},
            {"id": "2", "item": "filler:1:x", "started": hub.now().isoformat(), "result": "played"},
            {"id": "3", "item": "filler:1:y", "started": hub.now().isoformat(), "result": "failed"},
            {"id": "4", "item": "filler:1:z", "started": (hub.now() - timedelta(days=1)).isoformat(),
             "result": "played"},
        ]}, now=hub.now())
    await beat(hub, ids["SPK2"])
    clock.advance(timedelta(minutes=12))
    await beat(hub, ids["SPK3"])
    async with hub.db.session() as s:
        found = await monitoring.overview(s, hub, None)
    assert [(f.speaker.code, f.state) for f in found] == [("SPK2", "offline"), ("SPK1", "unseen"), ("SPK3", "online")]
    assert found[2].played_today == {"urgent": 1, "filler": 1, "failed": 1}


async def test_the_speaker_jobs_are_on_the_timetable_and_run(hub, clock):
    import scheduler

    names = {job.func.__name__ for job in scheduler.jobs(hub)}
    assert {"speaker_urgent_clips", "speaker_script_clips", "speaker_monitor"} <= names
    await area(hub)
    await add_speaker(hub, "SPK1", "T1")
    await beat(hub, (await speaker_ids(hub))["SPK1"])
    clock.advance(timedelta(minutes=11))
    for job in (scheduler.speaker_urgent_clips, scheduler.speaker_script_clips, scheduler.speaker_monitor):
        await job(hub)
    assert len(await told(hub, WORKERS_CHAT)) == 1
