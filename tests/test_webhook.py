"""Webhook mode: the fake Bot API posts updates to the hub's own web app."""

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from aiohttp import web
from sqlalchemy import select

from bot import webhook
from bot.app import build_application
from hub.core import Hub
from hub.models import TelegramUpdate
from tests.conftest import TOKEN, make_settings
from web.app import build_web_app
from web.telegram import MAX_UPDATE_BYTES

SECRET = "s3cret-token_value"
HEADERS = {"X-Telegram-Bot-Api-Secret-Token": SECRET}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.asynccontextmanager
async def webhook_bot(
    tmp_path, database_url, telegram, clock=None, *, webhook_url: str | None = None
) -> AsyncIterator[tuple[Hub, str]]:
    """One `gridcast bot` in webhook mode as cli.serve starts it: the Application, its feed and
    the web app on a port of its own. `webhook_url` is what Telegram is told (a balancer in
    front of several bots); by default this bot's own route. Yields the hub and the route."""
    port = free_port()
    own = f"http://127.0.0.1:{port}/telegram/webhook"
    settings = make_settings(
        tmp_path, database_url=database_url, telegram_token=TOKEN, telegram_api_url=telegram.base_url,
        webhook_url=webhook_url or own, webhook_secret=SECRET, http_port=port,
    )
    hub = await Hub.open(settings, clock=clock, upgrade=False)
    app = build_application(hub, webhook=True)
    runner = web.AppRunner(build_web_app(hub, webhook.WebhookFeed(app)))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await webhook.start(app)
    try:
        yield hub, own
    finally:
        await webhook.stop(app)
        await runner.cleanup()
        await hub.close()


@pytest.fixture
async def webhook_hub(tmp_path, sqlite_url, clock, telegram):
    async with webhook_bot(tmp_path, sqlite_url, telegram, clock) as running:
        yield running


async def test_updates_arrive_by_webhook_with_the_secret(webhook_hub, telegram):
    _, url = webhook_hub
    assert telegram.webhook["url"] == url and telegram.webhook["secret_token"] == SECRET
    user = telegram.user(42, "Ann", language_code="en")
    mark = len(telegram.calls)
    telegram.send_message(telegram.private(user), user, "/start")
    reply = await telegram.reply_to(42, since=mark)
    assert reply.params["text"].startswith("Hello Ann")


async def test_wrong_secret_bad_body_and_replays(webhook_hub, telegram):
    _, url = webhook_hub
    update = {"update_id": 900, "message": {
        "message_id": 1, "date": 0, "chat": {"id": 43, "type": "private", "first_name": "B"},
        "from": {"id": 43, "is_bot": False, "first_name": "B", "language_code": "en"},
        "text": "/help", "entities": [{"type": "bot_command", "offset": 0, "length": 5}],
    }}
    async with httpx.AsyncClient() as client:
        wrong = await client.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "nope"})
        missing = await client.post(url, json=update)
        garbage = await client.post(url, content=b"{not json", headers=HEADERS)
        assert (wrong.status_code, missing.status_code, garbage.status_code) == (403, 403, 400)
        mark = len(telegram.calls)
        for _ in range(3):  # a replayed update is handled once
            ok = await client.post(url, json=update, headers=HEADERS)
            assert ok.status_code == 200
    await telegram.reply_to(43, since=mark)
    await asyncio.sleep(0.3)
    assert len(telegram.sent(43)) == 1


def _help(update_id: int, user_id: int = 44) -> dict:
    return {"update_id": update_id, "message": {
        "message_id": update_id, "date": 0, "chat": {"id": user_id, "type": "private", "first_name": "C"},
        "from": {"id": user_id, "is_bot": False, "first_name": "C", "language_code": "en"},
        "text": "/help", "entities": [{"type": "bot_command", "offset": 0, "length": 5}],
    }}


async def test_a_body_over_the_limit_is_refused_chunked_or_not(webhook_hub, telegram):
    """A chunked body says no length: it is read with a cap, not whole."""
    _, url = webhook_hub
    update = _help(910)
    update["message"]["text"] = "/help " + "x" * (MAX_UPDATE_BYTES + 1000)
    body = json.dumps(update).encode()

    async def chunks():
        for start in range(0, len(body), 64 << 10):
            yield body[start:start + (64 << 10)]

    async with httpx.AsyncClient() as client:
        chunked = await client.post(url, content=chunks(), headers=HEADERS)
        sized = await client.post(url, content=body, headers=HEADERS)
        small = await client.post(url, json=_help(911), headers=HEADERS)
    assert (chunked.status_code, sized.status_code, small.status_code) == (413, 413, 200)
    await telegram.reply_to(44, since=0)
    await asyncio.sleep(0.2)
    assert len(telegram.sent(44)) == 1  # only the small one was taken


@pytest.mark.parametrize("payload", [
    {"update_id": 920, "message": {"message_id": 1, "chat": 5}},  # fields PTB cannot read
    {"update_id": 921, "callback_query": {"id": "q", "from": "nobody"}},
    {"update_id": 922, "message": "hello"},
    {"update_id": True},
    {"update_id": 10**30},
    [1, 2, 3],
])
async def test_a_malformed_update_is_400_not_500(webhook_hub, telegram, payload):
    _, url = webhook_hub
    async with httpx.AsyncClient() as client:
        response = await client.post(url, json=payload, headers=HEADERS)
        deep = await client.post(url, content=b"[" * 100_000 + b"]" * 100_000, headers=HEADERS)
        fine = await client.post(url, json=_help(923), headers=HEADERS)
    assert (response.status_code, deep.status_code, fine.status_code) == (400, 400, 200)


async def test_a_secret_header_that_is_not_ascii_is_403(webhook_hub):
    _, url = webhook_hub
    async with httpx.AsyncClient() as client:
        raw = await client.post(url, json=_help(930), headers={"X-Telegram-Bot-Api-Secret-Token": b"\xff\xfe"})
        latin = await client.post(url, json=_help(931), headers={"X-Telegram-Bot-Api-Secret-Token": "s3crét".encode()})
    assert (raw.status_code, latin.status_code) == (403, 403)


async def test_a_replay_is_dropped_by_a_second_process_and_after_a_restart(tmp_path, sqlite_url, telegram):
    """Update ids are remembered in the database, not in the process that took them."""
    update = _help(940, user_id=45)
    async with httpx.AsyncClient() as client:
        async with webhook_bot(tmp_path, sqlite_url, telegram) as (_, first), \
                webhook_bot(tmp_path, sqlite_url, telegram) as (_, second):
            assert (await client.post(first, json=update, headers=HEADERS)).status_code == 200
            await telegram.reply_to(45, since=0)
            assert (await client.post(second, json=update, headers=HEADERS)).status_code == 200
            await asyncio.sleep(0.3)
        async with webhook_bot(tmp_path, sqlite_url, telegram) as (_, restarted):
            assert (await client.post(restarted, json=update, headers=HEADERS)).status_code == 200
            await asyncio.sleep(0.3)
    assert len(telegram.sent(45)) == 1


async def test_update_ids_are_remembered_for_a_day_not_for_ever(webhook_hub, clock):
    """The table of ids taken stays about a day long: older ids go as new updates arrive."""
    hub, url = webhook_hub
    async with httpx.AsyncClient() as client:
        for update_id in (950, 951):
            assert (await client.post(url, json=_help(update_id, 46), headers=HEADERS)).status_code == 200
        clock.advance(timedelta(hours=25))
        assert (await client.post(url, json=_help(1024, 46), headers=HEADERS)).status_code == 200
    async with hub.db.session() as s:
        assert list(await s.scalars(select(TelegramUpdate.update_id))) == [1024]
