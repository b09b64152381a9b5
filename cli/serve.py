"""Running the hub: the bot, the web app and the scheduler, together or one role each.

This is composition, not domain: it is the one place in hub/ that starts transports.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterable

from aiohttp import web
from telegram.error import InvalidToken

import scheduler
from hub import heartbeats
from hub.core import Hub
from hub.settings import ConfigError, Settings

log = logging.getLogger("gridcast")
ROLES = ("bot", "web", "scheduler")
HEARTBEAT_SECONDS = 30.0


async def serve(
    settings: Settings,
    roles: Iterable[str],
    *,
    stop: asyncio.Event | None = None,
    ready: asyncio.Event | None = None,
) -> None:
    roles = set(roles)
    explicit_bot = roles == {"bot"}
    if "bot" in roles and settings.token is None:
        if explicit_bot:
            raise ConfigError("GRIDCAST_TELEGRAM_TOKEN: required to run the bot")
        log.info("GRIDCAST_TELEGRAM_TOKEN is not set: running without the Telegram bot")
        roles.discard("bot")
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)

    hub = await Hub.open(settings)
    tasks: list[asyncio.Task[None]] = []
    runner: web.AppRunner | None = None
    bot_app = None
    transport = None
    try:
        feed = None
        if "bot" in roles:
            from bot import polling
            from bot import webhook as webhook_transport
            from bot.app import build_application

            use_webhook = settings.webhook_url is not None
            bot_app = build_application(hub, webhook=use_webhook)
            transport = webhook_transport if use_webhook else polling
            if use_webhook:
                feed = webhook_transport.WebhookFeed(bot_app)
            from bot.delivery import run_sender

            # Delivery first: what a crash left in the outbox goes out while the bot starts
            # (the knowledge base takes seconds to load), not after.
            tasks.append(asyncio.create_task(run_sender(hub, stop), name="outbox"))
            try:
                await transport.start(bot_app)
            except InvalidToken:
                # Telegram answers 401 or 404 to getMe for a token it does not know, and a
                # wrong base URL looks the same; say so in one line, with nothing of the token.
                raise ConfigError(
                    "GRIDCAST_TELEGRAM_TOKEN: the Bot API refused the token (401/404 on getMe); "
                    "check the token, or GRIDCAST_TELEGRAM_API_URL if you set one"
                ) from None
            hub.metrics.up.labels(role="bot").set(1)
            log.info("bot started (%s)", "webhook" if use_webhook else "polling")
        if "web" in roles or feed is not None:
            from web.app import build_web_app

            runner = web.AppRunner(build_web_app(hub, feed), access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, settings.http_host, settings.http_port)
            try:
                await site.start()
            except OSError as error:
                raise ConfigError(
                    f"GRIDCAST_HTTP_PORT: cannot listen on {settings.http_host}:{settings.http_port} ({error.strerror})"
                ) from None
            hub.metrics.up.labels(role="web").set(1)
            log.info("web app listening on http://%s:%s", settings.http_host, settings.http_port)
        if "scheduler" in roles:
            tasks.append(asyncio.create_task(scheduler.run(hub, stop), name="scheduler"))
        tasks.append(asyncio.create_task(_heartbeats(hub, roles - {"scheduler"}, stop), name="heartbeats"))
        if ready is not None:
            ready.set()
        await stop.wait()
        log.info("shutting down")
    finally:
        stop.set()
        for task in tasks:
            with contextlib.suppress(Exception):
                await task
        if bot_app is not None and transport is not None:
            await transport.stop(bot_app)
        if runner is not None:
            await runner.cleanup()
        await hub.close()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)


async def _heartbeats(hub: Hub, roles: set[str], stop: asyncio.Event) -> None:
    while not stop.is_set() and roles:
        try:
            async with hub.db.session() as session:
                for role in sorted(roles):
                    await heartbeats.beat(session, role, hub.now())
        except Exception:
            log.warning("could not write heartbeats", exc_info=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), HEARTBEAT_SECONDS)
