"""What a person is in the middle of survives a restart and a second bot process.

The guided /report, a question "is this the same as #N?", a /warn edit prompt and a worker's
"which number is the original?" are kept in the database (bot.pending, hub.conversations),
so a bot restarted halfway goes on where the person was, and two bots in webhook mode on one
PostgreSQL database, taking alternate updates behind a balancer, carry one conversation
between them.
"""

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import select

from bot import polling
from bot.app import build_application
from bot.delivery import run_sender
from hazards.models import Hazard, HazardState
from hub.core import Hub
from knowledge.questions import KNOWLEDGE
from tests.conftest import TOKEN, _truncate, make_settings
from tests.test_report_bot import buttons, card_in, load, press, say, seed
from tests.test_webhook import SECRET, free_port, webhook_bot


@contextlib.asynccontextmanager
async def polling_bot(tmp_path, database_url, telegram, knowledge_base) -> AsyncIterator[Hub]:
    """One bot process polling the fake Bot API: its own hub (engine) and Application."""
    settings = make_settings(
        tmp_path, database_url=database_url, telegram_token=TOKEN, telegram_api_url=telegram.base_url
    )
    hub = await Hub.open(settings, upgrade=False)
    hub.services.setdefault(KNOWLEDGE, knowledge_base)
    app = build_application(hub)
    stop = asyncio.Event()
    await polling.start(app)
    sender = asyncio.create_task(run_sender(hub, stop))
    try:
        yield hub
    finally:
        stop.set()
        await sender
        telegram.release_pollers()
        await polling.stop(app)
        telegram.closing = False  # the next bot's long polls wait again
        await hub.close()


async def begin(telegram, resident):
    """/report in the grid's group, then the link it offers: the guided flow in private."""
    invite = await say(telegram, telegram.group(-1001), resident, "/report")
    [link] = buttons(invite)
    return await say(telegram, telegram.private(resident), resident, f"/start {link.split('start=')[1]}")


async def step(telegram, chat, user, text_or_photo=None, *, data=None, message_id=None, location=None):
    """One thing the person does in private, and the bot's answer to it."""
    mark = len(telegram.calls)
    if data is not None:
        await press(telegram, chat, user, message_id, data)
    elif location is not None:
        telegram.send_location(chat, user, *location)
    else:
        telegram.send_message(chat, user, text_or_photo)
    return await telegram.reply_to(chat["id"], since=mark)


async def test_a_guided_report_goes_on_after_a_restart(tmp_path, sqlite_url, telegram, knowledge_base):
    resident = telegram.user(6001, "张阿姨")
    private = telegram.private(resident)
    async with polling_bot(tmp_path, sqlite_url, telegram, knowledge_base) as hub:
        await seed(hub)
        prompt = await begin(telegram, resident)
        danger = await step(telegram, private, resident, data="rf:cat:ebike-indoor-charging",
                            message_id=prompt.result["message_id"])
        mark = len(telegram.calls)
        await press(telegram, private, resident, danger.result["message_id"], "rf:danger:no")
        await telegram.wait_for("sendMessage", lambda c: c.chat_id == 6001 and "描述" in c.params["text"], since=mark)

    async with polling_bot(tmp_path, sqlite_url, telegram, knowledge_base):  # restarted mid-flow
        photo = await step(telegram, private, resident, "5号楼一楼楼道有人给电动车充电")
        assert "照片" in photo.params["text"]  # the description went to the report, not to /ask
        place = await step(telegram, private, resident, data="rf:skip", message_id=photo.result["message_id"])
        assert "位置" in place.params["text"]

    async with polling_bot(tmp_path, sqlite_url, telegram, knowledge_base) as hub:  # and again
        named = await step(telegram, private, resident, location=(25.4312, 119.0078))
        confirm = await step(telegram, private, resident, data="rf:named:yes", message_id=named.result["message_id"])
        assert "rf:confirm:yes" in buttons(confirm)
        receipt = await step(telegram, private, resident, data="rf:confirm:yes", message_id=confirm.result["message_id"])
        assert "编号 #1" in receipt.params["text"]
        hazard = await load(hub)
        assert (hazard.category, hazard.text) == ("ebike-indoor-charging", "5号楼一楼楼道有人给电动车充电")
        assert hazard.lat == pytest.approx(25.4312) and hazard.reporter_named and not hazard.urgent
        # the flow is over: the resident's next words are a question again
        assert "❓" in (await say(telegram, private, resident, "灭火器怎么用？")).params["text"]


async def test_questions_and_prompts_are_answered_after_a_restart(tmp_path, sqlite_url, telegram, knowledge_base):
    """"Is this the same as #N?", a worker's "which is the original?" and a /warn edit prompt,
    each asked by one process and answered to the next."""
    group = telegram.group(-1001)
    first, second, worker = telegram.user(6001, "张阿姨"), telegram.user(6002, "刘叔"), telegram.user(5001, "王芳")
    async with polling_bot(tmp_path, sqlite_url, telegram, knowledge_base) as hub:
        await seed(hub)
        await say(telegram, group, first, "/report 3号楼楼道堆满纸箱")
        question = await say(telegram, group, second, "/report 3号楼的楼道里堆了好多纸箱")
        assert buttons(question) == ["rs:6002:1:1", "rs:6002:1:new"]
        await say(telegram, group, first, "/report 7号楼消防通道被铁门锁死")
        card = await card_in(telegram, -1001, "dup", hazard_id=2)
        mark = len(telegram.calls)
        await press(telegram, group, worker, card.result["message_id"], "hz:2:dup")
        await telegram.wait_for("sendMessage", lambda c: c.chat_id == 5001 and "#2" in c.params["text"], since=mark)
        workers = telegram.private(worker)
        preview = await say(telegram, workers, worker, "/warn 黄 明天停水")
        [_, edit, _] = buttons(preview)
        mark = len(telegram.calls)
        await press(telegram, workers, worker, preview.result["message_id"], edit)
        prompt = await telegram.reply_to(5001, since=mark)

    async with polling_bot(tmp_path, sqlite_url, telegram, knowledge_base) as hub:
        mark = len(telegram.calls)
        await press(telegram, group, second, question.result["message_id"], "rs:6002:1:1")
        edited = await telegram.wait_for("editMessageText", lambda c: c.chat_id == -1001, since=mark)
        assert "与 #1 是同一个问题" in edited[0].params["text"]

        await say(telegram, workers, worker, "1")  # the original of #2
        mark = len(telegram.calls)
        telegram.send_message(workers, worker, "橙 明天8点到18点停水，请提前储水", reply_to=prompt.result["message_id"])
        new_preview = await telegram.reply_to(5001, since=mark)
        assert "橙色" in new_preview.params["text"] and "提前储水" in new_preview.params["text"]
        async with hub.db.session() as s:
            states = {h.id: (h.state, h.duplicate_of_id) for h in await s.scalars(select(Hazard))}
        assert states[2] == (HazardState.DUPLICATE, 1) and states[3] == (HazardState.DUPLICATE, 1)


@pytest.fixture
def pg_url(request) -> str:
    url: str = request.getfixturevalue("postgres_url")
    asyncio.run(_truncate(url))
    return url


@contextlib.asynccontextmanager
async def balancer(backends: list[str]) -> AsyncIterator[tuple[str, list[int]]]:
    """A round-robin balancer in front of several bots: each posted update goes to the next
    one. Yields its URL and, per update, the index of the bot that took it."""
    taken: list[int] = []
    client = aiohttp.ClientSession()

    async def forward(request: web.Request) -> web.Response:
        body = await request.read()
        backend = len(taken) % len(backends)
        taken.append(backend)
        headers = {"X-Telegram-Bot-Api-Secret-Token": request.headers.get("X-Telegram-Bot-Api-Secret-Token", ""),
                   "Content-Type": "application/json"}
        async with client.post(backends[backend], data=body, headers=headers) as response:
            return web.Response(status=response.status, body=await response.read(), content_type="application/json")

    app = web.Application()
    app.router.add_post("/telegram/webhook", forward)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}/telegram/webhook", taken
    finally:
        await runner.cleanup()
        await client.close()


async def test_two_webhook_bots_on_postgresql_take_turns_at_one_guided_report(
    tmp_path, pg_url, telegram, knowledge_base
):
    backends: list[str] = []
    async with balancer(backends) as (url, taken), \
            webhook_bot(tmp_path, pg_url, telegram, webhook_url=url) as (hub, first), \
            webhook_bot(tmp_path, pg_url, telegram, webhook_url=url) as (other, second):
        for bot_hub in (hub, other):
            bot_hub.services.setdefault(KNOWLEDGE, knowledge_base)
        backends += [first, second]
        assert telegram.webhook["url"] == url and telegram.webhook["secret_token"] == SECRET
        await seed(hub)
        resident = telegram.user(6001, "张阿姨")
        private = telegram.private(resident)

        prompt = await begin(telegram, resident)
        danger = await step(telegram, private, resident, data="rf:cat:ebike-indoor-charging",
                            message_id=prompt.result["message_id"])
        assert "电池" in danger.params["text"]
        mark = len(telegram.calls)
        await press(telegram, private, resident, danger.result["message_id"], "rf:danger:yes")
        await telegram.wait_for("sendMessage", lambda c: c.chat_id == 6001 and "描述" in c.params["text"], since=mark)
        photo = await step(telegram, private, resident, "5号楼一楼楼道有人给电动车充电")
        assert "照片" in photo.params["text"]
        place = await step(telegram, private, resident, data="rf:skip", message_id=photo.result["message_id"])
        named = await step(telegram, private, resident, "5号楼一楼东侧楼梯口")
        assert "位置" in place.params["text"] and "rf:named:no" in buttons(named)
        confirm = await step(telegram, private, resident, data="rf:named:no", message_id=named.result["message_id"])
        receipt = await step(telegram, private, resident, data="rf:confirm:yes", message_id=confirm.result["message_id"])
        assert "编号 #1" in receipt.params["text"]
        # a second press of "confirm" (to whichever bot) files nothing more
        again = await press(telegram, private, resident, confirm.result["message_id"], "rf:confirm:yes")
        assert again["show_alert"] and "过期" in again["text"]

        async with hub.db.session() as s:
            [hazard] = list(await s.scalars(select(Hazard)))
        assert (hazard.category, hazard.text, hazard.address) == (
            "ebike-indoor-charging", "5号楼一楼楼道有人给电动车充电", "5号楼一楼东侧楼梯口")
        assert hazard.urgent and not hazard.reporter_named
        assert len(taken) >= 8 and taken[:8] == [0, 1] * 4  # each step went to the other bot
    assert json.dumps(telegram.webhook["deliveries"]).count("200") == len(taken)
