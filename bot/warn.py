"""/warn: a worker writes a warning, checks the preview, sends it — or edits or drops it.

The preview's buttons are `wn:<id>:send|edit|cancel`; after sending, `wn:<id>:report` shows
the delivery report. Every press is one call into broadcasts.warnings.lifecycle, which decides who
may do it, so a stranger's press or a replayed one changes nothing.
"""

from __future__ import annotations

from telegram import ForceReply, InlineKeyboardMarkup, Message, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot import keyboards, pending
from bot.commands import Command, declare
from bot.context import Context, acting
from bot.ids import callback_id, parse_id
from broadcasts.warnings import lifecycle as warnings
from broadcasts.warnings.ingest import preview_buttons
from broadcasts.warnings.models import MsgType
from hub.core import Hub
from hub.models import Role

FOLLOW_UPS = {
    "update": MsgType.UPDATE, "更新": MsgType.UPDATE,
    "cancel": MsgType.CANCEL, "解除": MsgType.CANCEL, "撤销": MsgType.CANCEL, "取消": MsgType.CANCEL,
}


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
            warning_id = parse_id(number, not_found="warn.not_found")
            if warning_id is None:
                await message.reply_text(act.t("warn.usage"))
                return
            warning = await warnings.follow_up(
                act.session, act.hub, act.person, warning_id, follow_up, text
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
    warning_id = callback_id(number, not_found="warn.not_found")
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
            await warnings.editable(act.session, act.person, warning_id)
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
        # kept in the database: the reply may come after a restart, or to another process
        flow = pending.prompt_flow(pending.WARN_EDIT, prompt.message_id)
        await pending.put(update, context, flow, warning_id, chat=prompt.chat.id)
    elif action == "report":
        await message.reply_text(reply)
    else:
        await message.edit_text(f"{message.text}\n\n{reply}", reply_markup=markup)


async def edit_reply(update: Update, context: Context) -> None:
    message = update.effective_message
    assert message is not None and message.reply_to_message is not None and message.text is not None
    warning_id = pending.replied(context.application, message, pending.WARN_EDIT)  # the filter saw it
    async with acting(update, context) as act:
        warning = await warnings.edit(act.session, act.hub, act.person, warning_id, message.text)
        preview = warnings.render(act.hub, warning, act.lang, preview=True)
        edited_id = warning.id  # a feed alert's edit is a new warning of our own
    flow = pending.prompt_flow(pending.WARN_EDIT, message.reply_to_message.message_id)
    await pending.clear(update, context, flow, chat=message.chat.id)
    await message.reply_text(preview, reply_markup=_keyboard(act.hub, act.lang, edited_id))


def register(app: Application) -> None:
    declare(Command("warn", Role.WORKER))
    pending.install(app)
    app.add_handler(CommandHandler("warn", warn_command))
    app.add_handler(CallbackQueryHandler(pressed, pattern=r"^wn:\d+:(send|edit|cancel|report)$"))
    # a reply to an edit prompt by the person who pressed "edit" (and nothing else)
    edits = pending.Replying(app, pending.WARN_EDIT)
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND & edits, edit_reply))
