"""/bind in a group already bound to another grid takes scope over that grid too (issue 12, item 4)."""

from hub import bindings, grids, people
from hub.models import ChatKind, Role
from tests.test_ask_bot import ask
from tests.test_bot_start import seed


async def seed_bound(hub):
    """T1's group -1001 bound by its worker 5001; 5003 a worker of T2; 5900 staff over S1."""
    await seed(hub)
    async with hub.db.session() as s:
        for telegram_id, name, role, grid in [(5003, "李强", Role.WORKER, "T2"), (5900, "周主任", Role.STAFF, "S1")]:
            await people.appoint(s, telegram_id=telegram_id, name=name, role=role, grid_code=grid,
                                 actor="test", now=hub.now())


async def bound_to(hub, chat_id):
    async with hub.db.session() as s:
        found = await bindings.binding(s, chat_id)
        return (found.grid.code, found.kind) if found else None


async def test_a_worker_of_another_grid_cannot_take_a_bound_group(bot, bot_hub, telegram):
    await seed_bound(bot_hub)
    group = telegram.group(-1001, "南苑一网格群")
    reply = await ask(telegram, group, telegram.user(5001, "王芳"), "/bind T1")
    assert "本群已绑定到「南苑社区第一网格」" in reply.params["text"]

    for text in ("/bind T2", "/bind T2 workers"):
        refused = await ask(telegram, group, telegram.user(5003, "李强"), text)
        assert "本群已绑定到网格 T1" in refused.params["text"]
        assert await bound_to(bot_hub, -1001) == ("T1", ChatKind.GROUP)

    # T1's own worker may change it, and staff over both grids may move it
    await ask(telegram, group, telegram.user(5001, "王芳"), "/bind T1 workers")
    assert await bound_to(bot_hub, -1001) == ("T1", ChatKind.WORKERS)
    moved = await ask(telegram, group, telegram.user(5900, "周主任"), "/bind T2")
    assert "第二网格" in moved.params["text"]
    assert await bound_to(bot_hub, -1001) == ("T2", ChatKind.GROUP)
    # now T2's: T1's worker is the stranger
    refused = await ask(telegram, group, telegram.user(5001, "王芳"), "/bind T1")
    assert "本群已绑定到网格 T2" in refused.params["text"]


async def test_an_unbound_group_is_bound_by_any_worker_of_the_grid(bot, bot_hub, telegram):
    await seed_bound(bot_hub)
    reply = await ask(telegram, telegram.group(-1003), telegram.user(5003, "李强"), "/bind T2")
    assert "第二网格" in reply.params["text"]
    assert await bound_to(bot_hub, -1003) == ("T2", ChatKind.GROUP)


async def test_a_worker_sets_the_groups_post_language_and_a_resident_cannot(bot, bot_hub, telegram):
    await seed_bound(bot_hub)
    group = telegram.group(-1001, "南苑一网格群")
    await ask(telegram, group, telegram.user(5001, "王芳"), "/bind T1")
    refused = await ask(telegram, group, telegram.user(6001, "张阿姨"), "/lang en")
    assert refused.params["text"] == "只有网格员才能这样做。"
    stranger = await ask(telegram, group, telegram.user(5003, "李强"), "/lang en")
    assert "不在您负责的范围内" in stranger.params["text"]
    unknown = await ask(telegram, group, telegram.user(5001, "王芳"), "/lang fr")
    assert "不支持的语言 fr" in unknown.params["text"]
    unbound = await ask(telegram, telegram.group(-1009), telegram.user(5001, "王芳"), "/lang en")
    assert "本群尚未绑定网格" in unbound.params["text"]
    reply = await ask(telegram, group, telegram.user(5001, "王芳"), "/lang en")
    assert reply.params["text"] == "OK, this group's campaign posts will be in English from now on."
    async with bot_hub.db.session() as s:
        assert (await grids.chat_binding(s, -1001)).language == "en"
