"""/speakers: the loudspeakers of my area — offline ones first, and what each played today.

For grid workers and staff, in private (their whole scope) or in a bound workers' group (that
group's grid and below). One call into broadcasts.speakers.monitoring, which decides who sees
what.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, CommandHandler

from bot.commands import Command, declare
from bot.context import Context, acting
from broadcasts.speakers import monitoring
from hub.models import Role

MAX_LINES = 30
KINDS = ("urgent", "announcement", "campaign", "filler")
LOCAL_TIME = "%m-%d %H:%M"


async def speakers_command(update: Update, context: Context) -> None:
    message = update.effective_message
    assert message is not None
    async with acting(update, context) as act:
        if not await act.in_private(or_workers_chat=True):
            return
        under = act.chat.grid.code if act.chat is not None else None
        found = await monitoring.overview(act.session, act.hub, act.person, under)
    if not found:
        await message.reply_text(act.t("speakers.list.empty"))
        return
    separator = "、" if act.lang.startswith("zh") else ", "
    lines = [act.t("speakers.list.title", count=len(found),
                   offline=sum(s.state == "offline" for s in found))]
    for status in found[:MAX_LINES]:
        played = status.played_today
        parts = separator.join(f"{act.t(f'speakers.kind.{kind}')} {played[kind]}"
                               for kind in KINDS if played.get(kind))
        seen = status.speaker.last_seen_at
        lines.append(act.t(
            "speakers.list.item", code=status.speaker.code, name=status.speaker.name,
            grid=status.grid.name, state=status.state, state_name=act.t(f"speakers.state.{status.state}"),
            last_seen=act.hub.local(seen).strftime(LOCAL_TIME) if seen and status.state == "offline" else "",
            total=sum(n for kind, n in played.items() if kind != "failed"), parts=parts,
            failed=played.get("failed", 0),
        ))
    if len(found) > MAX_LINES:
        lines.append(act.t("speakers.list.more", count=len(found) - MAX_LINES))
    await message.reply_text("\n".join(lines))


def register(app: Application) -> None:
    declare(Command("speakers", Role.WORKER))
    app.add_handler(CommandHandler("speakers", speakers_command))
