"""/start, /help and /lang: the first things a resident sees."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot import keyboards
from bot.commands import Command, declare, help_text
from bot.context import Context, acting, hub_of, identified
from hub import grids, people, secret
from hub.core import Hub
from hub.errors import InvalidInput
from hub.i18n import LANGUAGE_NAMES, LANGUAGES

# Deep links (t.me/<bot>?start=<payload>) that carry on a feature in private: a feature
# registers its payload prefix here, makes its links with `deep_link`, and gets the value
# the link carries. Only links the bot made are honoured: anyone can type a t.me link.
DEEP_LINKS: dict[str, Callable[[Update, Context, str], Awaitable[None]]] = {}


def deep_link(hub: Hub, bot_username: str | None, prefix: str, value: str = "") -> str:
    """t.me/<bot>?start=<prefix><value>_<signature>: `value` signed for this prefix, so a
    link the bot did not make (or one made for another value) is refused. `value` must not
    contain "_"; an empty value is the bare prefix, unsigned, as it claims nothing."""
    if "_" in value:
        raise ValueError("a deep link's value may not contain '_'")
    signed = f"{value}_{secret.sign(hub.settings, f'deep-link:{prefix}', value)}" if value else ""
    return f"https://t.me/{bot_username}?start={prefix}{signed}"


def _verified(hub: Hub, prefix: str, rest: str) -> str:
    """The value a payload carries after its prefix; InvalidInput when the bot did not sign it
    (forged, or the unsigned links of earlier versions)."""
    if not rest:
        return ""
    value, _, signature = rest.partition("_")
    if not value or not secret.verify(hub.settings, f"deep-link:{prefix}", value, signature):
        raise InvalidInput("start.link_invalid")
    return value


async def start(update: Update, context: Context) -> None:
    assert update.effective_message and update.effective_user and update.effective_chat
    payload = context.args[0] if context.args else ""
    if update.effective_chat.type == update.effective_chat.PRIVATE:
        for prefix, handler in DEEP_LINKS.items():
            if payload.startswith(prefix):
                value = _verified(hub_of(context), prefix, payload.removeprefix(prefix))
                await handler(update, context, value)
                return
    async with acting(update, context) as act:
        grid = act.chat.grid if act.chat else None
    if update.effective_chat.type == update.effective_chat.PRIVATE:
        text = act.t(
            "start.private",
            name=update.effective_user.first_name,
            commands=help_text(act.hub.texts, act.lang, act.person.role),
        )
    else:
        text = act.t("start.group", grid=f"{grid.name} ({grid.code})" if grid else None)
    await update.effective_message.reply_text(text)


async def show_help(update: Update, context: Context) -> None:
    assert update.effective_message
    act = await identified(update, context)
    await update.effective_message.reply_text(help_text(act.hub.texts, act.lang, act.person.role))


def _language_keyboard() -> InlineKeyboardMarkup | None:
    return keyboards.inline([(LANGUAGE_NAMES[lang], f"lang:{lang}")] for lang in LANGUAGES)


async def choose_language(update: Update, context: Context) -> None:
    """The buttons for the presser's own language. In a group, `/lang <code>` from a grid
    worker sets the language of the group's campaign posts instead (`grids.set_chat_language`
    checks the role at that moment)."""
    assert update.effective_message and update.effective_chat
    chat = update.effective_chat
    if chat.type != chat.PRIVATE and context.args:
        language = context.args[0]
        async with acting(update, context) as act:
            await grids.set_chat_language(act.session, actor=act.person, telegram_chat_id=chat.id,
                                          language=language, now=act.hub.now())
        await update.effective_message.reply_text(act.hub.t(language, "lang.group_set"))
        return
    act = await identified(update, context)
    await update.effective_message.reply_text(act.t("lang.prompt"), reply_markup=_language_keyboard())


async def language_chosen(update: Update, context: Context) -> None:
    """A language button: it changes the language of whoever pressed it, and only theirs."""
    query = update.callback_query
    assert query and query.data
    lang = query.data.removeprefix("lang:")
    if lang not in LANGUAGES:
        raise InvalidInput("error.language", language=lang)
    async with acting(update, context) as act:
        await people.set_language(act.session, act.person, lang, now=act.hub.now())
    await query.answer(act.hub.t(lang, "lang.set"))
    if query.message and query.message.chat.type == query.message.chat.PRIVATE:
        await query.edit_message_text(act.hub.t(lang, "lang.set"))


def register(app: Application) -> None:
    declare(Command("start"), Command("help"), Command("lang"))
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CommandHandler("help", show_help))
    app.add_handler(CommandHandler("lang", choose_language))
    app.add_handler(CallbackQueryHandler(language_chosen, pattern=r"^lang:"))
