"""Nobody keeps power over a warning they no longer hold (issue 12, item 1).

Sending, editing, updating, cancelling and discarding a warning each ask, at that moment,
for an active worker or staff member whose scope covers the warning's grids; having written
it is not enough. Follow-ups to an expired warning are refused.
"""

from datetime import timedelta

import pytest

from broadcasts.warnings import lifecycle as warnings
from broadcasts.warnings.models import MsgType, UrgentItem, WarningStatus
from hub import outbox, people
from hub.errors import Conflict, PermissionDenied
from hub.models import Role
from tests.test_warn_bot import buttons, command, press
from tests.test_warnings import CHATS, district, queued


async def appoint(hub, telegram_id, role, grid):
    """Change a person's role or grid through the people service, as `gridcast people add` does."""
    async with hub.db.session() as s:
        person = await people.get(s, telegram_id)
        await people.appoint(s, telegram_id=telegram_id, name=person.name, role=role, grid_code=grid,
                             actor="test", now=hub.now())


async def deactivate(hub, telegram_id):
    async with hub.db.session() as s:
        (await people.get(s, telegram_id)).active = False


async def drafted(hub, text="橙 东门液化气泄漏", *, by=5001, send=False):
    async with hub.db.session() as s:
        worker = await people.get(s, by)
        warning = await warnings.draft(s, hub, worker, warnings.parse_command(text))
        if send:
            await warnings.send(s, hub, worker, warning.id)
        return warning.id


CHANGES = {
    "made a resident": lambda hub: appoint(hub, 5001, Role.RESIDENT, None),
    "deactivated": lambda hub: deactivate(hub, 5001),
    "moved to T3": lambda hub: appoint(hub, 5001, Role.WORKER, "T3"),
}


def _acts(session, hub, worker, warning_id):
    return {
        "send": lambda: warnings.send(session, hub, worker, warning_id),
        "edit": lambda: warnings.edit(session, hub, worker, warning_id, "红 改过的内容"),
        "discard": lambda: warnings.discard(session, hub, worker, warning_id),
        "edit button": lambda: warnings.editable(session, worker, warning_id),
    }


@pytest.mark.parametrize("change", list(CHANGES))
async def test_a_former_author_can_neither_send_edit_nor_discard_a_draft(hub, change):
    await district(hub)
    draft_id = await drafted(hub)
    await CHANGES[change](hub)
    for act in ("send", "edit", "discard", "edit button"):
        async with hub.db.session() as s:
            worker = await people.get(s, 5001)
            with pytest.raises(PermissionDenied):
                await _acts(s, hub, worker, draft_id)[act]()
    assert await queued(hub, draft_id) == []
    async with hub.db.session() as s:
        draft = await warnings.get(s, draft_id)
        assert draft.status is WarningStatus.DRAFT and draft.description == "东门液化气泄漏"
        staff = await people.get(s, 5901)  # staff over the area still may
        await warnings.send(s, hub, staff, draft_id)
    assert await queued(hub, draft_id) == [-1101, -1001]


@pytest.mark.parametrize("change", list(CHANGES))
async def test_a_former_author_can_neither_update_nor_cancel_a_sent_warning(hub, change):
    await district(hub)
    sent_id = await drafted(hub, send=True)
    async with hub.db.session() as s:  # a follow-up drafted while they still could
        worker = await people.get(s, 5001)
        pending_update = (await warnings.follow_up(s, hub, worker, sent_id, MsgType.UPDATE, "红 加强")).id
    await CHANGES[change](hub)
    async with hub.db.session() as s:
        worker = await people.get(s, 5001)
        for msg_type in (MsgType.UPDATE, MsgType.CANCEL):
            with pytest.raises(PermissionDenied):
                await warnings.follow_up(s, hub, worker, sent_id, msg_type, "红 全体撤离")
        with pytest.raises(PermissionDenied):
            await warnings.send(s, hub, worker, pending_update)
        with pytest.raises(PermissionDenied):
            await warnings.delivery_report(s, worker, sent_id)
    assert await queued(hub, pending_update) == []
    async with hub.db.session() as s:
        assert (await warnings.get(s, sent_id)).status is WarningStatus.SENT


async def test_the_refusal_says_why(hub):
    await district(hub)
    draft_id = await drafted(hub)
    await appoint(hub, 5001, Role.WORKER, "T3")
    async with hub.db.session() as s:
        with pytest.raises(PermissionDenied) as raised:
            await warnings.send(s, hub, await people.get(s, 5001), draft_id)
    assert raised.value.key == "warn.no_longer_in_area" and raised.value.params["grid"] == "T1"
    assert "T1" in hub.t("en", raised.value.key, **raised.value.params)
    await appoint(hub, 5001, Role.RESIDENT, None)
    async with hub.db.session() as s:
        with pytest.raises(PermissionDenied) as raised:
            await warnings.send(s, hub, await people.get(s, 5001), draft_id)
    assert raised.value.key == "warn.no_longer_worker"


async def test_follow_ups_to_an_expired_warning_are_refused(hub, clock):
    await district(hub)
    sent_id = await drafted(hub, send=True)
    clock.advance(timedelta(hours=hub.settings.warning_hours - 1))
    async with hub.db.session() as s:  # an update drafted in time, in force longer than the original
        worker = await people.get(s, 5001)
        late_update = (await warnings.follow_up(s, hub, worker, sent_id, MsgType.UPDATE, "红 加强")).id
    clock.advance(timedelta(hours=1, minutes=1))
    async with hub.db.session() as s:
        worker = await people.get(s, 5001)
        for msg_type in (MsgType.UPDATE, MsgType.CANCEL):
            with pytest.raises(Conflict) as raised:
                await warnings.follow_up(s, hub, worker, sent_id, msg_type, "红 还在漏")
            assert raised.value.key == "warn.follow_up_expired"
        with pytest.raises(Conflict) as raised:  # sent once the original has expired
            await warnings.send(s, hub, worker, late_update)
        assert raised.value.key == "warn.follow_up_expired"
    assert await queued(hub, late_update) == []


# --- through the bot ---------------------------------------------------------------------


async def test_a_worker_made_a_resident_cannot_press_send_on_their_old_preview(bot, bot_hub, telegram):
    await district(bot_hub)
    worker = telegram.user(5001, "王芳")
    private = telegram.private(worker)
    preview = await command(telegram, private, worker, "/warn 红 东门液化气泄漏，请立即撤离")
    await appoint(bot_hub, 5001, Role.RESIDENT, None)
    for data in buttons(preview):  # send, edit, cancel
        query, _ = await press(telegram, private, worker, preview, data)
        assert "不是在任的网格员" in telegram.callback_answers[query]["text"]
    assert not any("液化气" in t for chat in CHATS.values() for t in telegram.texts(chat))
    async with bot_hub.db.session() as s:
        [warning] = await warnings.list_warnings(s)
    assert warning.status is WarningStatus.DRAFT


async def test_a_moved_worker_cannot_update_their_old_red_warning(bot, bot_hub, telegram):
    await district(bot_hub)
    worker = telegram.user(5001, "王芳")
    private = telegram.private(worker)
    preview = await command(telegram, private, worker, "/warn 红 东门液化气泄漏，请立即撤离")
    await press(telegram, private, worker, preview, buttons(preview)[0])
    async with bot_hub.db.session() as s:
        [warning] = await warnings.list_warnings(s)
    await appoint(bot_hub, 5001, Role.WORKER, "T3")
    mark = len(telegram.calls)
    for text in (f"/warn update {warning.id} 红 全体立即撤离", f"/warn cancel {warning.id}"):
        reply = await command(telegram, private, worker, text)
        assert "已不归您负责" in reply.params["text"] and "T1" in reply.params["text"]
    assert not any(c.chat_id in CHATS.values() or c.chat_id == -1101 for c in telegram.sent()[mark:])
    async with bot_hub.db.session() as s:
        assert [w.status for w in await warnings.list_warnings(s)] == [WarningStatus.SENT]
        items = await warnings.urgent_items(s, await _grid(s, "T1"), bot_hub.now())
        assert [i.warning_id for i in items] == [warning.id]  # the loudspeakers still play only it


async def test_an_expired_warning_cannot_be_cancelled_in_chat(bot, bot_hub, telegram, clock):
    await district(bot_hub)
    worker = telegram.user(5001, "王芳")
    private = telegram.private(worker)
    preview = await command(telegram, private, worker, "/warn 黄 今晚停水")
    await press(telegram, private, worker, preview, buttons(preview)[0])
    async with bot_hub.db.session() as s:
        [warning] = await warnings.list_warnings(s)
    clock.advance(timedelta(hours=bot_hub.settings.warning_hours, minutes=1))
    reply = await command(telegram, private, worker, f"/warn cancel {warning.id}")
    assert f"预警 #{warning.id} 已过有效期，不能再更新或解除" in reply.params["text"]
    async with bot_hub.db.session() as s:
        assert [w.id for w in await warnings.list_warnings(s)] == [warning.id]


async def _grid(session, code):
    from hub import grids

    return await grids.get(session, code)


# --- through the CLI ---------------------------------------------------------------------


def test_a_worker_demoted_with_the_cli_cannot_send(cli, capsys):
    import asyncio

    from hub.core import Hub
    from hub.settings import load_settings

    async def in_hub(work):
        hub = await Hub.open(load_settings())
        try:
            return await work(hub)
        finally:
            await hub.close()

    async def prepare(hub):
        await district(hub)
        return await drafted(hub, "红 东门液化气泄漏")

    draft_id = asyncio.run(in_hub(prepare))
    assert cli("people", "add", "--telegram-id", "5001", "--name", "王芳", "--role", "resident") == 0

    async def press_send(hub):
        async with hub.db.session() as s:
            with pytest.raises(PermissionDenied):
                await warnings.send(s, hub, await people.get(s, 5001), draft_id)
        async with hub.db.session() as s:
            return await outbox.per_chat(s, warnings.OUTBOX_REF, draft_id), list(
                await s.scalars(UrgentItem.__table__.select()))

    rows, urgent = asyncio.run(in_hub(press_send))
    assert rows == [] and urgent == []
