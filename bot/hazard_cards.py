"""Hazard card buttons (`hz:<id>:<action>`), the evidence photo and original's number they
may need, and the reporter's answer to "is it fixed?" (`hzf:<id>:yes|no`).

Who may press what is decided by `hazards.lifecycle.act`; this module turns a press into that one call.
"fixed" needs a photo and "dup" the original's number, so those two are first checked with
`hazards.lifecycle.check_act` (nothing changes) and then the worker is asked — in private, so a
group does not fill with prompts — and the answer makes the call.
"""

from __future__ import annotations

import logging

from telegram import Update
from telegram.constants import ChatType
from telegram.error import Forbidden, TelegramError
from telegram.ext import Application, CallbackQueryHandler, MessageHandler, filters

from bot import keyboards, pending
from bot.context import Context, acting, hub_of
from bot.ids import callback_id, parse_id
from bot.uploads import store_sent_photo
from hazards import delivery as hazard_delivery
from hazards import lifecycle
from hazards.models import Action
from hazards.notices import Notice, NoticeKind
from hub.core import Hub

log = logging.getLogger(__name__)

ASKS = {Action.FIXED: (pending.EVIDENCE_PHOTO, "hazard.ask_fixed_photo"),
        Action.DUP: (pending.ORIGINAL_NUMBER, "hazard.ask_original")}


def _state_text(hub: Hub, lang: str, outcome: lifecycle.Outcome) -> str:
    return hub.t(lang, "hazard.acted", id=outcome.hazard.id,
                 state_name=hub.t(lang, f"hazard.state.{outcome.hazard.state.value}"))


def _is_here(notice: Notice, chat_id: int | None) -> bool:
    """The refreshed card for the chat whose card was pressed: edited in place, not re-sent."""
    target = notice.chat_id if notice.chat_id is not None else notice.telegram_id
    return notice.kind is NoticeKind.CARD and chat_id is not None and target == chat_id


async def card_pressed(update: Update, context: Context) -> None:
    query = update.callback_query
    assert query and query.data and context.user_data is not None
    _, raw_id, raw_action = query.data.split(":")
    hazard_id = callback_id(raw_id, not_found="hazard.not_found")
    action = lifecycle.parse_action(raw_action)
    chat = query.message.chat if query.message else None
    if action in ASKS:
        async with acting(update, context) as act:
            await lifecycle.check_act(act.session, act.person, hazard_id, action)
        await _ask_worker(update, context, act.lang, hazard_id, action)
        return
    async with acting(update, context) as act:
        outcome = await lifecycle.act(act.session, act.person, hazard_id, action, now=act.hub.now())
        here = [n for n in outcome.notices if _is_here(n, chat.id if chat else None)]
        await hazard_delivery.deliver(act.session, act.hub, [n for n in outcome.notices if n not in here])
    await query.answer(_state_text(act.hub, act.lang, outcome))
    if here:
        await _refresh_card(act.hub, update, here[0])


async def _refresh_card(hub: Hub, update: Update, notice: Notice) -> None:
    """Edit the pressed card to the hazard's new state; if Telegram refuses, send it anew."""
    query = update.callback_query
    assert query is not None
    _, card = hazard_delivery.render(hub, notice)
    try:
        await query.edit_message_text(card.text, reply_markup=keyboards.inline(card.buttons))
    except TelegramError:
        log.warning("could not edit the card of hazard %s; sending it anew", notice.hazard_id)
        async with hub.db.session() as session:
            await hazard_delivery.deliver(session, hub, [notice])


async def _ask_worker(
    update: Update, context: Context, lang: str, hazard_id: int, action: Action
) -> None:
    hub = hub_of(context)
    query = update.callback_query
    assert query is not None and context.user_data is not None
    key, prompt = ASKS[action]
    await pending.wait_for(update, context, key, hazard_id)
    text = hub.t(lang, prompt, id=hazard_id)
    chat = query.message.chat if query.message else None
    if chat is not None and chat.type == ChatType.PRIVATE:
        await query.answer()
        await context.bot.send_message(chat.id, text)
        return
    try:
        await context.bot.send_message(query.from_user.id, text)
    except Forbidden:  # they never opened a private chat with the bot
        await pending.clear(update, context, key)
        await query.answer(hub.t(lang, "hazard.open_private", bot=context.bot.username), show_alert=True)
        return
    await query.answer(hub.t(lang, "hazard.asked_in_private"), show_alert=True)


async def evidence_sent(update: Update, context: Context) -> None:
    """The photo a worker was asked for after pressing "fixed"."""
    hub = hub_of(context)
    message = update.effective_message
    assert message and context.user_data is not None
    hazard_id = pending.current(update, context, pending.EVIDENCE_PHOTO)
    photo = await store_sent_photo(hub, message)  # a bad photo is refused; we keep waiting
    await pending.clear(update, context, pending.EVIDENCE_PHOTO)
    async with acting(update, context) as act:
        outcome = await lifecycle.act(
            act.session, act.person, hazard_id, Action.FIXED, now=hub.now(), photo=photo
        )
        await hazard_delivery.deliver(act.session, hub, outcome.notices)
    await message.reply_text(_state_text(hub, act.lang, outcome))


async def original_sent(update: Update, context: Context) -> None:
    """The original's number a worker was asked for after pressing "dup"."""
    message = update.effective_message
    assert message and message.text is not None and context.user_data is not None
    hazard_id = pending.current(update, context, pending.ORIGINAL_NUMBER)
    async with acting(update, context) as act:
        number = parse_id(message.text, not_found="hazard.not_found")
        if number is None:
            await message.reply_text(act.t("hazard.bad_number"))
            return
        await pending.clear(update, context, pending.ORIGINAL_NUMBER)
        outcome = await lifecycle.act(
            act.session, act.person, hazard_id, Action.DUP, now=act.hub.now(), duplicate_of=number
        )
        await hazard_delivery.deliver(act.session, act.hub, outcome.notices)
    await message.reply_text(_state_text(act.hub, act.lang, outcome))


async def followup_answered(update: Update, context: Context) -> None:
    """hzf:<id>:yes|no — the reporter says whether the closed hazard really is fixed."""
    query = update.callback_query
    assert query and query.data
    _, raw_id, answer = query.data.split(":")
    hazard_id = callback_id(raw_id, not_found="hazard.not_found")
    async with acting(update, context) as act:
        outcome = await lifecycle.answer_followup(
            act.session, act.person, hazard_id, answer == "yes", now=act.hub.now()
        )
        await hazard_delivery.deliver(act.session, act.hub, outcome.notices)
    await query.answer()
    try:
        await query.edit_message_reply_markup(None)
    except TelegramError:
        log.info("could not remove the follow-up buttons of hazard %s", raw_id)


def register(app: Application) -> None:
    # In a group, only a reply to the bot is an answer; elsewhere the group talks freely.
    where = filters.ChatType.PRIVATE | filters.REPLY
    media = filters.PHOTO | filters.Document.ALL
    app.add_handler(CallbackQueryHandler(card_pressed, pattern=r"^hz:\d+:\w+$"))
    app.add_handler(CallbackQueryHandler(followup_answered, pattern=r"^hzf:\d+:(yes|no)$"))
    app.add_handler(MessageHandler(where & media & pending.Awaiting(app, pending.EVIDENCE_PHOTO), evidence_sent))
    app.add_handler(MessageHandler(
        where & filters.TEXT & ~filters.COMMAND & pending.Awaiting(app, pending.ORIGINAL_NUMBER),
        original_sent,
    ))
