"""Typed keys for what the aiohttp app carries, and the shape of the webhook's consumer.

The web transport never imports the bot: `cli.serve` hands it whatever turns a posted update
into work (the bot's `WebhookFeed`), and this module only says what that must look like.
"""

from __future__ import annotations

from typing import Any, Protocol

from aiohttp import web

from hub.core import Hub


class UpdateFeed(Protocol):
    """Takes one posted Telegram update; False when it was a replay and was dropped;
    ValueError when the payload is not an update it can read."""

    async def feed(self, payload: dict[str, Any]) -> bool: ...


HUB = web.AppKey("hub", Hub)
WEBHOOK = web.AppKey("webhook", UpdateFeed)
