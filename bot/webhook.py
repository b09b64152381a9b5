"""Webhook transport: Telegram posts updates to the hub's web app at /telegram/webhook.

The route itself lives in `web.telegram`; this module registers the URL with Telegram and
feeds what the route receives into the same Application the polling transport uses.
"""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import Application

from bot.app import prepare
from bot.context import hub_of_app
from hub import replays


class WebhookFeed:
    """Turns posted JSON into updates, dropping replays of an update already taken.

    The ids taken are remembered in the database (hub.replays), not here: a replay reaching
    the other process of two, or this one after a restart, is dropped all the same.
    """

    def __init__(self, app: Application) -> None:
        self.app = app

    async def feed(self, payload: dict[str, Any]) -> bool:
        """Queue the update; False for a replay. ValueError when it is not an update we can
        read (the route answers 400, and no id is spent on it)."""
        try:
            update = Update.de_json(payload, self.app.bot)
        except Exception as error:  # PTB raises KeyError, TypeError, ValueError... on bad fields
            raise ValueError(f"not a Telegram update: {type(error).__name__}") from None
        if update is None:
            raise ValueError("not a Telegram update")
        hub = hub_of_app(self.app)
        async with hub.db.session() as session:
            if not await replays.first_sight(session, update.update_id, now=hub.now()):
                return False
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
