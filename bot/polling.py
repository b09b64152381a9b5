"""Polling transport: the bot asks Telegram for updates. The default; needs no public URL."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application

from bot.app import prepare


async def start(app: Application) -> None:
    """Start inside an already running event loop (post_init runs only under run_polling)."""
    await app.initialize()
    await prepare(app)
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(allowed_updates=Update.ALL_TYPES, poll_interval=0.0, timeout=10)


async def stop(app: Application) -> None:
    if app.updater is not None and app.updater.running:
        await app.updater.stop()
    if app.running:
        await app.stop()
    await app.shutdown()
