"""Dialect recordings: listen to takes, approve them, upload one, and the open requests.

audio.library decides who may request, add and approve (the same rules as the bot's /record
and `gridcast audio …`); the upload is checked there too, off the event loop.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from audio import library
from audio.models import Recording, RecordingSource
from hazards import ledger
from hub import access
from hub.errors import InvalidInput
from hub.models import Grid, Role
from web.dashboard.pages import Act, acting, render

MAX_UPLOAD = 20 * 1024 * 1024


@dataclass(frozen=True)
class Take:
    recording: Recording
    grid: Grid | None
    may_approve: bool


async def _takes(act: Act) -> list[Take]:
    """The takes of the person's grids (and, for staff, those made without a grid), each with
    whether the person may approve it — asked of access as `library.approve` asks it."""
    found = []
    for recording in await library.list_recordings(act.db):
        grid = await act.db.get(Grid, recording.grid_id) if recording.grid_id is not None else None
        if grid is not None and not await access.may_act(act.db, act.person, grid):
            continue
        if grid is None and not access.holds(act.person, Role.STAFF):
            continue
        mine = recording.speaker_id == act.person.id and not access.has_role(act.person, Role.STAFF)
        found.append(Take(recording, grid, not recording.approved and not mine))
    return found


async def waiting_takes(act: Act) -> list[Take]:
    return [take for take in await _takes(act) if not take.recording.approved]


async def recordings_page(request: web.Request) -> web.StreamResponse:
    async with acting(request) as act:
        takes = await _takes(act)
        requests = await library.open_requests(act.db, act.person)
        catalogue = await library.catalogue(act.hub)
        areas = await ledger.grids_in_scope(act.db, act.person)
    return await render(request, "recordings.html", {
        "active": "recordings", "waiting": [t for t in takes if not t.recording.approved],
        "approved": [t for t in takes if t.recording.approved][::-1], "requests": requests,
        "scripts": sorted(catalogue.scripts.values(), key=lambda s: s.id),
        "dialects": sorted(catalogue.dialects.values(), key=lambda d: d.id), "areas": areas,
    })


def _recording_id(request: web.Request) -> int:
    value = request.match_info["id"]
    if not value.isdigit() or len(value) > 12:
        raise web.HTTPNotFound()
    return int(value)


async def approve(request: web.Request) -> web.StreamResponse:
    recording_id = _recording_id(request)
    async with acting(request) as act:
        recording = await library.approve(act.db, actor=act.person, recording_id=recording_id, now=act.now())
        await act.flash(act.t("dash.recordings.approved", script=recording.script_id,
                              dialect=recording.dialect, version=recording.version))
        raise web.HTTPSeeOther("/recordings")


async def upload(request: web.Request) -> web.StreamResponse:
    """A take uploaded from a file: for an open request, or for a script and dialect."""
    form = await request.post()
    upload = form.get("audio")
    if upload is None or not hasattr(upload, "file"):
        raise InvalidInput("record.rejected_empty")
    data = await asyncio.to_thread(upload.file.read, MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        raise InvalidInput("dash.recordings.too_big", limit_mb=MAX_UPLOAD // (1024 * 1024))
    request_id = str(form.get("request", ""))
    async with acting(request) as act:
        catalogue = await library.catalogue(act.hub)
        added = await library.add_recording(
            act.db, catalogue, act.hub.settings.data_dir, actor=act.person, data=data,
            hint=getattr(upload, "filename", None), source=RecordingSource.DASHBOARD, now=act.now(),
            request_id=int(request_id) if request_id.isdigit() else None,
            script_id=str(form.get("script", "")) or None, dialect=str(form.get("dialect", "")) or None,
        )
        key = "dash.recordings.added_approved" if added.recording.approved else "dash.recordings.added_waiting"
        await act.flash(act.t(key, script=added.script.id, dialect=added.recording.dialect,
                              version=added.recording.version))
        raise web.HTTPSeeOther("/recordings")


async def request_take(request: web.Request) -> web.StreamResponse:
    """Ask a grid's workers to record a script in a dialect."""
    form = await request.post()
    async with acting(request) as act:
        catalogue = await library.catalogue(act.hub)
        made = await library.request_recording(
            act.db, catalogue, actor=act.person, script_id=str(form.get("script", "")),
            dialect=str(form.get("dialect", "")), grid_code=str(form.get("grid", "")), now=act.now(),
        )
        await act.flash(act.t("dash.recordings.requested", id=made.id))
        raise web.HTTPSeeOther("/recordings")


async def listen(request: web.Request) -> web.StreamResponse:
    """A take's audio, for those who may see it (the list's own rule)."""
    recording_id = _recording_id(request)
    async with acting(request) as act:
        take = next((t for t in await _takes(act) if t.recording.id == recording_id), None)
        data_dir = act.hub.settings.data_dir
    if take is None:
        raise web.HTTPNotFound()
    path = Path(data_dir) / take.recording.path
    if not path.is_file():
        raise web.HTTPNotFound()
    return web.FileResponse(path, headers={"Content-Type": "audio/flac", "Cache-Control": "private, max-age=3600"})
