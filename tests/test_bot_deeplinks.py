"""`/start report_…` links: honoured only as the bot issued them, only into leaf grids
(issue 12, item 5), and the hub secret that signs them."""

import stat

import pytest

from bot import start
from bot.report import DEEP_LINK
from hub import grids, people, secret
from tests.conftest import make_settings
from tests.test_report_bot import buttons, say, seed


async def grid_id(hub, code):
    async with hub.db.session() as s:
        return (await grids.get(s, code)).id


async def link_from(telegram, chat_id, user):
    invite = await say(telegram, telegram.group(chat_id), user, "/report")
    [link] = buttons(invite)
    assert link.startswith("https://t.me/gridcast_test_bot?start=report_")
    return link.split("start=")[1]


async def test_the_link_the_bot_issued_starts_the_flow(bot, bot_hub, telegram):
    await seed(bot_hub)
    resident = telegram.user(6001, "张阿姨")
    payload = await link_from(telegram, -1001, resident)
    t1 = await grid_id(bot_hub, "T1")
    assert payload.startswith(f"report_{t1}_") and len(payload) <= 64  # Telegram's limit
    prompt = await say(telegram, telegram.private(resident), resident, f"/start {payload}")
    assert "rf:cat:ebike-indoor-charging" in buttons(prompt)


async def test_forged_and_old_links_are_refused(bot, bot_hub, telegram):
    await seed(bot_hub)
    resident = telegram.user(6001, "张阿姨")
    private = telegram.private(resident)
    t1, t2, c1 = [await grid_id(bot_hub, code) for code in ("T1", "T2", "C1")]
    issued = (await link_from(telegram, -1001, resident)).rsplit("_", 1)[1]
    forged = [
        f"report_{t2}",  # the unsigned form of earlier versions
        f"report_{t2}_{'A' * len(issued)}",
        f"report_{t2}_{issued}",  # T1's signature on T2's id
        f"report_{t1}_{issued}x",
        f"report_{'9' * 25}_{issued}",
        start.deep_link(bot_hub, "b", DEEP_LINK, str(c1)).split("start=")[1],  # signed, but no leaf
    ]
    for payload in forged:
        reply = await say(telegram, private, resident, f"/start {payload}")
        assert "这个链接无效" in reply.params["text"], payload
        assert not buttons(reply)


async def test_a_group_of_a_community_links_to_the_flow_without_a_grid(bot, bot_hub, telegram):
    await seed(bot_hub)
    async with bot_hub.db.session() as s:
        staff = await people.get(s, 5900)
        await grids.bind_chat(s, actor=staff, telegram_chat_id=-1005, title="社区群", code="C1", now=bot_hub.now())
    resident = telegram.user(6001, "张阿姨")
    payload = await link_from(telegram, -1005, resident)
    assert payload == "report_"
    prompt = await say(telegram, telegram.private(resident), resident, f"/start {payload}")
    assert "rf:cat:ebike-indoor-charging" in buttons(prompt)


def test_the_secret_is_made_once_private_and_kept(tmp_path, monkeypatch):
    monkeypatch.setattr(secret, "_loaded", {})
    settings = make_settings(tmp_path / "data")
    signature = secret.sign(settings, "deep-link:report", "7")
    key_file = tmp_path / "data" / secret.KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700
    monkeypatch.setattr(secret, "_loaded", {})  # another process, or a restart
    assert secret.verify(settings, "deep-link:report", "7", signature)
    assert not secret.verify(settings, "deep-link:report", "8", signature)
    assert not secret.verify(settings, "session", "7", signature)  # keys differ by purpose
    assert not secret.verify(settings, "deep-link:report", "7", "é" * len(signature))


def test_a_configured_secret_key_is_used_instead(tmp_path):
    one = make_settings(tmp_path / "a", secret_key="x" * 40)
    two = make_settings(tmp_path / "b", secret_key="x" * 40)
    assert secret.sign(one, "p", "1") == secret.sign(two, "p", "1")
    assert not (tmp_path / "a" / secret.KEY_FILE).exists()
    with pytest.raises(Exception, match="GRIDCAST_SECRET_KEY"):
        make_settings(tmp_path, secret_key="short")
