"""/bind: a grid worker ties a group chat to their grid."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, CommandHandler

from bot.commands import Command, declare
from bot.context import Context, acting
from hub import grids
from hub.models import ChatKind, Grid, Role


async def bind(update: Update, context: Context) -> None:
    message, chat = update.effective_message, update.effective_chat
    assert message and chat
    args = context.args or []
    async with acting(update, context) as act:
        if chat.type == chat.PRIVATE:
            await message.reply_text(act.t("bind.group_only"))
            return
        if not args or len(args) > 2 or (len(args) == 2 and args[1].lower() != "workers"):
            await message.reply_text(act.t("bind.usage"))
            return
        kind = ChatKind.WORKERS if len(args) == 2 else ChatKind.GROUP
        bound = await grids.bind_chat(
            act.session,
            actor=act.person,
            telegram_chat_id=chat.id,
            title=chat.title,
            code=args[0],
            kind=kind,
            now=act.hub.now(),
        )
        grid = await act.session.get(Grid, bound.grid_id)
    assert grid is not None
    await message.reply_text(act.t("bind.ok", grid_name=grid.name, grid_code=grid.code, kind=kind.value))


def register(app: Application) -> None:
    declare(Command("bind", Role.WORKER))
    app.add_handler(CommandHandler("bind", bind))
