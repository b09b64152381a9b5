"""Typed keys for what the aiohttp app carries."""

from __future__ import annotations

from aiohttp import web

from bot.webhook import WebhookFeed
from hub.core import Hub

HUB = web.AppKey("hub", Hub)
WEBHOOK = web.AppKey("webhook", WebhookFeed)
