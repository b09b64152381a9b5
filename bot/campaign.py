"""/campaign: the safety campaigns of my area, now and in the coming week, with the audio.

For staff, in private (their own grid) or in a bound workers' group (that group's grid). One
call into broadcasts.campaigns.overview, which decides who sees what; then what the
loudspeakers play for each campaign running now, as a voice message — the clip the speakers
already have, or rendered off the event loop when none is made yet.
"""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

from sqlalchemy import select
from telegram import Update
from telegram.error import TelegramError
from telegram.ext import Application, CommandHandler

from audio import library
from bot.commands import Command, declare
from bot.context import Acting, Context, acting
from broadcasts.campaigns import overview, release
from broadcasts.campaigns.release import date_text
from broadcasts.speakers import clips, registry
from broadcasts.speakers.models import ScriptClip
from hub.errors import HubError
from hub.models import Role

log = logging.getLogger(__name__)

MAX_VOICES = 2  # voice messages per answer: the campaigns running now, highest priority first


def _posts(act: Acting, running: overview.Running) -> str:
    comma = ", " if act.lang == "en" else "、"
    return comma.join(f"{date_text(at.date(), act.lang)} {at:%H:%M}" for at in running.posts)


def _plays(act: Acting, running: overview.Running) -> str:
    english = act.lang == "en"
    comma = ", " if english else "、"
    parts = []
    for slot in running.slots:
        days = comma.join(act.t(f"campaigns.weekday.{d}") for d in slot.weekdays) or act.t("campaigns.daily")
        times = comma.join(slot.times)
        parts.append(f"{times} ({days})" if english else f"{times}（{days}）")
    return ("; " if english else "；").join(parts)


def describe(act: Acting, grid_name: str, found: list[overview.Running], today: date) -> str:
    if not found:
        return act.t("campaigns.none", grid=grid_name)
    lines = [act.t("campaigns.header", grid=grid_name)]
    for running in found:
        span = running.occasion.span
        lines.append(act.t(
            "campaigns.item", mark=act.t("campaigns.now" if today in span else "campaigns.soon"),
            title=running.occasion.campaign.title(act.lang), start=date_text(span.start, act.lang),
            end=date_text(span.end, act.lang), state=act.t(f"campaigns.state.{running.state}"),
            posts=_posts(act, running), plays=_plays(act, running),
        ))
    return "\n\n".join(lines)


async def _voice(act: Acting, script_id: str, dialect: str) -> Path | None:
    """The Ogg/Opus of what the speakers play: their rendered clip, else a render now."""
    async with act.hub.db.session() as session:
        sha = await session.scalar(select(ScriptClip.clip_sha).where(
            ScriptClip.script_id == script_id, ScriptClip.dialect == dialect))
    stored = clips.file_for(act.hub.settings.data_dir, f"{sha}.ogg") if sha else None
    if stored is not None and stored.exists():
        return stored
    try:
        rendered = await library.render(act.hub, script_id, dialect or None, formats=("ogg",))
    except (HubError, ValueError, RuntimeError) as error:
        log.warning("cannot render %s for /campaign: %s", script_id, error)
        return None
    return rendered.paths.get("ogg")


async def campaign_command(update: Update, context: Context) -> None:
    message = update.effective_message
    assert message is not None
    async with acting(update, context) as act:
        if not await act.in_private(or_workers_chat=True):
            return
        known = await release.catalogue(act.hub)
        under = act.chat.grid.code if act.chat is not None else None
        grid = await overview.area_grid(act.session, act.person, under)
        now = act.hub.now()
        found = await overview.in_area(act.session, act.hub, known, grid, now)
        dialect = (await registry.area_settings(act.session, grid)).dialect or ""
        grid_name = grid.name
    today = act.hub.local(now).date()
    await message.reply_text(describe(act, grid_name, found, today))
    playing = [r for r in found if today in r.occasion.span and r.state == "running" and r.slots]
    for running in playing[:MAX_VOICES]:
        path = await _voice(act, running.slots[0].script, dialect)
        if path is None:
            continue
        try:
            with path.open("rb") as handle:
                await message.reply_voice(handle, caption=act.t(
                    "campaigns.voice", title=running.occasion.campaign.title(act.lang)))
        except TelegramError:
            log.warning("could not send the voice message of %s", running.id, exc_info=True)


def register(app: Application) -> None:
    declare(Command("campaign", Role.STAFF))
    app.add_handler(CommandHandler("campaign", campaign_command))
