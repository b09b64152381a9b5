"""/ledger, /hazard and /my: looking at hazards from the chat.

/ledger is the rectification ledger of the group's grid (in a bound group) or of the worker's
own grids (in private), overdue first. /hazard shows one hazard with its timeline and /my a
reporter's own reports; both say who reported, so they answer in private (or, for /hazard,
in the workers' own group) and never in a residents' group.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, CommandHandler

from bot.commands import Command, declare
from bot.context import Context, acting
from bot.ids import parse_id
from hazards import ledger, views
from hazards.notices import render
from hub import bindings
from hub.models import Role

LEDGER_LINES = 30
TIMELINE_LINES = 30


async def ledger_command(update: Update, context: Context) -> None:
    message = update.effective_message
    assert message is not None
    async with acting(update, context) as act:
        grid_id = act.chat.grid_id if act.chat else act.person.grid_id
        grid = await bindings.grid(act.session, grid_id) if grid_id else None
        rows = await ledger.open_ledger(
            act.session, act.person, grid.code if grid and act.chat else None, now=act.hub.now()
        )
    lang = act.lang
    grid_name = grid.name if grid else "—"
    if not rows:
        await message.reply_text(act.t("hazard.ledger.empty", grid_name=grid_name))
        return
    lines = [act.t("hazard.ledger.title", grid_name=grid_name, count=len(rows),
                   overdue_count=sum(r.overdue for r in rows))]
    lines += [render(act.hub.texts, lang, "hazard.ledger.item", r.params(), act.hub.tz)
              for r in rows[:LEDGER_LINES]]
    if len(rows) > LEDGER_LINES:
        lines.append(act.t("hazard.ledger.more", count=len(rows) - LEDGER_LINES))
    await message.reply_text("\n".join(lines))


def _hazard_id(args: list[str]) -> int | None:
    if len(args) != 1:
        return None
    return parse_id(args[0], not_found="hazard.not_found")


async def hazard_command(update: Update, context: Context) -> None:
    message = update.effective_message
    assert message is not None
    async with acting(update, context) as act:
        lang = act.lang
        if not await act.in_private(or_workers_chat=True):
            return
        hazard_id = _hazard_id(context.args or [])
        if hazard_id is None:
            await message.reply_text(act.t("hazard.usage"))
            return
        view = await views.detail(act.session, act.person, hazard_id, now=act.hub.now())
    parts = [render(act.hub.texts, lang, "hazard.detail", view.params, act.hub.tz),
             act.t("hazard.timeline_title")]
    for item in view.timeline[-TIMELINE_LINES:]:
        key, params = views.timeline_params(item)
        parts.append(render(act.hub.texts, lang, key, params, act.hub.tz))
    await message.reply_text("\n".join(parts))


async def my_command(update: Update, context: Context) -> None:
    message = update.effective_message
    assert message is not None
    async with acting(update, context) as act:
        if not await act.in_private():
            return
        reports = await views.my_reports(act.session, act.person)
    lang = act.lang
    if not reports:
        await message.reply_text(act.t("hazard.my_empty"))
        return
    lines = [act.t("hazard.my_title")]
    for hazard in reports:
        params = {"id": hazard.id, "category": hazard.category, "state": hazard.state.value,
                  "reported_at": hazard.reported_at}
        lines.append(render(act.hub.texts, lang, "hazard.my_item", params, act.hub.tz))
    await message.reply_text("\n".join(lines))


def register(app: Application) -> None:
    declare(Command("my"), Command("ledger", Role.WORKER), Command("hazard", Role.WORKER))
    app.add_handler(CommandHandler("ledger", ledger_command))
    app.add_handler(CommandHandler("hazard", hazard_command))
    app.add_handler(CommandHandler("my", my_command))
