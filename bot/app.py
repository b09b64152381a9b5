"""Wiring: the python-telegram-bot Application and the feature modules that fill it.

Feature logic lives in one module per feature; this module only assembles them. The
transport (polling or webhook) is chosen in `bot.polling` / `bot.webhook`.
"""

from __future__ import annotations

import logging
from types import ModuleType

from telegram import Update
from telegram.ext import AIORateLimiter, Application, Defaults, TypeHandler

from bot import (
    admin,
    ask,
    campaign,
    errors,
    hazard_cards,
    ledger,
    record,
    report,
    speakers,
    start,
    warn,
)
from bot.commands import publish_menu
from bot.context import Context, hub_of, hub_of_app, identified, registered
from bot.intake import install as install_intake
from bot.intake import intake_of
from hub.core import Hub

log = logging.getLogger(__name__)

# Order matters: ask takes any private text, so it comes after features that read text;
# errors holds the catch-all for unknown commands and comes last.
FEATURES: tuple[ModuleType, ...] = (
    start, admin, report, hazard_cards, ledger, warn, record, speakers, campaign, ask, errors,
)


def file_url(api_url: str) -> str:
    """Telegram serves files under /file/bot<token>; a local Bot API server mirrors that."""
    return api_url[: -len("/bot")] + "/file/bot" if api_url.endswith("/bot") else api_url + "/file/bot"


async def _count(update: Update, context: Context) -> None:
    kind = next((k for k in ("message", "callback_query", "my_chat_member") if getattr(update, k)), "other")
    hub_of(context).metrics.updates.labels(kind=kind).inc()


async def _register(update: Update, context: Context) -> None:
    """Register whoever speaks to the bot, once per process, even with no command.

    Runs after the features: a handler that identified the sender has registered them in its
    own unit of work already, so only updates no handler identified cost a session here.
    """
    user = update.effective_user
    hub = hub_of(context)
    if user is None or user.is_bot or user.id in registered(hub) or update.effective_message is None:
        return
    if intake_of(context.application).busy(user.id):
        return  # a report of theirs is being filed, and registers them with it
    await identified(update, context)


def build_application(hub: Hub, *, webhook: bool = False, rate_limited: bool = True) -> Application:
    """The bot. `rate_limited=False` only for benchmarks against a fake Bot API, where
    Telegram's limits (30 messages/s, 20 a minute per group) would be all one measured.
    """
    token = hub.settings.token
    if token is None:
        raise RuntimeError("the bot needs GRIDCAST_TELEGRAM_TOKEN")
    builder = Application.builder().token(token).defaults(Defaults(tzinfo=hub.tz))
    if rate_limited:
        builder = builder.rate_limiter(AIORateLimiter(max_retries=3))
    if hub.settings.telegram_api_url:
        builder = builder.base_url(hub.settings.telegram_api_url).base_file_url(
            file_url(hub.settings.telegram_api_url)
        )
    if webhook:
        builder = builder.updater(None)
    app = builder.build()
    app.bot_data["hub"] = hub
    install_intake(app, hub)
    app.add_handler(TypeHandler(Update, _count), group=-2)
    for feature in FEATURES:
        feature.register(app)
    app.add_handler(TypeHandler(Update, _register), group=1)
    return app


async def prepare(app: Application) -> None:
    """Open the features' long-lived services, then publish the command menu.

    A failure to publish the menu must not keep the bot from serving.
    """
    for feature in FEATURES:
        load = getattr(feature, "load", None)
        if load is not None:
            await load(app)
    try:
        await publish_menu(app.bot, hub_of_app(app).texts)
    except Exception:
        log.warning("could not publish the command menu", exc_info=True)
