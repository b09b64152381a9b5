"""What happens when a handler fails, and when someone types a command we do not have.

A domain refusal (HubError) is the person's answer, said in their language; anything
else is logged with the update that caused it and the person gets a short apology. The
process never dies of a handler's error.
"""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import Application, MessageHandler, filters

from bot.context import Context, hub_of, sender_language
from hub import people
from hub.errors import HubError
from hub.i18n import language_for

log = logging.getLogger(__name__)


async def _language(context: Context, update: object) -> str:
    hub = hub_of(context)
    if not isinstance(update, Update) or update.effective_user is None:
        return hub.settings.default_language
    try:
        async with hub.db.session() as session:
            person = await people.by_telegram_id(session, update.effective_user.id)
    except Exception:  # the database may be the very thing that failed
        return sender_language(hub, update)
    return language_for(
        person.language if person else None,
        update.effective_user.language_code,
        hub.settings.default_language,
    )


async def on_error(update: object, context: Context) -> None:
    hub = hub_of(context)
    error = context.error
    if isinstance(error, HubError):
        hub.metrics.handler_errors.labels(kind="refusal").inc()
        key, params = error.key, error.params
    else:
        hub.metrics.handler_errors.labels(kind="crash").inc()
        log.error(
            "handler failed for update %s",
            update.to_dict() if isinstance(update, Update) else update,
            exc_info=error,
        )
        key, params = "bot.apology", {}
    if not isinstance(update, Update):
        return
    text = hub.t(await _language(context, update), key, **params)
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(text, show_alert=True)
        elif update.effective_message is not None:
            await update.effective_message.reply_text(text)
    except TelegramError:
        log.warning("could not tell the user about the error", exc_info=True)


async def unknown_command(update: Update, context: Context) -> None:
    """Answer a command we do not know — in a group only when it was addressed to us."""
    message = update.effective_message
    assert message and message.text
    command = message.text.split()[0]
    name, _, addressee = command.partition("@")
    is_private = message.chat.type == message.chat.PRIVATE
    if not is_private and addressee.lower() != (context.bot.username or "").lower():
        return
    hub = hub_of(context)
    lang = await _language(context, update)
    await message.reply_text(hub.t(lang, "bot.unknown_command", command=name))


def register(app: Application) -> None:
    """Register last: the catch-all must come after every real command."""
    app.add_handler(MessageHandler(filters.COMMAND, unknown_command))
    app.add_error_handler(on_error)
