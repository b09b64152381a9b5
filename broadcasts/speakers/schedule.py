"""A speaker's schedule: what it plays over the next hours, as the pull contract words it.

The schedule is a function of the rows and of the hour it is asked in, nothing else: the
window starts at the top of the current hour and reaches `GRIDCAST_SPEAKER_HORIZON_HOURS`
past the end of it. So its ETag is the speaker's `schedule_version` (which every change that
touches the speaker renews, see `registry.bump`), the hour, and the settings that shape the
document — and a poll whose ETag still holds is answered without building anything.

Priorities, highest first: urgent (red 4, orange 3; ignore quiet and active hours, repeat on
the level's policy) > announcements (2) > campaigns (1) > filler (0). Routine items start
only outside the grid's quiet hours and inside the speaker's active hours, and each ends
before those begin, so nothing routine starts in them even late.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from broadcasts.speakers import announcements, directory, registry, timing, urgent
from broadcasts.speakers.models import (
    Announcement,
    Clip,
    GridSettings,
    ScriptClip,
    Slot,
    Speaker,
    UrgentClip,
)
from broadcasts.warnings.models import UrgentItem, Warning
from hub.errors import NotFound
from hub.models import Grid
from hub.settings import Settings

BUCKET = timedelta(hours=1)
SLOT_GRACE = timedelta(minutes=30)  # a slot without a window may still start this late
PRIORITY = {"urgent": 3, "announcement": 2, "campaign": 1, "filler": 0}
SHARED = "speakers.shared_items"  # hub.services
FORMAT = 1  # bump when the document's shape changes, to retire every cached ETag


@dataclass(frozen=True)
class ClipRef:
    sha256: str
    bytes: int
    duration_s: float

    @classmethod
    def of(cls, clip: Clip) -> ClipRef:
        return cls(clip.sha256, clip.bytes, clip.duration_s)


@dataclass(frozen=True)
class Item:
    id: str
    kind: str
    rank: int
    start: datetime
    end: datetime
    title: str
    clip: ClipRef
    level: str | None = None
    repeat_seconds: int | None = None
    order: int = 0  # among items of one kind at one time: a slot's priority

    @property
    def priority(self) -> int:
        return PRIORITY[self.kind]

    @property
    def interrupt(self) -> bool:
        return self.kind == "urgent"


@dataclass(frozen=True)
class Schedule:
    speaker: str
    version: int
    volume: int
    window_start: datetime
    horizon_until: datetime
    items: tuple[Item, ...]


BUCKET_SECONDS = int(BUCKET.total_seconds())


def window(now: datetime, settings: Settings) -> tuple[datetime, datetime]:
    """[top of this hour, that + horizon + one hour): covers at least the next horizon."""
    start = datetime.fromtimestamp(int(now.timestamp()) // BUCKET_SECONDS * BUCKET_SECONDS, UTC)
    return start, start + timedelta(hours=settings.speaker_horizon_hours) + BUCKET


@lru_cache(maxsize=64)
def _tag(shape: str) -> str:
    return hashlib.sha256(shape.encode()).hexdigest()[:8]


def etag(version: int, now: datetime, settings: Settings) -> str:
    """The schedule's ETag, from the speaker's version alone: no query needed to compute it.
    Every poll computes it, so it is a little integer arithmetic and one cached hash of what of
    the settings shapes the document."""
    shape = _tag(f"{FORMAT}|{settings.speaker_horizon_hours}|{settings.speaker_poll_seconds}|"
                 f"{settings.public_url}|{settings.timezone}")
    return f'"{version}-{int(now.timestamp()) // BUCKET_SECONDS}-{shape}"'


def matches(etag_value: str, if_none_match: str | None) -> bool:
    """Whether an If-None-Match header names this ETag (weak or strong, or "*")."""
    if not if_none_match:
        return False
    wanted = etag_value.strip('"')
    for candidate in if_none_match.split(","):
        candidate = candidate.strip().removeprefix("W/").strip('"')
        if candidate in (wanted, "*"):
            return True
    return False


async def _urgent(session: AsyncSession, hub: Any, ancestors: list[int], dialect: str,
                  start: datetime) -> list[Item]:
    rows = await session.execute(
        select(Warning.id, Warning.level, Warning.headline, UrgentItem.expires, UrgentClip.ready_at, Clip)
        .join(Warning, Warning.id == UrgentItem.warning_id)
        .join(UrgentClip, and_(UrgentClip.warning_id == UrgentItem.warning_id, UrgentClip.dialect == dialect))
        .join(Clip, Clip.sha256 == UrgentClip.clip_sha)
        .where(UrgentItem.grid_id.in_(ancestors), UrgentItem.withdrawn_at.is_(None), UrgentItem.expires > start)
    )
    lang = hub.settings.default_language
    items: dict[int, Item] = {}
    for wid, level, headline, expires, ready_at, clip in rows.tuples():
        if wid in items or level not in urgent.RANK:
            continue
        title = hub.t(lang, "speakers.urgent_title", level_name=hub.t(lang, f"warn.level.{level.value}"),
                      headline=headline)
        items[wid] = Item(
            id=f"urgent:{wid}:{level.value}", kind="urgent", rank=urgent.RANK[level], start=ready_at,
            end=expires, title=title, clip=ClipRef.of(clip), level=level.value,
            repeat_seconds=urgent.REPEAT_SECONDS[level],
        )
    return list(items.values())


def _announcements_where(target: ColumnElement[bool]) -> Any:
    """Announcements for `target` that may play between :start and :until (built once: this
    runs on every poll whose schedule changed)."""
    return (
        select(Announcement, Clip).join(Clip, Clip.sha256 == Announcement.clip_sha)
        .where(
            Announcement.cancelled_at.is_(None), target, Announcement.start_at < bindparam("until"),
            or_(Announcement.until_at > bindparam("start"),
                and_(Announcement.until_at.is_(None), Announcement.start_at > bindparam("grace_start"))),
        )
    )


_FOR_SPEAKER = _announcements_where(Announcement.speaker_id == bindparam("speaker_id"))
_FOR_AREA = _announcements_where(Announcement.grid_id.in_(bindparam("ancestors", expanding=True)))
_SPEAKER_ROW = directory.ROW.where(Speaker.code == bindparam("code"))


async def _announcements(session: AsyncSession, hub: Any, query: Any, params: dict[str, Any],
                         start: datetime, until: datetime, blocked: list[timing.Span]) -> list[Item]:
    rows = await session.execute(
        query, {**params, "start": start, "until": until, "grace_start": start - announcements.GRACE}
    )
    items = []
    for announcement, clip in rows.tuples():
        for begins, ends in announcements.occurrences(
            announcement.start_at, announcement.every_minutes, announcement.until_at
        ):
            end = timing.allowed_end(begins, ends, hub.tz, blocked)
            if end is None or end <= start or begins >= until:
                continue
            items.append(Item(
                id=f"announcement:{announcement.id}:{timing.stamp(begins)}", kind="announcement",
                rank=PRIORITY["announcement"], start=begins, end=end, title=announcement.title,
                clip=ClipRef.of(clip),
            ))
    return items


async def _slots(session: AsyncSession, hub: Any, zone_tags: tuple[str, ...], ancestors: list[int], dialect: str,
                 start: datetime, until: datetime, blocked: list[timing.Span]) -> list[Item]:
    first_day = (start - timedelta(days=1)).astimezone(hub.tz).date()
    last_day = until.astimezone(hub.tz).date()
    slots = list(await session.scalars(
        select(Slot).where(
            Slot.active.is_(True), Slot.grid_id.in_(ancestors),
            or_(Slot.zone_tag.is_(None), Slot.zone_tag.in_(list(zone_tags) or [""])),
            or_(Slot.end_date.is_(None), Slot.end_date >= first_day),
            or_(Slot.start_date.is_(None), Slot.start_date <= last_day),
        )
    ))
    if not slots:
        return []
    rendered = {
        (row.script_id, row.dialect): (row, clip)
        for row, clip in (await session.execute(
            select(ScriptClip, Clip).join(Clip, Clip.sha256 == ScriptClip.clip_sha)
            .where(ScriptClip.script_id.in_({s.script_id for s in slots}))
        )).tuples()
    }
    items = []
    for slot in slots:
        found = rendered.get((slot.script_id, slot.dialect or dialect))
        if found is None:
            continue  # not rendered yet: the render job tells the speaker when it is
        script_clip, clip = found
        rule = timing.Recurrence(slot.times, slot.window_minutes, slot.every_minutes, slot.weekdays,
                                 slot.start_date, slot.end_date)
        for begins, ends in timing.occurrences(rule, hub.tz, start, until, SLOT_GRACE):
            end = timing.allowed_end(begins, ends, hub.tz, blocked)
            if end is None or end <= start:
                continue
            kind = slot.kind.value
            items.append(Item(
                id=f"{kind}:{slot.id}:{timing.stamp(begins)}", kind=kind, rank=PRIORITY[kind],
                start=begins, end=end, title=script_clip.title, clip=ClipRef.of(clip), order=slot.priority,
            ))
    return items


@dataclass
class _Shared:
    """What every speaker of one grid with the same tags and hours plays, at one version;
    `rendered` keeps the items as the document writes them, made once (`document.answer`)."""

    items: tuple[Item, ...]
    blocked: tuple[timing.Span, ...]
    rendered: str | None = None


class SharedItems:
    """This process's recent `_Shared` answers, so a change to a village of 100 speakers costs
    one build, not 100.

    The key holds everything the shared items depend on besides the rows — the grid, the zone
    tags, the active hours, the window — and the speakers' `schedule_version`: a change that
    touches one of them touches all of them (`registry.bump` gives every speaker it matches the
    same new version), so two speakers at the same version of the same key play the same
    grid-wide items. What is aimed at one speaker alone (an announcement to it) is read for
    each speaker and never shared.
    """

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._found: OrderedDict[tuple[Any, ...], _Shared] = OrderedDict()

    def get(self, key: tuple[Any, ...]) -> _Shared | None:
        found = self._found.get(key)
        if found is not None:
            self._found.move_to_end(key)
        return found

    def put(self, key: tuple[Any, ...], shared: _Shared) -> None:
        self._found[key] = shared
        while len(self._found) > self.size:
            self._found.popitem(last=False)


def _shared_of(hub: Any) -> SharedItems:
    found = hub.services.get(SHARED)
    if found is None:
        found = hub.services[SHARED] = SharedItems()
    return found


async def _shared(session: AsyncSession, hub: Any, grid_path: str, zone_tags: tuple[str, ...],
                  active: tuple[int | None, int | None], start: datetime, until: datetime) -> _Shared:
    rows = list((await session.execute(
        select(Grid.id, Grid.path, GridSettings).outerjoin(GridSettings, GridSettings.grid_id == Grid.id)
        .where(Grid.code.in_([code for code in grid_path.strip("/").split("/") if code]))
    )).tuples())
    ancestors = [grid_id for grid_id, _, _ in rows]
    area = registry.inherited([(path, found) for _, path, found in rows])
    dialect = area.dialect or ""
    blocked = timing.blocked_hours(area.quiet, *active)
    items = [
        *await _urgent(session, hub, ancestors, dialect, start),
        *await _announcements(session, hub, _FOR_AREA, {"ancestors": ancestors}, start, until, blocked),
        *await _slots(session, hub, zone_tags, ancestors, dialect, start, until, blocked),
    ]
    return _Shared(tuple(sorted(items, key=_order)), tuple(blocked))


@dataclass(frozen=True)
class Parts:
    """A speaker's schedule as it is made: what it shares with its neighbours, and its own."""

    code: str
    version: int
    volume: int
    start: datetime
    until: datetime
    shared: _Shared
    personal: tuple[Item, ...]

    def items(self) -> tuple[Item, ...]:
        if not self.personal:
            return self.shared.items
        return tuple(sorted([*self.shared.items, *self.personal], key=_order))

    def schedule(self) -> Schedule:
        return Schedule(self.code, self.version, self.volume, self.start, self.until, self.items())


def _order(item: Item) -> tuple[Any, ...]:
    return (item.start, -item.rank, -item.order, item.id)


async def parts(session: AsyncSession, hub: Any, code: str, now: datetime) -> Parts:
    """The schedule of speaker `code` for the window `now` falls in, in its two parts, read in
    `session`: one query for the speaker, then as `parts_of`."""
    row = (await session.execute(_SPEAKER_ROW, {"code": code})).one_or_none()
    if row is None:
        raise NotFound("speakers.unknown", code=code)
    return await parts_of(hub, directory.Entry.of(row), now, lambda: nullcontext(session))


async def parts_of(hub: Any, speaker: directory.Entry, now: datetime,
                   unit: Callable[[], AbstractAsyncContextManager[AsyncSession]] | None = None) -> Parts:
    """The schedule of `speaker` as of its version: the shared items from this process's cache
    when a neighbour at the same version asked first, and a query for its own announcements only
    when it has any. A unit of work (`unit`, by default a new one) is opened only for what must
    be read, so a village's hundred speakers polling after a change cost one build."""
    start, until = window(now, hub.settings)
    key = (speaker.grid_id, speaker.zone_tags, speaker.hours, speaker.version, start)
    cache = _shared_of(hub)
    shared = cache.get(key)
    personal: list[Item] = []
    if shared is None or speaker.personal:
        async with (unit or hub.db.session)() as session:
            if shared is None:
                shared = await _shared(session, hub, speaker.grid_path, speaker.zone_tags, speaker.hours,
                                       start, until)
                cache.put(key, shared)
            if speaker.personal:
                personal = await _announcements(session, hub, _FOR_SPEAKER, {"speaker_id": speaker.id}, start,
                                                until, list(shared.blocked))
    return Parts(speaker.code, speaker.version, speaker.volume, start, until, shared, tuple(personal))


async def build(session: AsyncSession, hub: Any, code: str, now: datetime) -> Schedule:
    """The schedule of speaker `code` for the window `now` falls in."""
    return (await parts(session, hub, code, now)).schedule()
