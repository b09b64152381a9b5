"""The bot end to end: the real Application polling the fake Bot API over HTTP."""

import asyncio

from hub import grids, people
from hub.models import Chat, Role


async def seed(hub):
    async with hub.db.session() as s:
        await grids.import_specs(
            s,
            [grids.GridSpec("D1", "城厢区"), grids.GridSpec("S1", "南苑街道", "D1"),
             grids.GridSpec("C1", "南苑社区", "S1"), grids.GridSpec("T1", "南苑社区第一网格", "C1"),
             grids.GridSpec("T2", "南苑社区第二网格", "C1")],
            actor="test", now=hub.now(),
        )
        await people.appoint(s, telegram_id=5001, name="王芳", role=Role.WORKER, grid_code="T1",
                             actor="test", now=hub.now())


async def test_start_in_private_answers_in_the_senders_language(bot, telegram):
    for user_id, code, expected in [(1, "zh-hans", "您好"), (2, "en", "Hello"), (3, "zh-TW", "這裏")]:
        user = telegram.user(user_id, "阿明", language_code=code)
        mark = len(telegram.calls)
        telegram.send_message(telegram.private(user), user, "/start")
        reply = await telegram.reply_to(user_id, since=mark)
        assert expected in reply.params["text"]
        assert "/help" in reply.params["text"]
        assert "/bind" not in reply.params["text"]  # residents see residents' commands


async def test_command_menu_is_published_per_language(bot, telegram):
    for language in ("", "en"):
        menu = telegram.menu(language)
        assert {"start", "help", "lang"} <= set(menu)
        assert "bind" not in menu  # workers' commands stay out of residents' menu
    calls = [c for c in telegram.calls if c.method == "setMyCommands"]
    described = {c.params.get("language_code"): c.params["commands"][0]["description"] for c in calls}
    assert described == {None: "开始使用", "en": "Start"}


async def test_lang_button_switches_the_language(bot, telegram):
    user = telegram.user(7, "Lee", language_code="zh-hans")
    chat = telegram.private(user)
    mark = len(telegram.calls)
    telegram.send_message(chat, user, "/lang")
    prompt = await telegram.reply_to(7, since=mark)
    buttons = [b["callback_data"] for row in prompt.params["reply_markup"]["inline_keyboard"] for b in row]
    assert buttons == ["lang:zh-Hans", "lang:zh-Hant", "lang:en"]
    query = telegram.press_button(chat, user, prompt.result["message_id"], "lang:en")
    await telegram.wait_for("answerCallbackQuery", lambda c: c.params["callback_query_id"] == query)
    edited = await telegram.wait_for("editMessageText", since=mark)
    assert edited[0].params["text"] == "OK, I will talk to you in English from now on."
    mark = len(telegram.calls)
    telegram.send_message(chat, user, "/help")
    assert (await telegram.reply_to(7, since=mark)).params["text"].startswith("Commands:")


async def test_forged_language_button_is_refused(bot, telegram):
    user = telegram.user(8, "X", language_code="en")
    chat = telegram.private(user)
    mark = len(telegram.calls)
    telegram.send_message(chat, user, "/lang")
    prompt = await telegram.reply_to(8, since=mark)
    query = telegram.press_button(chat, user, prompt.result["message_id"], "lang:xx")
    await telegram.wait_for("answerCallbackQuery", lambda c: c.params["callback_query_id"] == query)
    assert "Unsupported language" in telegram.callback_answers[query]["text"]


async def test_bind_by_resident_is_refused_and_by_worker_accepted(bot, bot_hub, telegram):
    await seed(bot_hub)
    group = telegram.group(-1001, "南苑一网格群")
    resident = telegram.user(6001, "张阿姨")
    worker = telegram.user(5001, "王芳")

    mark = len(telegram.calls)
    telegram.send_message(group, resident, "/bind T1")
    refusal = await telegram.reply_to(-1001, since=mark)
    assert refusal.params["text"] == "只有网格员才能这样做。"

    mark = len(telegram.calls)
    telegram.send_message(group, worker, "/bind@gridcast_test_bot T2")
    assert "不在您负责的范围内" in (await telegram.reply_to(-1001, since=mark)).params["text"]

    async with bot_hub.db.session() as s:
        assert await grids.chat_binding(s, -1001) is None

    mark = len(telegram.calls)
    telegram.send_message(group, worker, "/bind T1")
    ok = await telegram.reply_to(-1001, since=mark)
    assert "南苑社区第一网格" in ok.params["text"]
    async with bot_hub.db.session() as s:
        chat: Chat = await grids.chat_binding(s, -1001)
        assert chat is not None and chat.title == "南苑一网格群"
        # the resident who spoke in the group before the binding has no grid yet; speaking again assigns it
    mark = len(telegram.calls)
    telegram.send_message(group, resident, "/start")
    assert "南苑社区第一网格" in (await telegram.reply_to(-1001, since=mark)).params["text"]
    async with bot_hub.db.session() as s:
        person = await people.get(s, 6001)
        assert person.role is Role.RESIDENT and person.grid_id == chat.grid_id


async def test_bind_usage_and_private_chat(bot, bot_hub, telegram):
    await seed(bot_hub)
    worker = telegram.user(5001, "王芳", language_code="en")
    mark = len(telegram.calls)
    telegram.send_message(telegram.private(worker), worker, "/bind T1")
    assert "only in a group" in (await telegram.reply_to(5001, since=mark)).params["text"]
    group = telegram.group(-1002)
    mark = len(telegram.calls)
    telegram.send_message(group, worker, "/bind")
    assert (await telegram.reply_to(-1002, since=mark)).params["text"].startswith("Usage: /bind")


async def test_unknown_commands(bot, telegram):
    user = telegram.user(9, "Z", language_code="en")
    mark = len(telegram.calls)
    telegram.send_message(telegram.private(user), user, "/frobnicate now")
    reply = await telegram.reply_to(9, since=mark)
    assert reply.params["text"] == "There is no command /frobnicate. Send /help to see what I can do."
    # in a group, a command for another bot is none of our business
    group = telegram.group(-1003)
    mark = len(telegram.calls)
    telegram.send_message(group, user, "/frobnicate@other_bot")
    telegram.send_message(group, user, "/frobnicate@gridcast_test_bot")
    replies = await telegram.wait_for("sendMessage", lambda c: c.chat_id == -1003, since=mark)
    assert len(replies) == 1


async def test_a_crashing_handler_apologises_and_the_bot_lives_on(bot, bot_hub, telegram, monkeypatch, caplog):
    from bot import start

    async def broken(update, context):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(start, "identified", broken)
    user = telegram.user(10, "Z", language_code="en")
    chat = telegram.private(user)
    mark = len(telegram.calls)
    telegram.send_message(chat, user, "/help")
    reply = await telegram.reply_to(10, since=mark)
    assert reply.params["text"].startswith("Sorry, something went wrong")
    assert "database on fire" in caplog.text
    monkeypatch.undo()
    mark = len(telegram.calls)
    telegram.send_message(chat, user, "/help")
    assert (await telegram.reply_to(10, since=mark)).params["text"].startswith("Commands:")


async def test_anyone_who_speaks_is_registered(bot, bot_hub, telegram):
    user = telegram.user(321, "路人", language_code="zh-hant")
    telegram.send_message(telegram.group(-1010), user, "大家好")
    telegram.send_location(telegram.private(user), user, 25.43, 119.01)
    for _ in range(100):
        async with bot_hub.db.session() as s:
            person = await people.by_telegram_id(s, 321)
        if person is not None:
            break
        await asyncio.sleep(0.05)
    assert person is not None and person.role is Role.RESIDENT and person.telegram_language == "zh-hant"
