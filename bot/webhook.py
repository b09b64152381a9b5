"""Webhook transport: Telegram posts updates to the hub's web app at /telegram/webhook.

The route itself lives in `web.telegram`; this module registers the URL with Telegram and
feeds what the route receives into the same Application the polling transport uses.
"""

from __future__ import annotations

from collections import OrderedDict

from telegram import Update
from telegram.ext import Application

from bot.app import prepare
from bot.context import hub_of_app

_SEEN_LIMIT = 10_000


class WebhookFeed:
    """Turns posted JSON into updates, dropping replays of an update already taken."""

    def __init__(self, app: Application) -> None:
        self.app = app
        self._seen: OrderedDict[int, None] = OrderedDict()

    async def feed(self, payload: dict) -> bool:
        update = Update.de_json(payload, self.app.bot)
        if update is None or update.update_id in self._seen:
            return False
        self._seen[update.update_id] = None
        if len(self._seen) > _SEEN_LIMIT:
            self._seen.popitem(last=False)
        await self.app.update_queue.put(update)
        return True


async def start(app: Application) -> None:
    settings = hub_of_app(app).settings
    assert settings.webhook_url and settings.webhook_secret
    await app.initialize()
    await prepare(app)
    await app.start()
    await app.bot.set_webhook(
        url=settings.webhook_url,
        secret_token=settings.webhook_secret.get_secret_value(),
        allowed_updates=Update.ALL_TYPES,
    )


async def stop(app: Application) -> None:
    if app.running:
        await app.stop()
    await app.shutdown()
