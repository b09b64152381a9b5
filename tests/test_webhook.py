"""Webhook mode: the fake Bot API posts updates to the hub's own web app."""

import asyncio
import socket

import httpx
import pytest
from aiohttp import web

from bot import webhook
from bot.app import build_application
from hub.core import Hub
from tests.conftest import TOKEN, make_settings
from web.app import build_web_app

SECRET = "s3cret-token_value"


@pytest.fixture
async def webhook_hub(tmp_path, sqlite_url, clock, telegram):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = make_settings(
        tmp_path, database_url=sqlite_url, telegram_token=TOKEN, telegram_api_url=telegram.base_url,
        webhook_url=f"http://127.0.0.1:{port}/telegram/webhook", webhook_secret=SECRET, http_port=port,
    )
    hub = await Hub.open(settings, clock=clock, upgrade=False)
    app = build_application(hub, webhook=True)
    feed = webhook.WebhookFeed(app)
    runner = web.AppRunner(build_web_app(hub, feed))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await webhook.start(app)
    yield hub, f"http://127.0.0.1:{port}/telegram/webhook"
    await webhook.stop(app)
    await runner.cleanup()
    await hub.close()


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
        garbage = await client.post(url, content=b"{not json", headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
        assert (wrong.status_code, missing.status_code, garbage.status_code) == (403, 403, 400)
        mark = len(telegram.calls)
        for _ in range(3):  # a replayed update is handled once
            ok = await client.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
            assert ok.status_code == 200
    await telegram.reply_to(43, since=mark)
    await asyncio.sleep(0.3)
    assert len(telegram.sent(43)) == 1
