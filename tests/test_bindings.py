"""The per-process cache of chat bindings: this process's own changes show at once."""

import pytest
from sqlalchemy import update

from hub import bindings, grids, outbox
from hub.models import Chat, ChatKind, Role
from tests.test_grids import appoint, bind, tree


async def looked_up(hub, chat_id, grid_id=None):
    """The binding of a chat and the chats of a grid, as the cache answers now."""
    async with hub.db.session() as s:
        found = await bindings.binding(s, chat_id)
        chats = await bindings.chats_of(s, grid_id) if grid_id is not None else None
    return found, chats


async def grid_id(hub, code):
    async with hub.db.session() as s:
        return (await grids.get(s, code)).id


async def test_binding_shows_at_once_and_rebinding_moves_it(hub):
    await tree(hub)
    t1, t2 = await grid_id(hub, "T1"), await grid_id(hub, "T2")
    worker = await appoint(hub, 1, Role.WORKER, "T1")
    staff = await appoint(hub, 2, Role.STAFF, "S1")
    assert await looked_up(hub, -100, t1) == (None, ())  # cached as unbound
    await bind(hub, worker, "T1")
    found, chats = await looked_up(hub, -100, t1)
    assert (found.grid_id, found.grid.code, found.grid.name, found.kind) == (t1, "T1", "第一网格", ChatKind.GROUP)
    assert chats == (-100,)
    await bind(hub, staff, "T2", kind=ChatKind.WORKERS)
    found, chats = await looked_up(hub, -100, t1)
    assert (found.grid_id, found.kind) == (t2, ChatKind.WORKERS)
    assert chats == ()
    assert (await looked_up(hub, -100, t2))[1] == (-100,)


async def test_a_binding_rolled_back_is_not_remembered(hub):
    await tree(hub)
    worker = await appoint(hub, 1, Role.WORKER, "T1")
    with pytest.raises(RuntimeError):
        async with hub.db.session() as s:
            await grids.bind_chat(s, actor=worker, telegram_chat_id=-100, title="群", code="T1",
                                  now=hub.now())
            assert (await bindings.binding(s, -100)).grid.code == "T1"  # seen inside, uncommitted
            raise RuntimeError("the unit of work fails")
    assert (await looked_up(hub, -100))[0] is None


async def test_chat_gone_and_migrated_show_at_once(hub):
    await tree(hub)
    t1 = await grid_id(hub, "T1")
    worker = await appoint(hub, 1, Role.WORKER, "T1")
    await bind(hub, worker, "T1", chat_id=-10)
    await bind(hub, worker, "T1", chat_id=-20)
    assert (await looked_up(hub, -10, t1))[1] == (-10, -20)
    assert (await looked_up(hub, -2000))[0] is None
    async with hub.db.session() as s:
        await outbox.chat_gone(s, -10, now=hub.now(), error="blocked")
    assert await looked_up(hub, -10, t1) == (None, (-20,))
    async with hub.db.session() as s:
        await outbox.chat_migrated(s, -20, -2000)
    assert await looked_up(hub, -20, t1) == (None, (-2000,))
    assert (await looked_up(hub, -2000))[0].grid_id == t1


async def test_renaming_a_grid_shows_at_once(hub):
    await tree(hub)
    t1 = await grid_id(hub, "T1")
    worker = await appoint(hub, 1, Role.WORKER, "T1")
    await bind(hub, worker, "T1")
    assert (await looked_up(hub, -100))[0].grid.name == "第一网格"
    async with hub.db.session() as s:
        assert (await bindings.grid(s, t1)).name == "第一网格"
        await grids.upsert(s, grids.GridSpec("T1", "新一网格", "C1"), actor="test", now=hub.now())
    async with hub.db.session() as s:
        assert (await bindings.grid(s, t1)).name == "新一网格"
    assert (await looked_up(hub, -100))[0].grid.name == "新一网格"


async def test_a_change_made_elsewhere_is_seen_after_the_ttl(hub, monkeypatch):
    """Another process unbinds the chat (here: plain SQL, past the services of this one)."""
    await tree(hub)
    t1 = await grid_id(hub, "T1")
    worker = await appoint(hub, 1, Role.WORKER, "T1")
    await bind(hub, worker, "T1")
    assert (await looked_up(hub, -100, t1))[1] == (-100,)
    async with hub.db.session() as s:
        await s.execute(update(Chat).where(Chat.telegram_chat_id == -100).values(active=False))
    found, chats = await looked_up(hub, -100, t1)
    assert found is not None and chats == (-100,)  # still the cached answer
    later = bindings.time.monotonic() + bindings.TTL + 1
    monkeypatch.setattr(bindings.time, "monotonic", lambda: later)
    assert await looked_up(hub, -100, t1) == (None, ())
