"""The dialect-recording library: requests, takes, approval, and rendering with the best take.

Every transport (the bot's /record, `gridcast audio …`, later the dashboard) calls these
functions, so who may do what is decided here:

- Requests are made by workers and staff for a grid in their scope (or by the CLI).
- Workers and staff record; residents are refused.
- A take is approved at once when its maker is trusted to decide what plays: staff and
  admins, the CLI operator, and a worker answering an open request of a grid in their
  scope (the request was the approval in advance). A worker's take made without a request
  waits for approval by staff, or by another worker of that grid, never by its own maker.
- An approved take fulfils every open request for its script and dialect, in any grid:
  the dialect, not the grid, decides what a loudspeaker plays.
- A render uses the approved take with the highest version; its version is part of the
  clip's name, so approving a new take yields a new clip and the old one stays valid.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from audio.assembly import RenderedClip, render_script
from audio.models import Recording, RecordingRequest, RecordingSource, RequestStatus
from audio.recordings import RecordingRejected, keep_recording
from audio.scripts import Dialect, Script, load_dialects, load_scripts
from audio.settings import AudioSettings
from hub import access, audit, grids
from hub.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from hub.models import Grid, Person, Role

log = logging.getLogger(__name__)

RECORDINGS_DIR = "recordings"  # under the data dir
CATALOGUE = "audio.catalogue"  # key in hub.services


@dataclass(frozen=True)
class Catalogue:
    """The scripts and dialects recordings can belong to (content/, loaded once)."""

    scripts: dict[str, Script]
    dialects: dict[str, Dialect]

    @classmethod
    def load(cls) -> Catalogue:
        dialects = load_dialects()
        return cls(load_scripts(dialects=dialects), dialects)

    def script(self, script_id: str) -> Script:
        script = self.scripts.get(script_id)
        if script is None:
            raise NotFound("record.script_unknown", script=script_id)
        return script

    def dialect(self, dialect_id: str) -> Dialect:
        dialect = self.dialects.get(dialect_id)
        if dialect is None:
            raise InvalidInput(
                "record.dialect_unknown", dialect=dialect_id, known=", ".join(sorted(self.dialects))
            )
        return dialect


async def catalogue(hub: Any) -> Catalogue:
    """The hub's catalogue, read from content/ off the event loop the first time."""
    found = hub.services.get(CATALOGUE)
    if found is None:
        found = await asyncio.to_thread(Catalogue.load)
        hub.services[CATALOGUE] = found
    return found


def audio_settings(hub: Any) -> AudioSettings:
    return AudioSettings.of(hub.settings)


def recordings_dir(data_dir: Path) -> Path:
    return Path(data_dir) / RECORDINGS_DIR


# --- requests ------------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenRequest:
    request: RecordingRequest
    grid: Grid


async def request_recording(
    session: AsyncSession,
    catalogue: Catalogue,
    *,
    actor: Person | str,
    script_id: str,
    dialect: str,
    grid_code: str,
    now: datetime,
) -> RecordingRequest:
    """Ask the workers of a grid to record a script in a dialect."""
    if isinstance(actor, Person):
        await access.require(session, actor, Role.WORKER)
    catalogue.script(script_id)
    catalogue.dialect(dialect)
    grid = await grids.get(session, grid_code)
    if isinstance(actor, Person):
        await access.require(session, actor, Role.WORKER, grid)
    existing = await session.scalar(
        select(RecordingRequest.id).where(
            RecordingRequest.script_id == script_id,
            RecordingRequest.dialect == dialect,
            RecordingRequest.grid_id == grid.id,
            RecordingRequest.status == RequestStatus.OPEN,
        )
    )
    if existing is not None:
        raise Conflict("record.request_exists", id=existing)
    request = RecordingRequest(
        script_id=script_id,
        dialect=dialect,
        grid_id=grid.id,
        requested_by_id=actor.id if isinstance(actor, Person) else None,
        requested_by_label=audit.actor_label(actor),
        status=RequestStatus.OPEN,
        created_at=now,
    )
    await audit.change(session, request, at=now, actor=actor, entity="recording_request",
                       action="request", after={"script": script_id, "dialect": dialect, "grid": grid.code})
    return request


async def open_requests(session: AsyncSession, actor: Person) -> list[OpenRequest]:
    """Open requests of the grids in the actor's scope, oldest first; residents are refused."""
    await access.require(session, actor, Role.WORKER)
    scope = await access.scope_path(session, actor)
    if scope is None:
        return []
    rows = await session.execute(
        select(RecordingRequest, Grid)
        .join(Grid, RecordingRequest.grid_id == Grid.id)
        .where(RecordingRequest.status == RequestStatus.OPEN, Grid.path.startswith(scope))
        .order_by(RecordingRequest.created_at, RecordingRequest.id)
    )
    return [OpenRequest(request, grid) for request, grid in rows.tuples()]


async def all_requests(session: AsyncSession) -> list[OpenRequest]:
    """Every request with its grid, newest first (the operator's view)."""
    rows = await session.execute(
        select(RecordingRequest, Grid)
        .join(Grid, RecordingRequest.grid_id == Grid.id)
        .order_by(RecordingRequest.created_at.desc(), RecordingRequest.id.desc())
    )
    return [OpenRequest(request, grid) for request, grid in rows.tuples()]


@dataclass(frozen=True)
class Prompt:
    """What a person recording a request is shown."""

    request: RecordingRequest
    script: Script
    dialect: Dialect
    reading: str | None  # the dialect reading when it differs from the Mandarin text


async def _open_request_in_scope(
    session: AsyncSession, actor: Person | str, request_id: int
) -> tuple[RecordingRequest, Grid]:
    if isinstance(actor, Person):
        await access.require(session, actor, Role.WORKER)
    request = await session.get(RecordingRequest, request_id)
    if request is None:
        raise NotFound("record.request_unknown", id=request_id)
    grid = await session.get(Grid, request.grid_id)
    assert grid is not None
    if isinstance(actor, Person):
        await access.require(session, actor, Role.WORKER, grid)
    if request.status is not RequestStatus.OPEN:
        raise Conflict("record.request_closed", id=request_id)
    return request, grid


async def prompt(
    session: AsyncSession, catalogue: Catalogue, *, actor: Person, request_id: int
) -> Prompt:
    """The text to read for an open request of the actor's grids."""
    request, _ = await _open_request_in_scope(session, actor, request_id)
    script = catalogue.script(request.script_id)
    reading = script.reading_for(request.dialect)
    return Prompt(
        request,
        script,
        catalogue.dialect(request.dialect),
        reading if reading != script.mandarin else None,
    )


# --- recordings ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Added:
    recording: Recording
    script: Script
    dialect: Dialect
    fulfilled: tuple[int, ...]  # ids of the requests this take fulfilled


def _recording_state(recording: Recording) -> dict[str, Any]:
    return {
        "script": recording.script_id,
        "dialect": recording.dialect,
        "version": recording.version,
        "approved": recording.approved,
        "content_hash": recording.content_hash,
    }


async def _fulfil_requests(
    session: AsyncSession, recording: Recording, actor: Person | str, now: datetime
) -> tuple[int, ...]:
    requests = list(
        await session.scalars(
            select(RecordingRequest).where(
                RecordingRequest.script_id == recording.script_id,
                RecordingRequest.dialect == recording.dialect,
                RecordingRequest.status == RequestStatus.OPEN,
            )
        )
    )
    for request in requests:
        request.status = RequestStatus.FULFILLED
        request.fulfilled_at = now
        await audit.change(session, request, at=now, actor=actor, entity="recording_request",
                           action="fulfil", before={"status": "open"},
                           after={"status": "fulfilled", "recording": recording.id})
    return tuple(r.id for r in requests)


def _approved_at_once(actor: Person | str, answers_request: bool) -> bool:
    if not isinstance(actor, Person):
        return True  # the CLI operator runs the hub
    return access.has_role(actor, Role.STAFF) or answers_request


async def add_recording(
    session: AsyncSession,
    catalogue: Catalogue,
    data_dir: Path,
    *,
    actor: Person | str,
    data: bytes,
    hint: str | None,
    source: RecordingSource,
    now: datetime,
    request_id: int | None = None,
    script_id: str | None = None,
    dialect: str | None = None,
    speaker_name: str | None = None,
) -> Added:
    """Check an upload and add it as the next take of its script and dialect.

    Give `request_id` when the take answers a request, else `script_id` and `dialect`.
    A refused upload raises InvalidInput("record.rejected_<reason>") and writes nothing.
    """
    request: RecordingRequest | None = None
    grid_id: int | None = actor.grid_id if isinstance(actor, Person) else None
    if request_id is not None:
        request, grid = await _open_request_in_scope(session, actor, request_id)
        script_id, dialect, grid_id = request.script_id, request.dialect, grid.id
    elif isinstance(actor, Person):
        await access.require(session, actor, Role.WORKER)
    if script_id is None or dialect is None:
        raise InvalidInput("record.what_script")
    script = catalogue.script(script_id)
    spoken_in = catalogue.dialect(dialect)
    folder = recordings_dir(data_dir)
    try:
        stored, info = await asyncio.to_thread(keep_recording, data, folder, hint)
    except RecordingRejected as refused:
        log.info("recording of %s/%s refused: %s", script_id, dialect, refused)
        raise InvalidInput(f"record.rejected_{refused.reason_code}", **refused.params) from None
    same = await session.scalar(
        select(Recording.version).where(
            Recording.script_id == script_id,
            Recording.dialect == dialect,
            Recording.content_hash == stored.content_hash,
        )
    )
    if same is not None:
        raise Conflict("record.duplicate", version=same)
    latest = await session.scalar(
        select(func.max(Recording.version)).where(
            Recording.script_id == script_id, Recording.dialect == dialect
        )
    )
    approved = _approved_at_once(actor, request is not None)
    name = speaker_name or (actor.name if isinstance(actor, Person) else actor)
    recording = Recording(
        script_id=script_id,
        dialect=dialect,
        version=(latest or 0) + 1,
        speaker_id=actor.id if isinstance(actor, Person) else None,
        speaker_name=name.strip()[:200] or "?",
        source=source,
        grid_id=grid_id,
        request_id=request.id if request is not None else None,
        content_hash=stored.content_hash,
        path=stored.path.relative_to(Path(data_dir)).as_posix(),
        duration_s=round(info.duration_s, 3),
        loudness_lufs=round(info.lufs, 2),
        approved=approved,
        approved_by_id=actor.id if approved and isinstance(actor, Person) else None,
        approved_at=now if approved else None,
        created_at=now,
    )
    try:
        await audit.change(session, recording, at=now, actor=actor, entity="recording",
                           action="add", after=_recording_state(recording) | {"source": source.value})
    except IntegrityError:
        # Another take of this script and dialect landed at the same moment.
        raise Conflict("record.try_again") from None
    fulfilled = await _fulfil_requests(session, recording, actor, now) if approved else ()
    return Added(recording, script, spoken_in, fulfilled)


async def approve(
    session: AsyncSession, *, actor: Person | str, recording_id: int, now: datetime
) -> Recording:
    """Approve a take: staff over its grid, or a worker of its grid who did not make it."""
    recording = await session.get(Recording, recording_id)
    if recording is None:
        raise NotFound("record.recording_unknown", id=recording_id)
    if isinstance(actor, Person):
        grid = await session.get(Grid, recording.grid_id) if recording.grid_id else None
        minimum = Role.WORKER if grid is not None else Role.STAFF
        await access.require(session, actor, minimum, grid)
        if recording.speaker_id == actor.id and not access.has_role(actor, Role.STAFF):
            raise PermissionDenied("record.approve_own")
    if recording.approved:
        raise Conflict("record.already_approved", id=recording_id)
    before = _recording_state(recording)
    recording.approved = True
    recording.approved_by_id = actor.id if isinstance(actor, Person) else None
    recording.approved_at = now
    await audit.change(session, recording, at=now, actor=actor, entity="recording",
                       action="approve", before=before, after=_recording_state(recording))
    await _fulfil_requests(session, recording, actor, now)
    return recording


async def best_recording(session: AsyncSession, script_id: str, dialect: str) -> Recording | None:
    """The approved take with the highest version, or None."""
    return await session.scalar(
        select(Recording)
        .where(
            Recording.script_id == script_id,
            Recording.dialect == dialect,
            Recording.approved.is_(True),
        )
        .order_by(Recording.version.desc())
        .limit(1)
    )


async def list_recordings(
    session: AsyncSession, script_id: str | None = None, dialect: str | None = None
) -> list[Recording]:
    query = select(Recording).order_by(Recording.script_id, Recording.dialect, Recording.version)
    if script_id is not None:
        query = query.where(Recording.script_id == script_id)
    if dialect is not None:
        query = query.where(Recording.dialect == dialect)
    return list(await session.scalars(query))


# --- rendering -----------------------------------------------------------------------------


def recording_version(recording: Recording) -> str:
    """What names a take in a clip hash: a new approved take means a new clip name."""
    return f"v{recording.version}:{recording.content_hash}"


async def render(
    hub: Any,
    script_id: str,
    dialect: str | None = None,
    formats: Sequence[str] = ("mp3", "ogg"),
) -> RenderedClip:
    """Render a script with the best approved take of its dialect (or its fallback).

    The blocking work (synthesis, decoding, normalising, encoding) runs in a thread; a
    clip already rendered from the same inputs is a cache hit.
    """
    known = await catalogue(hub)
    script = known.script(script_id)
    take: Recording | None = None
    if dialect is not None:
        known.dialect(dialect)
        async with hub.db.session() as session:
            take = await best_recording(session, script_id, dialect)
    path: Path | None = None
    version: str | None = None
    if take is not None:
        path = Path(hub.settings.data_dir) / take.path
        version = recording_version(take)
        if not path.exists():
            log.error("recording %s of %s is missing at %s: rendering without it", take.id, script_id, path)
            path = version = None
    return await asyncio.to_thread(
        render_script,
        script,
        audio_settings(hub),
        dialect,
        path,
        version,
        formats,
        known.dialects,
    )
