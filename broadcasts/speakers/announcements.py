"""Staff's announcements: a text spoken at broadcast loudness, or an audio file, on a grid's
speakers or one speaker, at a time (or now), once or every so many minutes until a time.

The clip is made before the announcement exists — rendered from the text through audio/, or
imported from the file and brought to broadcast loudness — so the speakers' next poll finds
it ready. Announcements outrank campaigns and filler but keep to quiet hours; only urgent
warnings play in those.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from broadcasts.speakers import clips, registry, timing
from broadcasts.speakers.models import Announcement, Speaker
from hub import audit, grids
from hub.errors import Conflict, InvalidInput, NotFound
from hub.models import Grid, Role

ANNOUNCE_AUDIT_ENTITY = "speaker_announcement"
GRACE = timedelta(minutes=30)  # a one-off may still start this long after its time
MIN_EVERY = 5
MAX_OCCURRENCES = 500


@dataclass(frozen=True)
class Target:
    grid: str | None = None
    speaker: str | None = None


@dataclass(frozen=True)
class Made:
    announcement: Announcement
    clip: clips.Published
    quiet: timing.Span | None  # the target's quiet hours, when the first play falls in them


def occurrences(start: datetime, every: int | None, until: datetime | None) -> list[tuple[datetime, datetime]]:
    """(start, end) of each play: once with a grace period, or every N minutes until `until`."""
    if every is None or until is None:
        return [(start, start + GRACE)]
    step = timedelta(minutes=every)
    found, at = [], start
    while at < until and len(found) < MAX_OCCURRENCES:
        found.append((at, min(at + step, until)))
        at += step
    return found


async def target_of(session: AsyncSession, actor: registry.Actor, target: Target) -> tuple[Grid, Speaker | None]:
    """The grid (and speaker) an announcement goes to, if the actor may announce there."""
    if (target.grid is None) == (target.speaker is None):
        raise InvalidInput("speakers.announce_target")
    speaker = await registry.get(session, target.speaker) if target.speaker else None
    grid = await registry.grid_of(session, speaker) if speaker else await grids.get(session, target.grid or "")
    await registry.require(session, actor, Role.STAFF, grid)
    if speaker is not None and not speaker.active:
        raise Conflict("speakers.inactive", code=speaker.code)
    return grid, speaker


def start_of(now: datetime, at: datetime | None, every: int | None, until: datetime | None) -> datetime:
    """When the first play is (now when `at` is None), after checking the times make sense."""
    start = (at or now).replace(microsecond=0)
    if start < now - GRACE:
        raise InvalidInput("speakers.announce_past")
    if (every is None) != (until is None):
        raise InvalidInput("speakers.announce_every_until")
    if every is not None and until is not None:
        if every < MIN_EVERY:
            raise InvalidInput("speakers.announce_every_min", minutes=MIN_EVERY)
        if until <= start:
            raise InvalidInput("speakers.announce_until_before")
    return start


async def make_clip(hub: Any, *, text: str | None, data: bytes | None, filename: str | None) -> clips.Published:
    """The announcement's clip: `text` spoken (with the opening and closing chimes) or the file
    given, at broadcast loudness, published under its hash. Blocking work runs in a thread."""
    from audio import library

    settings = library.audio_settings(hub)
    if (text is None) == (data is None):
        raise InvalidInput("speakers.announce_what")
    if text is not None:
        script = clips.speech_script("announcement", text)
        rendered = await asyncio.to_thread(clips.render, script, settings)
        return await clips.publish_rendered(hub, rendered)
    assert data is not None
    return await asyncio.to_thread(clips.import_file, data, filename, settings, Path(hub.settings.data_dir))


async def announce(
    session: AsyncSession, hub: Any, actor: registry.Actor, target: Target, published: clips.Published,
    *, title: str, text: str | None, at: datetime | None = None, every: int | None = None,
    until: datetime | None = None,
) -> Made:
    """Schedule an announcement whose clip `make_clip` made; its speakers see it at their next poll."""
    now = hub.now()
    grid, speaker = await target_of(session, actor, target)
    start = start_of(now, at, every, until)
    clip = await clips.store(session, published, f"announcement:{title}", now=now)
    announcement = Announcement(
        grid_id=None if speaker else grid.id, speaker_id=speaker.id if speaker else None,
        title=clips.title_of(title), text=text, clip_sha=clip.sha256, start_at=start,
        every_minutes=every, until_at=until, created_by=audit.actor_label(actor)[:100],
        created_at=now,
    )
    await audit.change(session, announcement, at=now, actor=actor, entity=ANNOUNCE_AUDIT_ENTITY,
                       action="create", after=_state(announcement, grid, speaker))
    await registry.bump(session, Speaker.id == speaker.id if speaker else registry.in_subtrees([grid.path]))
    area = await registry.area_settings(session, grid)
    quiet = area.quiet if area.quiet is not None and area.quiet.holds(start, hub.tz) else None
    return Made(announcement, published, quiet)


def _state(a: Announcement, grid: Grid, speaker: Speaker | None) -> dict[str, Any]:
    return {
        "grid": None if speaker else grid.code, "speaker": speaker.code if speaker else None,
        "title": a.title, "clip": a.clip_sha, "start": timing.iso(a.start_at),
        "every_minutes": a.every_minutes, "until": timing.iso(a.until_at) if a.until_at else None,
        "cancelled": a.cancelled_at is not None,
    }


async def cancel(session: AsyncSession, hub: Any, actor: registry.Actor, announcement_id: int) -> Announcement:
    announcement = await session.get(Announcement, announcement_id)
    if announcement is None:
        raise NotFound("speakers.announcement_unknown", id=announcement_id)
    speaker = await session.get(Speaker, announcement.speaker_id) if announcement.speaker_id else None
    grid = await session.get(Grid, speaker.grid_id if speaker else announcement.grid_id)
    assert grid is not None
    await registry.require(session, actor, Role.STAFF, grid)
    if announcement.cancelled_at is not None:
        raise Conflict("speakers.announcement_cancelled", id=announcement_id)
    before = _state(announcement, grid, speaker)
    announcement.cancelled_at = hub.now()
    await audit.change(session, announcement, at=hub.now(), actor=actor, entity=ANNOUNCE_AUDIT_ENTITY,
                       action="cancel", before=before, after=_state(announcement, grid, speaker))
    await registry.bump(session, Speaker.id == speaker.id if speaker else registry.in_subtrees([grid.path]))
    return announcement


async def upcoming(session: AsyncSession, now: datetime) -> list[Announcement]:
    """Announcements not cancelled that still have a play to come (for listings)."""
    rows = await session.scalars(
        select(Announcement).where(Announcement.cancelled_at.is_(None))
        .order_by(Announcement.start_at, Announcement.id)
    )
    return [a for a in rows if (a.until_at or a.start_at + GRACE) > now]
