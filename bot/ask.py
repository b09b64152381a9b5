"""/ask, plain questions in private, related-question buttons, and workers' /answer.

The knowledge base lives on the hub for the life of the process (loaded once, jieba warm);
this module turns a message into one search and its answer, or one queued question.
"""

from __future__ import annotations

import asyncio

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot import keyboards
from bot.commands import Command, declare
from bot.context import Context, acting, hub_of, hub_of_app, identified
from bot.ids import callback_id, parse_id
from hub import notify
from hub.core import Hub
from hub.i18n import LANGUAGES
from hub.models import Role
from knowledge import questions
from knowledge.base import Answer, KnowledgeBase

MAX_QUESTION = 500


def knowledge(hub: Hub) -> KnowledgeBase:
    kb = hub.services.get(questions.KNOWLEDGE)
    if kb is None:
        raise RuntimeError("knowledge base not loaded")
    return kb


def _related_keyboard(answer: Answer, person_lang: str) -> InlineKeyboardMarkup | None:
    """qa:<entry id>, and :<language> when the answer followed the question's language."""
    suffix = f":{answer.lang}" if answer.lang != person_lang else ""
    return keyboards.inline(
        [(question[:60], f"qa:{entry_id}{suffix}")] for entry_id, question in answer.related[:3]
    )


def _render(hub: Hub, lang: str, answer: Answer) -> str:
    return hub.t(lang, "ask.answer", question=answer.question, answer=answer.answer, basis=answer.basis)


async def _answer_question(update: Update, context: Context, text: str) -> None:
    message, chat = update.effective_message, update.effective_chat
    assert message and chat
    kb = knowledge(hub_of(context))
    async with acting(update, context) as act:
        hub, sender = act.hub, act.sender
        if not text.strip():
            await message.reply_text(act.t("ask.usage"))
            return
        if len(text) > MAX_QUESTION:
            await message.reply_text(act.t("ask.too_long", limit=MAX_QUESTION))
            return
        # In the question's language when it is clearly one of ours, else the sender's.
        answer = await asyncio.to_thread(kb.answer, text, sender.lang)
        if answer.answered:
            await message.reply_text(
                _render(hub, answer.lang, answer), reply_markup=_related_keyboard(answer, sender.lang)
            )
            return
        if answer.reason in {"empty", "no_text"}:
            await message.reply_text(act.t("ask.unclear"))
            return
        routed = await questions.file_question(
            act.session, asker=sender.person, text=text, lang=answer.lang, chat_id=chat.id,
            grid_id=sender.chat.grid_id if sender.chat else None, now=hub.now(),
            limit=hub.settings.open_question_limit,
        )
        question = routed.question
        for worker in routed.workers:
            if worker.id != sender.person.id:
                await notify.tell(
                    act.session, hub, worker, "ask.for_worker", id=question.id, text=question.text,
                    ref=("question", question.id), dedupe_key=f"question:{question.id}:to:{worker.id}",
                )
    # A question about the place gets said so: the bot knows no local facts (issue 16).
    key = "ask.place" if answer.reason == "place" else "ask.unknown"
    await message.reply_text(hub.t(answer.lang, key, id=question.id))


async def ask_command(update: Update, context: Context) -> None:
    await _answer_question(update, context, " ".join(context.args or []))


async def private_text(update: Update, context: Context) -> None:
    assert update.effective_message and update.effective_message.text is not None
    await _answer_question(update, context, update.effective_message.text)


async def related_pressed(update: Update, context: Context) -> None:
    hub = hub_of(context)
    query = update.callback_query
    assert query and query.data
    entry_id, _, lang = query.data.removeprefix("qa:").partition(":")
    kb = knowledge(hub)
    act = await identified(update, context)
    if entry_id not in kb.entries:
        await query.answer(act.t("ask.entry_gone"), show_alert=True)
        return
    lang = lang if lang in LANGUAGES else act.lang  # the language the question was answered in
    question, text = kb.entry_text(entry_id, lang)
    await query.answer()
    if query.message is not None:
        await context.bot.send_message(
            query.message.chat.id,
            hub.t(lang, "ask.answer", question=question, answer=text,
                  basis=kb.entries[entry_id].basis),
        )


async def answer_command(update: Update, context: Context) -> None:
    """/answer <id> <text>, by a worker in private; the asker hears it in private.

    Staff over the question may add their answer to the knowledge base at once (the button
    under the reply); a worker's answer is offered to those staff instead, with the button.
    """
    message = update.effective_message
    assert message is not None
    args = context.args or []
    async with acting(update, context) as act:
        if not await act.in_private():
            return
        question_id = parse_id(args[0], not_found="ask.question_unknown") if args else None
        if len(args) < 2 or question_id is None:
            await message.reply_text(act.t("ask.answer_usage"))
            return
        text = message.text.split(None, 2)[2] if message.text else " ".join(args[1:])
        answered = await questions.answer(
            act.session, act.hub, actor=act.person, question_id=question_id, text=text, now=act.hub.now(),
        )
        question = answered.question
    if not answered.promotable:
        await message.reply_text(act.t("ask.answer_sent_to_asker", id=question.id))
        return
    await message.reply_text(
        act.t("ask.answer_sent", id=question.id),
        reply_markup=keyboards.inline(questions.promote_buttons(act.hub, act.lang, question.id)),
    )


async def promote_pressed(update: Update, context: Context) -> None:
    """qp:<id> — staff add an answer to the knowledge base (questions.promote decides who may)."""
    query = update.callback_query
    assert query and query.data
    question_id = callback_id(query.data.removeprefix(f"{questions.PROMOTE_PREFIX}:"),
                              not_found="ask.question_unknown")
    async with acting(update, context) as act:
        entry = await questions.promote(
            act.session, actor=act.person, question_id=question_id, topic="community", now=act.hub.now()
        )
    knowledge(act.hub).add_promoted(entry.id, entry.topic, entry.question, entry.answer, entry.lang)
    await query.answer(act.t("ask.promoted", id=question_id), show_alert=True)
    await query.edit_message_reply_markup(None)


async def load(app: Application) -> None:
    """Open the knowledge base before the first question arrives (jieba warm, index built)."""
    await questions.open_knowledge(hub_of_app(app))


def register(app: Application) -> None:
    declare(Command("ask"), Command("answer", Role.WORKER))
    app.add_handler(CommandHandler("ask", ask_command))
    app.add_handler(CommandHandler("answer", answer_command))
    app.add_handler(CallbackQueryHandler(related_pressed, pattern=r"^qa:"))
    app.add_handler(CallbackQueryHandler(promote_pressed, pattern=r"^qp:\d+$"))
    # Plain text in a private chat is a question: features that read text come before ask
    # in bot.app.FEATURES, so their handlers see it first.
    app.add_handler(
        MessageHandler(filters.ChatType.PRIVATE & filters.TEXT & ~filters.COMMAND, private_text)
    )
