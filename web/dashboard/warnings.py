"""Warnings: compose with a preview (text, and for orange and red the loudspeaker audio), send,
update and cancel; CAP alerts waiting for approval; the delivery report per chat and per
speaker.

Every step is one call of broadcasts.warnings.lifecycle with the signed-in person, which
decides who may draft, send, change or see what — the same calls the bot's `/warn` makes.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from broadcasts.speakers import clips, monitoring, reports, urgent
from broadcasts.warnings import lifecycle, targeting
from broadcasts.warnings.models import Level, MsgType, Warning, WarningStatus
from hazards import ledger
from hub import grids
from hub.errors import InvalidInput, PermissionDenied
from web.dashboard.pages import Act, acting, render

RECENT = 60  # warnings looked at for the list
FOLLOW_UPS = {"update": MsgType.UPDATE, "cancel": MsgType.CANCEL}
AUDIO_FORMAT = "mp3"
LEVELS = frozenset(level.value for level in Level)


@dataclass(frozen=True)
class Listed:
    warning: Warning
    counts: dict[str, int]


async def visible(act: Act, *, since: datetime | None = None, limit: int = RECENT) -> list[Listed]:
    """Recent warnings the person may look at, with their delivery counts.

    Whether a person may see a warning is the delivery report's own check (its author, or
    staff over its area), asked of the service for each one.
    """
    found = []
    for warning in await lifecycle.list_warnings(act.db, limit=limit):
        if since is not None and (warning.sent_at or warning.created_at) < since:
            continue
        try:
            report = await lifecycle.delivery_report(act.db, act.person, warning.id)
        except PermissionDenied:
            continue
        found.append(Listed(warning, report.counts))
    return found


def _id(request: web.Request) -> int:
    value = request.match_info["id"]
    if not value.isdigit() or len(value) > 12:
        raise web.HTTPNotFound()
    return int(value)


async def warnings_page(request: web.Request) -> web.StreamResponse:
    async with acting(request) as act:
        listed = await visible(act)
        areas = await ledger.grids_in_scope(act.db, act.person)
    pending = [item for item in listed if item.warning.status is WarningStatus.PENDING]
    others = [item for item in listed if item.warning.status is not WarningStatus.PENDING]
    return await render(request, "warnings.html", {
        "active": "warnings", "pending": pending, "listed": others, "levels": [lv.value for lv in Level],
        "areas": areas,
    })


def _command(form: Any) -> lifecycle.Command:
    """The compose form as the `/warn` command it stands for: a level, grids, the text."""
    level = str(form.get("level", "blue"))
    codes = tuple(dict.fromkeys(str(code).strip() for code in form.getall("grids", []) if str(code).strip()))
    return lifecycle.Command(Level(level) if level in LEVELS else None, codes, str(form.get("text", "")))


async def compose(request: web.Request) -> web.StreamResponse:
    """A draft, which only its author sees until sent: the preview page shows it."""
    form = await request.post()
    async with acting(request) as act:
        warning = await lifecycle.draft(act.db, act.hub, act.person, _command(form))
        raise web.HTTPSeeOther(f"/warnings/{warning.id}")


async def warning_page(request: web.Request) -> web.StreamResponse:
    """A warning: its preview and buttons while unsent, its delivery report once sent."""
    warning_id = _id(request)
    async with acting(request) as act:
        report = await lifecycle.delivery_report(act.db, act.person, warning_id)
        warning = report.warning
        chats = await _chat_names(act.db, [chat for chat, _, _ in report.chats])
        speakers = await _speaker_report(act, warning) if warning.level.urgent else []
        unsent = warning.status in (WarningStatus.DRAFT, WarningStatus.PENDING)
        preview = lifecycle.render(act.hub, warning, act.lang, preview=unsent)
    return await render(request, "warning.html", {
        "active": "warnings", "warning": warning, "report": report, "chats": chats,
        "speakers": speakers, "preview": preview, "unsent": unsent,
        "audio": warning.level.urgent and warning.msg_type is not MsgType.CANCEL,
        "in_force": warning.status is WarningStatus.SENT and warning.expires > act.now(),
    })


async def _chat_names(db: AsyncSession, chat_ids: list[int]) -> dict[int, str]:
    names = {}
    for chat_id in chat_ids:
        chat = await grids.chat_binding(db, chat_id)
        names[chat_id] = (chat.title or "") if chat is not None else ""
    return names


@dataclass(frozen=True)
class SpeakerLine:
    code: str
    name: str
    grid: str
    state: str
    plays: int
    last: datetime | None
    result: str | None


async def _speaker_report(act: Act, warning: Warning) -> list[SpeakerLine]:
    """Per speaker of the area the person may see: did it play the urgent warning, when, how.

    The speakers and their plays are the speaker services' own (monitoring, proof of play);
    the warning's plays are those of its urgent item, `urgent:<id>:<level>`.
    """
    item = f"urgent:{warning.id}:{warning.level.value}"
    plays = [row for row in await reports.log_rows(act.db, act.person, since=warning.sent_at or warning.created_at)
             if row.item == item]
    area = tuple(await targeting.subtree_paths(act.db, warning.grid_codes))
    lines = []
    for status in await monitoring.overview(act.db, act.hub, act.person):
        if not status.grid.path.startswith(area):
            continue
        own = [row for row in plays if row.speaker == status.speaker.code]
        last = own[-1] if own else None
        lines.append(SpeakerLine(status.speaker.code, status.speaker.name, status.grid.code, status.state,
                                 len(own), last.started if last else None, last.result if last else None))
    return lines


async def preview_audio(request: web.Request) -> web.StreamResponse:
    """What the loudspeakers will say for an orange or red warning, rendered through audio/ in
    a thread (a cache hit the second time): the chime, the warning in Mandarin, said twice."""
    warning_id = _id(request)
    async with acting(request) as act:
        report = await lifecycle.delivery_report(act.db, act.person, warning_id)
        warning, hub = report.warning, act.hub
    if not warning.level.urgent:
        raise InvalidInput("dash.warning_no_audio", id=warning_id)
    from audio import library

    script = clips.speech_script(f"warning-{warning.id}", urgent.speech_text(hub, warning),
                                 chime_in=urgent.ATTENTION_CHIME, repeat=urgent.SPEECH_REPEAT)
    rendered = await asyncio.to_thread(clips.render, script, library.audio_settings(hub),
                                       formats=(AUDIO_FORMAT,))
    return web.FileResponse(rendered.paths[AUDIO_FORMAT], headers={
        "Content-Type": "audio/mpeg", "Cache-Control": "private, max-age=600"})


async def decide(request: web.Request) -> web.StreamResponse:
    """The preview's buttons: send (a CAP alert's approval is its send), edit, discard."""
    warning_id = _id(request)
    step = request.match_info["step"]
    form = await request.post()
    async with acting(request) as act:
        target = warning_id
        if step == "send":
            sent = await lifecycle.send(act.db, act.hub, act.person, warning_id)
            await act.flash(act.t("warn.sent", id=warning_id, chats=sent.chats, speakers=sent.speakers))
        elif step == "edit":
            edited = await lifecycle.edit(act.db, act.hub, act.person, warning_id, _edit_text(form))
            target = edited.id  # a feed alert's edit is a new warning of our own
        elif step == "discard":
            await lifecycle.discard(act.db, act.hub, act.person, warning_id)
            await act.flash(act.t("warn.discarded", id=warning_id))
        elif step in FOLLOW_UPS:
            made = await lifecycle.follow_up(act.db, act.hub, act.person, warning_id, FOLLOW_UPS[step],
                                             _edit_text(form))
            target = made.id
        else:
            raise web.HTTPNotFound()
        raise web.HTTPSeeOther(f"/warnings/{target}")


def _edit_text(form: Any) -> str:
    """The edit form as `/warn`'s edit reply: an optional level word, then the text."""
    level, text = str(form.get("level", "")), str(form.get("text", ""))
    return f"{level} {text}" if level in LEVELS else text

