"""/ledger, /hazard and /my: looking at hazards from the chat.

/ledger is the rectification ledger of the group's grid (in a bound group) or of the worker's
own grids (in private), overdue first. /hazard shows one hazard with its timeline and /my a
reporter's own reports; both say who reported, so they answer in private (or, for /hazard,
in the workers' own group) and never in a residents' group.
"""

from __future__ import annotations

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import Application, CommandHandler

from bot.commands import Command, declare
from bot.context import Context, hub_of, identify
from hazards import ledger
from hazards import service as hazards
from hub import bindings
from hub.models import ChatKind, Role

LEDGER_LINES = 30
TIMELINE_LINES = 30


async def ledger_command(update: Update, context: Context) -> None:
    hub = hub_of(context)
    message = update.effective_message
    assert message is not None
    async with hub.db.session() as session:
        sender = await identify(session, hub, update)
        grid_id = sender.chat.grid_id if sender.chat else sender.person.grid_id
        grid = await bindings.grid(session, grid_id) if grid_id else None
        rows = await ledger.open_ledger(
            session, sender.person, grid.code if grid and sender.chat else None, now=hub.now()
        )
    lang = sender.lang
    grid_name = grid.name if grid else "—"
    if not rows:
        await message.reply_text(hub.t(lang, "hazard.ledger.empty", grid_name=grid_name))
        return
    lines = [hub.t(lang, "hazard.ledger.title", grid_name=grid_name, count=len(rows),
                   overdue_count=sum(r.overdue for r in rows))]
    lines += [hazards.render(hub.texts, lang, "hazard.ledger.item", r.params(), hub.tz)
              for r in rows[:LEDGER_LINES]]
    if len(rows) > LEDGER_LINES:
        lines.append(hub.t(lang, "hazard.ledger.more", count=len(rows) - LEDGER_LINES))
    await message.reply_text("\n".join(lines))


def _hazard_id(args: list[str]) -> int | None:
    if len(args) != 1:
        return None
    raw = args[0].lstrip("#＃")
    return int(raw) if raw.isdigit() else None


async def hazard_command(update: Update, context: Context) -> None:
    hub = hub_of(context)
    message, chat = update.effective_message, update.effective_chat
    assert message and chat
    async with hub.db.session() as session:
        sender = await identify(session, hub, update)
        lang = sender.lang
        in_workers_chat = sender.chat is not None and sender.chat.kind is ChatKind.WORKERS
        if chat.type != ChatType.PRIVATE and not in_workers_chat:
            await message.reply_text(hub.t(lang, "bot.private_only"))
            return
        hazard_id = _hazard_id(context.args or [])
        if hazard_id is None:
            await message.reply_text(hub.t(lang, "hazard.usage"))
            return
        view = await hazards.detail(session, sender.person, hazard_id, now=hub.now())
    parts = [hazards.render(hub.texts, lang, "hazard.detail", view.params, hub.tz),
             hub.t(lang, "hazard.timeline_title")]
    for item in view.timeline[-TIMELINE_LINES:]:
        key, params = hazards.timeline_params(item)
        parts.append(hazards.render(hub.texts, lang, key, params, hub.tz))
    await message.reply_text("\n".join(parts))


async def my_command(update: Update, context: Context) -> None:
    hub = hub_of(context)
    message, chat = update.effective_message, update.effective_chat
    assert message and chat
    async with hub.db.session() as session:
        sender = await identify(session, hub, update)
        if chat.type != ChatType.PRIVATE:
            await message.reply_text(hub.t(sender.lang, "bot.private_only"))
            return
        reports = await hazards.my_reports(session, sender.person)
    lang = sender.lang
    if not reports:
        await message.reply_text(hub.t(lang, "hazard.my_empty"))
        return
    lines = [hub.t(lang, "hazard.my_title")]
    for hazard in reports:
        params = {"id": hazard.id, "category": hazard.category, "state": hazard.state.value,
                  "reported_at": hazard.reported_at}
        lines.append(hazards.render(hub.texts, lang, "hazard.my_item", params, hub.tz))
    await message.reply_text("\n".join(lines))


def register(app: Application) -> None:
    declare(Command("my"), Command("ledger", Role.WORKER), Command("hazard", Role.WORKER))
    app.add_handler(CommandHandler("ledger", ledger_command))
    app.add_handler(CommandHandler("hazard", hazard_command))
    app.add_handler(CommandHandler("my", my_command))
