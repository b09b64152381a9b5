"""Warnings in the service layer, on both databases: drafts, sending, updates, cancellations."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from broadcasts.warnings import lifecycle as warnings
from broadcasts.warnings.models import Level, MsgType, UrgentItem, WarningStatus
from cli.demo import load_demo
from hub import audit, grids, outbox, people
from hub.errors import Conflict, InvalidInput, PermissionDenied
from hub.models import ChatKind

CHATS = {"T1": -1001, "T2": -1002, "T3": -1003, "C1": -1010}


async def district(hub):
    """The demo district with a residents' group on T1, T2, T3, C1 and a workers' group on T1."""
    await load_demo(hub)
    async with hub.db.session() as s:
        staff = await people.get(s, 5901)
        for code, chat_id in CHATS.items():
            await grids.bind_chat(s, actor=staff, telegram_chat_id=chat_id, title=code, code=code, now=hub.now())
        await grids.bind_chat(s, actor=staff, telegram_chat_id=-1101, title="T1 workers", code="T1",
                              kind=ChatKind.WORKERS, now=hub.now())


async def queued(hub, warning_id):
    async with hub.db.session() as s:
        return sorted(m.chat_id for m in await outbox.per_chat(s, warnings.OUTBOX_REF, warning_id))


@pytest.mark.parametrize(
    ("text", "level", "codes", "rest"),
    [
        ("red 台风来了", Level.RED, (), "台风来了"),
        ("橙 #C1 #T3 暴雨 注意", Level.ORANGE, ("C1", "T3"), "暴雨 注意"),
        ("紅色 颱風", Level.RED, (), "颱風"),
        ("Heavy rain tonight", None, (), "Heavy rain tonight"),
        ("", None, (), ""),
    ],
)
def test_parse_command(text, level, codes, rest):
    assert warnings.parse_command(text) == warnings.Command(level, codes, rest)


async def test_a_workers_red_warning_reaches_every_chat_of_the_grid_and_no_other(hub):
    await district(hub)
    async with hub.db.session() as s:
        worker = await people.get(s, 5001)
        draft = await warnings.draft(s, hub, worker, warnings.parse_command("红 液化气站泄漏，请远离东门"))
        draft_id = draft.id
    assert await queued(hub, draft_id) == []  # a preview sends nothing
    async with hub.db.session() as s:
        worker = await people.get(s, 5001)
        sent = await warnings.send(s, hub, worker, draft_id)
        assert sent.chats == 2 and sent.speakers == 1
    assert await queued(hub, draft_id) == [-1101, -1001]
    async with hub.db.session() as s:
        rows = await outbox.per_chat(s, warnings.OUTBOX_REF, draft_id)
        assert all(r.payload["pin"] for r in rows)  # red is pinned
        assert "红色预警" in rows[0].payload["text"] and "东门" in rows[0].payload["text"]
        assert rows[0].expires_at is not None
        items = list(await s.scalars(select(UrgentItem)))
        assert [i.warning_id for i in items] == [draft_id]
        t1 = await grids.get(s, "T1")
        assert [i.warning_id for i in await warnings.urgent_items(s, t1, hub.now())] == [draft_id]
        assert [e.action for e in await audit.history(s, "warning", draft_id)] == ["draft", "send"]
        # sending twice (a replayed press) is refused and queues nothing more
        with pytest.raises(Conflict):
            await warnings.send(s, hub, worker, draft_id)


async def test_staff_may_target_a_subtree_and_workers_only_their_grid(hub):
    await district(hub)
    async with hub.db.session() as s:
        staff = await people.get(s, 5901)
        warning = await warnings.draft(s, hub, staff, warnings.parse_command("黄 #C1 明天有大风"))
        await warnings.send(s, hub, staff, warning.id)
        warning_id = warning.id
    assert await queued(hub, warning_id) == [-1101, -1010, -1002, -1001]
    async with hub.db.session() as s:
        worker = await people.get(s, 5001)
        with pytest.raises(PermissionDenied):
            await warnings.draft(s, hub, worker, warnings.parse_command("黄 #T3 明天有大风"))


async def test_residents_cannot_warn_and_strangers_cannot_send_or_edit(hub):
    await district(hub)
    async with hub.db.session() as s:
        resident = await people.get(s, 6001)
        with pytest.raises(PermissionDenied):
            await warnings.draft(s, hub, resident, warnings.parse_command("红 着火了"))
        worker = await people.get(s, 5001)
        draft = await warnings.draft(s, hub, worker, warnings.parse_command("蓝 注意用电"))
        draft_id = draft.id
    for stranger_id in (6001, 5003, 5002):  # a resident, another grid's worker, a colleague
        async with hub.db.session() as s:
            stranger = await people.get(s, stranger_id)
            with pytest.raises(PermissionDenied):
                await warnings.send(s, hub, stranger, draft_id)
            with pytest.raises(PermissionDenied):
                await warnings.edit(s, hub, stranger, draft_id, "改掉")
    assert await queued(hub, draft_id) == []


@pytest.mark.parametrize(
    ("text", "key"),
    [("", "warn.empty"), ("红", "warn.empty"), ("红 " + "火" * 1001, "warn.too_long"), ("红 🔥🔥！！", "warn.no_words")],
)
async def test_bad_warning_text_is_refused(hub, text, key):
    await district(hub)
    async with hub.db.session() as s:
        worker = await people.get(s, 5001)
        with pytest.raises(InvalidInput) as raised:
            await warnings.draft(s, hub, worker, warnings.parse_command(text))
    assert raised.value.key == key


async def test_update_and_cancel_reach_the_same_chats_and_reference_the_original(hub):
    await district(hub)
    async with hub.db.session() as s:
        worker = await people.get(s, 5001)
        first = await warnings.draft(s, hub, worker, warnings.parse_command("橙 暴雨"))
        await warnings.send(s, hub, worker, first.id)
        first_id = first.id
    async with hub.db.session() as s:
        worker = await people.get(s, 5001)
        update = await warnings.follow_up(s, hub, worker, first_id, MsgType.UPDATE, "红 暴雨加强")
        assert update.references_id == first_id and update.level is Level.RED
        await warnings.send(s, hub, worker, update.id)
        update_id = update.id
    async with hub.db.session() as s:
        worker = await people.get(s, 5001)
        assert (await warnings.get(s, first_id)).status is WarningStatus.SUPERSEDED
        cancel = await warnings.follow_up(s, hub, worker, update_id, MsgType.CANCEL, "")
        await warnings.send(s, hub, worker, cancel.id)
        cancel_id = cancel.id
    assert await queued(hub, update_id) == await queued(hub, first_id) == await queued(hub, cancel_id)
    async with hub.db.session() as s:
        assert (await warnings.get(s, update_id)).status is WarningStatus.CANCELLED
        rows = await outbox.per_chat(s, warnings.OUTBOX_REF, cancel_id)
        assert "解除预警" in rows[0].payload["text"] and not rows[0].payload["pin"]
        items = list(await s.scalars(select(UrgentItem).where(UrgentItem.withdrawn_at.is_(None))))
        assert items == []  # the loudspeakers stop playing it
        worker = await people.get(s, 5001)
        with pytest.raises(Conflict):  # nothing left to cancel
            await warnings.follow_up(s, hub, worker, update_id, MsgType.CANCEL, "")


async def test_an_expired_warning_is_not_broadcast(hub, clock):
    await district(hub)
    async with hub.db.session() as s:
        worker = await people.get(s, 5001)
        draft = await warnings.draft(s, hub, worker, warnings.parse_command("黄 今晚停水"))
        sent = await warnings.draft(s, hub, worker, warnings.parse_command("黄 今晚停电"))
        await warnings.send(s, hub, worker, sent.id)
        draft_id, sent_id = draft.id, sent.id
    clock.advance(timedelta(hours=hub.settings.warning_hours, minutes=1))
    async with hub.db.session() as s:
        worker = await people.get(s, 5001)
        with pytest.raises(Conflict) as raised:
            await warnings.send(s, hub, worker, draft_id)
        assert raised.value.key == "warn.expired"
        # what was queued but not delivered before it expired fails instead of going out late
        assert await outbox.claim(s, worker="w", now=hub.now()) == []
        assert await outbox.expire(s, now=hub.now()) == 2
        report = await outbox.report(s, warnings.OUTBOX_REF, sent_id)
        assert report["failed"] == 2 and report["pending"] == 0


async def test_delivery_report_counts_each_chat(hub):
    await district(hub)
    async with hub.db.session() as s:
        worker = await people.get(s, 5001)
        warning = await warnings.draft(s, hub, worker, warnings.parse_command("蓝 注意防火"))
        await warnings.send(s, hub, worker, warning.id)
        warning_id = warning.id
    async with hub.db.session() as s:
        claimed = await outbox.claim(s, worker="w", now=hub.now())
        await outbox.mark_sent(s, claimed[0].id, now=hub.now(), telegram_message_id=7)
        await outbox.mark_failed(s, claimed[1].id, now=hub.now(), error="Forbidden: bot was kicked")
    async with hub.db.session() as s:
        report = await warnings.delivery_report(s, None, warning_id)
        assert report.counts == {"pending": 0, "sending": 0, "sent": 1, "failed": 1}
        assert {status for _, status, _ in report.chats} == {"sent", "failed"}
        resident = await people.get(s, 6001)
        with pytest.raises(PermissionDenied):
            await warnings.delivery_report(s, resident, warning_id)
