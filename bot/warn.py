"""/warn: a worker writes a warning, checks the preview, sends it — or edits or drops it.

The preview's buttons are `wn:<id>:send|edit|cancel`; after sending, `wn:<id>:report` shows
the delivery report. Every press is one call into broadcasts.warnings.lifecycle, which decides who
may do it, so a stranger's press or a replayed one changes nothing.
"""

from __future__ import annotations

from telegram import ForceReply, InlineKeyboardMarkup, Message, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot import keyboards
from bot.commands import Command, declare
from bot.context import Context, acting
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


def _keyboard(hub: Hub, lang: str, warning_id: int) -> InlineKeyboardMarkup | None:
    return keyboards.inline(preview_buttons(hub, lang, warning_id))


async def warn_command(update: Update, context: Context) -> None:
    message = update.effective_message
    assert message is not None
    _, *rest_of_text = (message.text or "").split(None, 1)
    args = rest_of_text[0] if rest_of_text else ""
    async with acting(update, context) as act:
        head, _, rest = args.partition(" ")
        follow_up = FOLLOW_UPS.get(head.lower())
        if not args.strip():
            await message.reply_text(act.t("warn.usage"))
            return
        if follow_up is not None:
            number, _, text = rest.strip().partition(" ")
            if not number.lstrip("#").isdigit():
                await message.reply_text(act.t("warn.usage"))
                return
            warning = await warnings.follow_up(
                act.session, act.hub, act.person, int(number.lstrip("#")), follow_up, text
            )
        else:
            warning = await warnings.draft(act.session, act.hub, act.person, warnings.parse_command(args))
        preview = warnings.render(act.hub, warning, act.lang, preview=True)
        warning_id = warning.id
    await message.reply_text(preview, reply_markup=_keyboard(act.hub, act.lang, warning_id))


async def _report_text(hub: Hub, lang: str, report: warnings.Report) -> str:
    failures = [f"{chat}: {error or status}" for chat, status, error in report.chats if status == "failed"]
    return hub.t(
        lang, "warn.report_text", id=report.warning.id, sent=report.counts["sent"],
        pending=report.counts["pending"] + report.counts["sending"], failed=report.counts["failed"],
        failures=failures[:20],
    )


async def pressed(update: Update, context: Context) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    _, number, action = query.data.split(":")
    warning_id = int(number)
    async with acting(update, context) as act:
        lang = act.lang
        if action == "send":
            sent = await warnings.send(act.session, act.hub, act.person, warning_id)
            reply = act.t("warn.sent", id=warning_id, chats=sent.chats, speakers=sent.speakers)
            markup = keyboards.inline([[(act.t("warn.report"), f"wn:{warning_id}:report")]])
        elif action == "cancel":
            await warnings.discard(act.session, act.hub, act.person, warning_id)
            reply, markup = act.t("warn.discarded", id=warning_id), None
        elif action == "edit":
            warning = await warnings.get(act.session, warning_id)
            await warnings.require_editable(act.session, act.person, warning)
            reply, markup = None, None
        elif action == "report":
            report = await warnings.delivery_report(act.session, act.person, warning_id)
            reply, markup = await _report_text(act.hub, lang, report), None
        else:
            await query.answer()
            return
    await query.answer()
    message = query.message if isinstance(query.message, Message) else None
    if message is None:
        return
    if action == "edit":
        prompt = await message.reply_text(act.t("warn.edit_prompt"), reply_markup=ForceReply(selective=True))
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
    message = update.effective_message
    assert message is not None and message.reply_to_message is not None and message.text is not None
    warning_id = context.bot_data[EDITS][(message.chat.id, message.reply_to_message.message_id)]
    async with acting(update, context) as act:
        warning = await warnings.edit(act.session, act.hub, act.person, warning_id, message.text)
        preview = warnings.render(act.hub, warning, act.lang, preview=True)
    context.bot_data[EDITS].pop((message.chat.id, message.reply_to_message.message_id), None)
    await message.reply_text(preview, reply_markup=_keyboard(act.hub, act.lang, warning_id))


def register(app: Application) -> None:
    declare(Command("warn", Role.WORKER))
    edits: dict[tuple[int, int], int] = app.bot_data.setdefault(EDITS, {})
    app.add_handler(CommandHandler("warn", warn_command))
    app.add_handler(CallbackQueryHandler(pressed, pattern=r"^wn:\d+:(send|edit|cancel|report)$"))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND & _EditReply(edits), edit_reply))
