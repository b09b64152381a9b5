"""The loudspeakers' pull API: schedule (ETag), playlist, clips (Range), heartbeat, proof of play.

Thin: each view authenticates through `broadcasts.speakers.directory` and makes one service
call. One middleware turns what the services refuse into the contract's answers for these
paths only — 401 with `WWW-Authenticate: Bearer`, 404, 400 and 413, each with
`{"error": "..."}` — so no view words a refusal of its own.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from aiohttp import hdrs, web

from broadcasts.speakers import clips, document, reports, schedule, timing, tokens
from broadcasts.speakers.directory import Unauthorized, directory_of
from hub.errors import HubError, InvalidInput, NotFound
from web.keys import HUB

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

MAX_BODY = 64 * 1024
API_PREFIXES = ("/api/speakers/", "/audio/", "/api/openapi.json")
CLIP_CACHE = "public, max-age=31536000, immutable"
CLIP_TYPES = {"mp3": "audio/mpeg", "ogg": "audio/ogg"}
OPENAPI = Path(__file__).with_name("openapi.json")
ANSWER_LANGUAGE = "en"  # machines read these answers; people read the logs they end up in


def _error(status: int, message: str, **headers: str) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers)


@web.middleware
async def api_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith(API_PREFIXES):
        return await handler(request)
    hub = request.app[HUB]
    try:
        return await handler(request)
    except Unauthorized as refused:
        return _error(401, hub.t(ANSWER_LANGUAGE, refused.key),
                      **{hdrs.WWW_AUTHENTICATE: 'Bearer realm="gridcast"'})
    except NotFound:
        return _error(404, hub.t(ANSWER_LANGUAGE, "speakers.api.not_found"))
    except HubError as refused:  # InvalidInput, and any other refusal of a service
        return _error(400, hub.t(ANSWER_LANGUAGE, refused.key, **refused.params))
    except web.HTTPNotFound:
        return _error(404, hub.t(ANSWER_LANGUAGE, "speakers.api.not_found"))
    except web.HTTPException as error:
        if error.status >= 400 and error.status not in (405,):
            return _error(error.status, error.reason)
        raise


def _token(request: web.Request) -> str | None:
    return tokens.bearer(request.headers.get(hdrs.AUTHORIZATION))


async def _speaker(request: web.Request) -> Any:
    hub = request.app[HUB]
    return await directory_of(hub).speaker(hub, request.match_info["id"], _token(request))


async def _current(request: web.Request) -> tuple[Any, Any, datetime] | web.Response:
    """(hub, speaker, now), or a 304 when the speaker's copy of its schedule is current: no
    query, from the directory alone."""
    hub = request.app[HUB]
    entry = await _speaker(request)
    now = hub.now()
    tag = schedule.etag(entry.version, now, hub.settings)
    if schedule.matches(tag, request.headers.get(hdrs.IF_NONE_MATCH)):
        return web.Response(status=304, headers={hdrs.ETAG: tag, hdrs.CACHE_CONTROL: "no-cache"})
    return hub, entry, now


def _changed(hub: Any, text: str, content_type: str, version: int, now: datetime) -> web.Response:
    return web.Response(text=text, content_type=content_type, headers={
        hdrs.ETAG: schedule.etag(version, now, hub.settings), hdrs.CACHE_CONTROL: "no-cache"})


async def speaker_schedule(request: web.Request) -> web.Response:
    found = await _current(request)
    if isinstance(found, web.Response):
        return found
    hub, entry, now = found
    version, text = await document.answer(hub, entry, now)
    return _changed(hub, text, "application/json", version, now)


async def speaker_playlist(request: web.Request) -> web.Response:
    found = await _current(request)
    if isinstance(found, web.Response):
        return found
    hub, entry, now = found
    built = (await schedule.parts_of(hub, entry, now)).schedule()
    return _changed(hub, document.playlist(built, hub.settings), "audio/x-mpegurl", built.version, now)


class _ClipResponse(web.FileResponse):
    """A stored clip whose ETag is its content hash (aiohttp's own is the file's mtime and
    size), so a speaker can check what it holds against what the schedule names."""

    def __init__(self, path: Path, tag: str) -> None:
        super().__init__(path, headers={hdrs.CACHE_CONTROL: CLIP_CACHE,
                                        hdrs.CONTENT_TYPE: CLIP_TYPES[path.suffix[1:]]})
        self._clip_tag = tag

    @property
    def etag(self) -> Any:
        return super().etag

    @etag.setter
    def etag(self, _value: Any) -> None:
        self._headers[hdrs.ETAG] = f'"{self._clip_tag}"'


async def audio_clip(request: web.Request) -> web.StreamResponse:
    hub = request.app[HUB]
    await directory_of(hub).any_speaker(hub, _token(request))
    name = request.match_info["clip"]
    path = clips.file_for(hub.settings.data_dir, name)
    if path is None or not await asyncio.to_thread(path.is_file):
        raise NotFound("speakers.api.not_found")
    sha, fmt = name.split(".")
    tag = sha if fmt == "mp3" else f"{sha}.{fmt}"
    if schedule.matches(f'"{tag}"', request.headers.get(hdrs.IF_NONE_MATCH)):
        return web.Response(status=304, headers={hdrs.ETAG: f'"{tag}"', hdrs.CACHE_CONTROL: CLIP_CACHE})
    return _ClipResponse(path, tag)


async def _json_body(request: web.Request) -> Any:
    """The request's JSON, refusing more than 64 KB (413) and anything not JSON (400)."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_BODY, actual_size=request.content_length)
    body = bytearray()
    async for chunk in request.content.iter_chunked(16 * 1024):
        body += chunk
        if len(body) > MAX_BODY:
            raise web.HTTPRequestEntityTooLarge(max_size=MAX_BODY, actual_size=len(body))
    try:
        return json.loads(body)
    except ValueError:  # UnicodeDecodeError is one
        raise InvalidInput("speakers.api.bad_json") from None


async def speaker_heartbeat(request: web.Request) -> web.Response:
    hub = request.app[HUB]
    entry = await _speaker(request)
    payload = await _json_body(request)
    now = hub.now()
    async with hub.db.session() as session:
        await reports.heartbeat(session, entry.id, payload, now=now)
    return web.json_response({"ok": True, "server_time": timing.iso(now)})


async def speaker_played(request: web.Request) -> web.Response:
    hub = request.app[HUB]
    entry = await _speaker(request)
    payload = await _json_body(request)
    async with hub.db.session() as session:
        recorded = await reports.record_plays(session, entry.id, payload, now=hub.now())
    return web.json_response({"accepted": recorded.accepted, "duplicates": recorded.duplicates})


async def openapi(request: web.Request) -> web.Response:
    return web.Response(body=request.app[OPENAPI_DOC], content_type="application/json")


OPENAPI_DOC = web.AppKey("speakers.openapi", bytes)


def setup(app: web.Application) -> None:
    app[OPENAPI_DOC] = OPENAPI.read_bytes()
    app.middlewares.append(api_errors)
    app.router.add_get("/api/speakers/{id}/schedule", speaker_schedule)
    app.router.add_get("/api/speakers/{id}/playlist.m3u", speaker_playlist)
    app.router.add_post("/api/speakers/{id}/heartbeat", speaker_heartbeat)
    app.router.add_post("/api/speakers/{id}/played", speaker_played)
    app.router.add_get("/audio/{clip}", audio_clip)
    app.router.add_get("/api/openapi.json", openapi)
