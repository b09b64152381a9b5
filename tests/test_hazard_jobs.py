"""The scheduler's hazard jobs: overdue reminders, escalation and "is it fixed?", on a fake clock."""

from datetime import timedelta

from sqlalchemy import select

import scheduler
from hub.outbox import OutboxMessage
from tests.test_hazards import act, file, setup


async def queued(hub):
    async with hub.db.session() as s:
        rows = await s.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        return [(m.chat_id, m.payload) for m in rows]


async def run(job, hub, times=3):
    for _ in range(times):
        await job(hub)


def test_the_hazard_jobs_are_on_the_timetable(sqlite_hub):
    names = {job.func.__name__ for job in scheduler.jobs(sqlite_hub)}
    assert {"hazard_overdue", "hazard_followup"} <= names


async def test_an_overdue_hazard_is_reminded_then_escalated_exactly_once_each(hub, clock):
    p = await setup(hub)
    hazard = (await file(hub, p["r1"], "3号楼楼道堆满纸箱")).hazard  # corridor clutter: 48 h
    await act(hub, p["w1"], hazard.id, "accept")

    await run(scheduler.hazard_overdue, hub)
    assert await queued(hub) == []

    clock.advance(timedelta(hours=49))
    await run(scheduler.hazard_overdue, hub)
    [(chat_id, payload)] = await queued(hub)
    assert chat_id == p["w1"].telegram_id  # the assignee, in private
    assert payload["text"].startswith(f"⏰ 隐患 #{hazard.id}") and "1 小时" in payload["text"]
    assert "buttons" not in payload and "reply_markup" not in payload

    clock.advance(timedelta(hours=12))  # still within the escalation grace (24 h)
    await run(scheduler.hazard_overdue, hub)
    assert len(await queued(hub)) == 1

    clock.advance(timedelta(hours=13))
    await run(scheduler.hazard_overdue, hub)
    clock.advance(timedelta(days=2))
    await run(scheduler.hazard_overdue, hub)
    sent = await queued(hub)
    assert len(sent) == 2
    chat_id, payload = sent[1]
    assert chat_id == p["staff"].telegram_id and "超期督办" in payload["text"]
    assert p["w1"].name in payload["text"]  # who was assigned


async def test_a_closed_hazard_is_followed_up_once_with_yes_no_buttons(hub, clock):
    p = await setup(hub)
    hazard = (await file(hub, p["r1"])).hazard
    await act(hub, p["w1"], hazard.id, "accept")
    await act(hub, p["w1"], hazard.id, "fixed", photo="ab" * 32)
    await act(hub, p["w2"], hazard.id, "verify")

    clock.advance(timedelta(days=2))
    await run(scheduler.hazard_followup, hub)
    assert await queued(hub) == []
    clock.advance(timedelta(days=1, minutes=1))
    await run(scheduler.hazard_followup, hub)
    [(chat_id, payload)] = await queued(hub)
    assert chat_id == p["r1"].telegram_id and "真的解决了吗" in payload["text"]
    [row] = payload["buttons"]
    assert [tuple(b) for b in row] == [
        ("已解决", f"hzf:{hazard.id}:yes"), ("还没解决", f"hzf:{hazard.id}:no"),
    ]
    # a closed hazard is no longer overdue business
    clock.advance(timedelta(days=30))
    await run(scheduler.hazard_overdue, hub)
    assert len(await queued(hub)) == 1
