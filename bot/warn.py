"""/warn: a worker writes a warning, checks the preview, sends it — or edits or drops it.

The preview's buttons are `wn:<id>:send|edit|cancel`; after sending, `wn:<id>:report` shows
the delivery report. Every press is one call into broadcasts.warnings.lifecycle, which decides who
may do it, so a stranger's press or a replayed one changes nothing.
"""

from __future__ import annotations

from telegram import ForceReply, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.commands import Command, declare
from bot.context import Context, hub_of, identify
from broadcasts.warnings import lifecycle as warnings
from broadcasts.warnings.ingest import preview_buttons
from broadcasts.warnings.models import MsgType
from hub.core import Hub
from hub.models import Role

FOLLOW_UPS = {
    "update": MsgType.UPDATE, "更新": MsgType.UPDATE,
    "cancel": MsgType.CANCEL, "解除": MsgType.CANCEL, "撤销": MsgType.CANCEL, "取消": MsgType.CANCEL,
}
EDITS = "warn_edits"  # bot_data: (chat id, prompt message id) -> warning id


def _keyboard(hub: Hub, lang: str, warning_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup.de_json(preview_buttons(hub, lang, warning_id), None)


async def warn_command(update: Update, context: Context) -> None:
    hub = hub_of(context)
    message = update.effective_message
    assert message is not None
    _, *rest_of_text = (message.text or "").split(None, 1)
    args = rest_of_text[0] if rest_of_text else ""
    async with hub.db.session() as session:
        sender = await identify(session, hub, update)
        head, _, rest = args.partition(" ")
        follow_up = FOLLOW_UPS.get(head.lower())
        if not args.strip():
            await message.reply_text(hub.t(sender.lang, "warn.usage"))
            return
        if follow_up is not None:
            number, _, text = rest.strip().partition(" ")
            if not number.lstrip("#").isdigit():
                await message.reply_text(hub.t(sender.lang, "warn.usage"))
                return
            warning = await warnings.follow_up(
                session, hub, sender.person, int(number.lstrip("#")), follow_up, text
            )
        else:
            warning = await warnings.draft(session, hub, sender.person, warnings.parse_command(args))
        preview = warnings.render(hub, warning, sender.lang, preview=True)
        warning_id = warning.id
    await message.reply_text(preview, reply_markup=_keyboard(hub, sender.lang, warning_id))


async def _report_text(hub: Hub, lang: str, report: warnings.Report) -> str:
    failures = [f"{chat}: {error or status}" for chat, status, error in report.chats if status == "failed"]
    return hub.t(
        lang, "warn.report_text", id=report.warning.id, sent=report.counts["sent"],
        pending=report.counts["pending"] + report.counts["sending"], failed=report.counts["failed"],
        failures=failures[:20],
    )


async def pressed(update: Update, context: Context) -> None:
    hub = hub_of(context)
    query = update.callback_query
    assert query is not None and query.data is not None
    _, number, action = query.data.split(":")
    warning_id = int(number)
    async with hub.db.session() as session:
        sender = await identify(session, hub, update)
        lang = sender.lang
        if action == "send":
            sent = await warnings.send(session, hub, sender.person, warning_id)
            reply = hub.t(lang, "warn.sent", id=warning_id, chats=sent.chats, speakers=sent.speakers)
            markup = InlineKeyboardMarkup(
                [[InlineKeyboardButton(hub.t(lang, "warn.report"), callback_data=f"wn:{warning_id}:report")]]
            )
        elif action == "cancel":
            await warnings.discard(session, hub, sender.person, warning_id)
            reply, markup = hub.t(lang, "warn.discarded", id=warning_id), None
        elif action == "edit":
            warning = await warnings.get(session, warning_id)
            await warnings.require_editable(session, sender.person, warning)
            reply, markup = None, None
        elif action == "report":
            report = await warnings.delivery_report(session, sender.person, warning_id)
            reply, markup = await _report_text(hub, lang, report), None
        else:
            await query.answer()
            return
    await query.answer()
    message = query.message if isinstance(query.message, Message) else None
    if message is None:
        return
    if action == "edit":
        prompt = await message.reply_text(hub.t(lang, "warn.edit_prompt"), reply_markup=ForceReply(selective=True))
        context.bot_data.setdefault(EDITS, {})[(prompt.chat.id, prompt.message_id)] = warning_id
    elif action == "report":
        await message.reply_text(reply)
    else:
        await message.edit_text(f"{message.text}\n\n{reply}", reply_markup=markup)


class _EditReply(filters.MessageFilter):
    """A reply to one of our edit prompts (and nothing else), so other text flows are untouched."""

    def __init__(self, edits: dict[tuple[int, int], int]) -> None:
        super().__init__(name="warn_edit_reply")
        self.edits = edits

    def filter(self, message: Message) -> bool:
        reply = message.reply_to_message
        return reply is not None and (message.chat.id, reply.message_id) in self.edits


async def edit_reply(update: Update, context: Context) -> None:
    hub = hub_of(context)
    message = update.effective_message
    assert message is not None and message.reply_to_message is not None and message.text is not None
    warning_id = context.bot_data[EDITS][(message.chat.id, message.reply_to_message.message_id)]
    async with hub.db.session() as session:
        sender = await identify(session, hub, update)
        warning = await warnings.edit(session, hub, sender.person, warning_id, message.text)
        preview = warnings.render(hub, warning, sender.lang, preview=True)
    context.bot_data[EDITS].pop((message.chat.id, message.reply_to_message.message_id), None)
    await message.reply_text(preview, reply_markup=_keyboard(hub, sender.lang, warning_id))


def register(app: Application) -> None:
    declare(Command("warn", Role.WORKER))
    edits: dict[tuple[int, int], int] = app.bot_data.setdefault(EDITS, {})
    app.add_handler(CommandHandler("warn", warn_command))
    app.add_handler(CallbackQueryHandler(pressed, pattern=r"^wn:\d+:(send|edit|cancel|report)$"))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND & _EditReply(edits), edit_reply))
