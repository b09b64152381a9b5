"""The delivery outbox: claimed, leased, retried and reported, on both databases."""

import asyncio
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import select
from telegram import Bot
from telegram.request import HTTPXRequest

from bot.delivery import Limiter, OutboxSender
from hub import grids, migrate, notify, outbox
from hub.models import Chat, OutboxMessage, Role
from tests.conftest import TOKEN
from tests.test_grids import appoint, bind, tree


async def fill(hub, chats, ref=("warning", 1)):
    async with hub.db.session() as s:
        for chat_id in chats:
            await outbox.enqueue(s, chat_id=chat_id, payload={"text": f"预警 {chat_id}"}, now=hub.now(),
                                 ref=ref, dedupe_key=f"{ref[0]}:{ref[1]}:{chat_id}")


async def test_claims_lease_and_report(hub, clock):
    await fill(hub, [-1, -2, -3])
    await fill(hub, [-1])  # the same warning to the same chat again: no second message
    async with hub.db.session() as s:
        first = await outbox.claim(s, worker="a", now=clock.now(), limit=2)
    async with hub.db.session() as s:
        second = await outbox.claim(s, worker="b", now=clock.now(), limit=5)
    assert [e.chat_id for e in first] == [-1, -2] and [e.chat_id for e in second] == [-3]
    async with hub.db.session() as s:
        await outbox.mark_sent(s, first[0].id, now=clock.now(), telegram_message_id=10)
        await outbox.mark_retry(s, first[1].id, now=clock.now(), error="502", attempts=1)
        assert await outbox.report(s, "warning", 1) == {"pending": 1, "sending": 1, "sent": 1, "failed": 0}
        assert await outbox.claim(s, worker="a", now=clock.now()) == []  # retry not due, lease not out
    clock.advance(outbox.LEASE + timedelta(seconds=1))
    async with hub.db.session() as s:
        again = await outbox.claim(s, worker="c", now=clock.now())
    assert sorted(e.chat_id for e in again) == [-3, -2]  # the dead worker's lease ran out
    assert {e.chat_id: e.attempts for e in again} == {-2: 2, -3: 2}


async def test_concurrent_claims_never_overlap(hub):
    await fill(hub, range(-1, -41, -1))

    async def worker(name):
        taken = []
        while True:
            async with hub.db.session() as s:
                batch = await outbox.claim(s, worker=name, now=hub.now(), limit=3)
            if not batch:
                return taken
            taken += [e.id for e in batch]

    results = await asyncio.gather(*(worker(f"w{i}") for i in range(4)))
    everything = [i for r in results for i in r]
    assert len(everything) == 40 and len(set(everything)) == 40


def test_limiter_paces_evenly_under_the_ceiling_and_windows_each_group():
    now = [0.0]
    limiter = Limiter(per_second=10, per_group_minute=2, clock=lambda: now[0])
    gap = (1 + Limiter.SAFETY) / 10
    assert limiter.wait_for(1) == 0
    limiter.take(1)
    assert limiter.wait_for(2) == pytest.approx(gap)  # the next send waits its turn
    times = []
    for chat in range(2, 32):  # thirty sends, each when the limiter allows it
        now[0] += limiter.wait_for(chat)
        limiter.take(chat)
        times.append(now[0])
    assert max(sum(1 for t in times if start <= t < start + 1.0) for start in times) <= 10
    now[0] = 100.0
    limiter.take(-5)
    now[0] += limiter.wait_for(-5)
    limiter.take(-5)
    assert limiter.wait_for(-5) == pytest.approx(60.0 * (1 + Limiter.SAFETY) - (now[0] - 100.0))
    assert limiter.wait_for(-6) <= gap
    now[0] = 200.0
    assert limiter.wait_for(-5) == 0


@pytest.fixture
async def sender(sqlite_hub, telegram):
    bot = Bot(TOKEN, base_url=telegram.base_url, base_file_url=telegram.base_file_url,
              request=HTTPXRequest(connection_pool_size=16, read_timeout=2))
    async with bot:
        yield OutboxSender(sqlite_hub, bot, concurrency=8)


async def drain_all(sender, clock, rounds=30):
    for _ in range(rounds):
        await sender.drain()
        async with sender.hub.db.session() as s:
            counts = await outbox.report(s, "warning", 1)
        if counts["pending"] == counts["sending"] == 0:
            return counts
        clock.advance(timedelta(minutes=10))
    raise AssertionError(f"not drained: {counts}")


async def test_every_message_arrives_despite_faults(sender, telegram, clock):
    chats = list(range(-1000, -1300, -1))
    await fill(sender.hub, chats)
    telegram.set_faults(0.2, kinds=("429", "5xx", "slow", "drop"), retry_after=1, slow_seconds=0.05, seed=3)
    counts = await drain_all(sender, clock)
    assert counts == {"pending": 0, "sending": 0, "sent": 300, "failed": 0}
    delivered = Counter(c.chat_id for c in telegram.sent(method="sendMessage"))
    assert set(delivered) == set(chats) and max(delivered.values()) == 1
    assert min(telegram.fault_counts[k] for k in ("429", "5xx", "slow", "drop")) > 0


async def test_blocked_chats_are_deactivated_and_migrated_ones_followed(sender, telegram, clock):
    hub = sender.hub
    await tree(hub)
    worker = await appoint(hub, 1, Role.WORKER, "T1")
    await bind(hub, worker, "T1", chat_id=-10)
    await bind(hub, worker, "T1", chat_id=-20)
    telegram.block(-10)
    telegram.migrate_group(-20, -2000)
    await fill(hub, [-10, -20])
    counts = await drain_all(sender, clock)
    assert counts == {"pending": 0, "sending": 0, "sent": 1, "failed": 1}
    assert [c.chat_id for c in telegram.sent(method="sendMessage")] == [-2000]
    async with hub.db.session() as s:
        assert await grids.chat_binding(s, -10) is None
        moved = await grids.chat_binding(s, -2000)
        assert isinstance(moved, Chat) and moved.grid_id is not None


async def test_buttons_reach_telegram_from_new_rows_and_from_rows_written_before(sender, telegram, clock):
    """Rows queued before buttons were stored as (label, data) carry Bot API `reply_markup`
    JSON; an upgraded hub keeps them and sends them with the same keyboard as new rows."""
    hub = sender.hub
    card = [[("受理", "hz:7:accept"), ("驳回", "hz:7:reject")], [("重复", "hz:7:dup")]]
    old_markup = {"inline_keyboard": [[{"text": label, "callback_data": data} for label, data in row]
                                      for row in card]}
    async with hub.db.session() as s:
        await outbox.enqueue(s, chat_id=-1, payload={"text": "隐患 #7", "reply_markup": old_markup},
                             now=hub.now(), ref=("hazard", 7))
    await migrate.upgrade(hub.db)
    async with hub.db.session() as s:
        await notify.to_chat(s, hub, -2, notify.Message("隐患 #7", card), ref=("hazard", 7), priority=3)
        stored = await outbox.per_chat(s, "hazard", 7)
    assert [(r.chat_id, r.payload) for r in stored] == [
        (-2, {"text": "隐患 #7", "buttons": [[list(b) for b in row] for row in card]}),
        (-1, {"text": "隐患 #7", "reply_markup": old_markup}),
    ]
    await sender.drain()
    async with hub.db.session() as s:
        assert await outbox.report(s, "hazard", 7) == {"pending": 0, "sending": 0, "sent": 2, "failed": 0}
    [old] = telegram.sent(chat_id=-1, method="sendMessage")
    [new] = telegram.sent(chat_id=-2, method="sendMessage")
    assert old.params["reply_markup"] == new.params["reply_markup"] == old_markup
    assert "buttons" not in new.params and old.params["text"] == new.params["text"] == "隐患 #7"


async def test_a_batch_is_queued_in_one_statement_and_delivered_like_single_messages(sender, telegram, clock):
    hub = sender.hub
    batch = [(-3000 - i, notify.Message(f"防火宣传 {i}", [[("了解", f"cp:{i}")]])) for i in range(40)]
    async with hub.db.session() as s:
        assert await notify.to_chats(s, [], now=clock.now()) == 0
    statements = []
    engine = hub.db.engine.sync_engine

    def count(_conn, _cursor, statement, *_args):
        if statement.lstrip().upper().startswith("INSERT INTO OUTBOX"):
            statements.append(statement)

    sa_event.listen(engine, "before_cursor_execute", count)
    try:
        async with hub.db.session() as s:
            queued = await notify.to_chats(s, batch, now=clock.now(), ref=("warning", 1),
                                           expires_at=clock.now() + timedelta(hours=1))
    finally:
        sa_event.remove(engine, "before_cursor_execute", count)
    assert queued == 40 and len(statements) == 1
    counts = await drain_all(sender, clock)
    assert counts == {"pending": 0, "sending": 0, "sent": 40, "failed": 0}
    sent = {c.chat_id: c.params for c in telegram.sent(method="sendMessage")}
    assert sent[-3007]["text"] == "防火宣传 7"
    assert sent[-3007]["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "cp:7"


async def test_a_batch_keeps_each_messages_kind_priority_and_subject(sender, clock):
    hub = sender.hub
    async with hub.db.session() as s:
        queued = await notify.queue(s, [
            notify.Outgoing(-1, notify.Message("卡片"), priority=3, ref=("hazard", 7)),
            notify.Outgoing(-2, notify.Message("图", kind="photo", path="/x.jpg"), priority=1, ref=("hazard", 8)),
            notify.Outgoing(-3, notify.Message("通知")),
        ], now=clock.now())
    assert queued == 3
    async with hub.db.session() as s:
        rows = {m.chat_id: m for m in await s.scalars(select(OutboxMessage))}
    assert (rows[-1].kind, rows[-1].priority, rows[-1].ref_type, rows[-1].ref_id) == ("text", 3, "hazard", "7")
    assert (rows[-2].kind, rows[-2].priority, rows[-2].ref_id) == ("photo", 1, "8")
    assert (rows[-3].priority, rows[-3].ref_type) == (5, None)
