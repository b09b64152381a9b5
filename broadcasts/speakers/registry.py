"""The loudspeaker registry: adding speakers, their tokens, deactivation, their areas' settings,
and the change sequence that tells a speaker's schedule has changed.

Staff of a subtree manage its speakers and its loudspeaker settings; workers of a grid see the
speakers of their scope. The CLI acts as the operator ("cli"), with no role to check. Every
change of a speaker or of an area's settings writes an audit row; a heartbeat does not — it is
the speaker reporting, not anyone changing it, and it comes every few seconds.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from broadcasts.speakers import directory, timing, tokens
from broadcasts.speakers.models import AUDIT_ENTITY, ChangeCounter, GridSettings, Speaker
from hub import access, audit, grids
from hub.errors import Conflict, InvalidInput, NotFound
from hub.models import Grid, Person, Role

CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
TAG_RE = re.compile(r"^[\w-]{1,40}$")
GRID_AUDIT_ENTITY = "speaker_grid"
DEFAULT_VOLUME = 80

Actor = Person | str


@dataclass(frozen=True)
class SpeakerSpec:
    code: str
    name: str
    grid: str
    zone_tags: tuple[str, ...] = ()
    location: str | None = None
    volume: int = DEFAULT_VOLUME
    active_hours: tuple[int, int] | None = None  # minutes of the day, from timing.parse_span


# --- the change sequence ---------------------------------------------------------------------


async def next_version(session: AsyncSession) -> int:
    """The next value of the change sequence, taken in the caller's unit of work.

    One row counts every change. Taking a value locks that row until the unit of work ends, so
    values become visible in the order they were taken — a reader that has seen value n has
    seen every change before it, which is what lets `directory` ask only for what is newer.
    """
    value = await session.scalar(
        update(ChangeCounter)
        .where(ChangeCounter.id == 1)
        .values(value=ChangeCounter.value + 1)
        .returning(ChangeCounter.value)
        .execution_options(synchronize_session=False)
    )
    if value is None:  # a database made without the migration's first row
        session.add(ChangeCounter(id=1, value=1))
        await session.flush()
        value = 1
    directory.note_change(session)
    return int(value)


def in_subtrees(paths: Iterable[str]) -> ColumnElement[bool]:
    """Speakers whose grid lies under any of these grid paths."""
    paths = list(paths)
    if not paths:
        return Speaker.id.is_(None)
    return Speaker.grid_id.in_(select(Grid.id).where(or_(*(Grid.path.startswith(p) for p in paths))))


async def bump(session: AsyncSession, *where: ColumnElement[bool]) -> int:
    """Mark the schedules of the speakers matching `where` as changed; returns the version."""
    version = await next_version(session)
    await session.execute(
        update(Speaker).where(*where).values(schedule_version=version)
        .execution_options(synchronize_session=False)
    )
    return version


# --- reading ---------------------------------------------------------------------------------


async def get(session: AsyncSession, code: str) -> Speaker:
    speaker = await session.scalar(select(Speaker).where(Speaker.code == code))
    if speaker is None:
        raise NotFound("speakers.unknown", code=code)
    return speaker


async def grid_of(session: AsyncSession, speaker: Speaker) -> Grid:
    grid = await session.get(Grid, speaker.grid_id)
    assert grid is not None
    return grid


async def require(session: AsyncSession, actor: Actor, minimum: Role, grid: Grid) -> None:
    """Staff manage the speakers of their subtree; workers see those of their scope."""
    if isinstance(actor, Person):
        await access.require(session, actor, minimum, grid)


async def speakers_in_scope(
    session: AsyncSession, actor: Actor | None, under: str | None = None, *, active_only: bool = False
) -> list[tuple[Speaker, Grid]]:
    """Speakers (with their grids) the actor may see, optionally under one grid; by code."""
    query = select(Speaker, Grid).join(Grid, Speaker.grid_id == Grid.id).order_by(Speaker.code)
    if under:
        root = await grids.get(session, under)
        if isinstance(actor, Person):
            await access.require(session, actor, Role.WORKER, root)
        query = query.where(Grid.path.startswith(root.path))
    if isinstance(actor, Person):
        await access.require(session, actor, Role.WORKER)
        scope = await access.scope_path(session, actor)
        if scope is None:
            return []
        query = query.where(Grid.path.startswith(scope))
    if active_only:
        query = query.where(Speaker.active.is_(True))
    return [(s, g) for s, g in (await session.execute(query)).tuples()]


# --- changing --------------------------------------------------------------------------------


def state(speaker: Speaker, grid_code: str | None = None) -> dict[str, Any]:
    return {
        "code": speaker.code, "name": speaker.name, "grid": grid_code or speaker.grid_id,
        "zone_tags": list(speaker.zone_tags or []), "location": speaker.location,
        "volume": speaker.volume,
        "active_hours": timing.format_span(speaker.active_start_min, speaker.active_end_min) or None,
        "active": speaker.active,
    }


def _check(spec: SpeakerSpec) -> None:
    if not CODE_RE.match(spec.code):
        raise InvalidInput("speakers.bad_code", code=spec.code)
    if not spec.name.strip():
        raise InvalidInput("speakers.bad_name", code=spec.code)
    if not 0 <= spec.volume <= 100:
        raise InvalidInput("speakers.bad_volume", volume=spec.volume)
    for tag in spec.zone_tags:
        if not TAG_RE.match(tag):
            raise InvalidInput("speakers.bad_tag", tag=tag)


async def add(
    session: AsyncSession, actor: Actor, spec: SpeakerSpec, *, now: datetime
) -> tuple[Speaker, str]:
    """Register a speaker; returns it with its token, which is never shown again."""
    _check(spec)
    grid = await grids.get(session, spec.grid)
    await require(session, actor, Role.STAFF, grid)
    if await session.scalar(select(Speaker.id).where(Speaker.code == spec.code)) is not None:
        raise Conflict("speakers.exists", code=spec.code)
    token = tokens.new_token()
    active_start, active_end = spec.active_hours or (None, None)
    speaker = Speaker(
        code=spec.code, name=spec.name.strip(), grid_id=grid.id,
        zone_tags=sorted(set(spec.zone_tags)), location=(spec.location or "").strip() or None,
        volume=spec.volume, active_start_min=active_start, active_end_min=active_end, active=True,
        token_hash=tokens.digest(token), token_set_at=now,
        schedule_version=await next_version(session), created_at=now, updated_at=now,
    )
    await audit.change(session, speaker, at=now, actor=actor, entity=AUDIT_ENTITY,
                       entity_id=spec.code, action="create", after=state(speaker, grid.code))
    return speaker, token


async def _managed(session: AsyncSession, actor: Actor, code: str) -> tuple[Speaker, Grid]:
    speaker = await get(session, code)
    grid = await grid_of(session, speaker)
    await require(session, actor, Role.STAFF, grid)
    return speaker, grid


async def rotate_token(
    session: AsyncSession, actor: Actor, code: str, *, now: datetime
) -> tuple[Speaker, str]:
    """A new token; the old one stops working as soon as this commits."""
    speaker, _ = await _managed(session, actor, code)
    token = tokens.new_token()
    speaker.token_hash = tokens.digest(token)
    speaker.token_set_at = speaker.updated_at = now
    speaker.schedule_version = await next_version(session)
    await audit.change(session, speaker, at=now, actor=actor, entity=AUDIT_ENTITY, entity_id=code,
                       action="rotate_token", after={"token_set_at": timing.iso(now)})
    return speaker, token


async def deactivate(session: AsyncSession, actor: Actor, code: str, *, now: datetime) -> Speaker:
    """Stop a speaker: its token is refused from now on and it is no longer watched."""
    speaker, grid = await _managed(session, actor, code)
    if not speaker.active:
        raise Conflict("speakers.already_inactive", code=code)
    before = state(speaker, grid.code)
    speaker.active = False
    speaker.offline_alerted_at = None
    speaker.updated_at = now
    speaker.schedule_version = await next_version(session)
    await audit.change(session, speaker, at=now, actor=actor, entity=AUDIT_ENTITY, entity_id=code,
                       action="deactivate", before=before, after=state(speaker, grid.code))
    return speaker


# --- an area's settings: quiet hours and dialect ------------------------------------------------


@dataclass(frozen=True)
class AreaSettings:
    """What a grid's speakers inherit: the nearest quiet hours and the nearest dialect above."""

    quiet: timing.Span | None
    dialect: str | None


def inherited(paths_settings: Sequence[tuple[str, GridSettings | None]]) -> AreaSettings:
    """The settings of the deepest grid that sets each, from (path, settings) of a grid's
    ancestors and itself."""
    quiet: timing.Span | None = None
    dialect: str | None = None
    for _, found in sorted(paths_settings, key=lambda pair: len(pair[0])):
        if found is None:
            continue
        if found.quiet_start_min is not None and found.quiet_end_min is not None:
            quiet = timing.Span(found.quiet_start_min, found.quiet_end_min)
        if found.dialect:
            dialect = found.dialect
    return AreaSettings(quiet, dialect)


def ancestor_codes(grid: Grid) -> list[str]:
    return [code for code in grid.path.strip("/").split("/") if code]


async def area_settings(session: AsyncSession, grid: Grid) -> AreaSettings:
    rows = await session.execute(
        select(Grid.path, GridSettings)
        .outerjoin(GridSettings, GridSettings.grid_id == Grid.id)
        .where(Grid.code.in_(ancestor_codes(grid)))
    )
    return inherited(list(rows.tuples()))


async def _settings_row(session: AsyncSession, actor: Actor, code: str, now: datetime) -> tuple[Grid, GridSettings]:
    grid = await grids.get(session, code)
    await require(session, actor, Role.STAFF, grid)
    row = await session.get(GridSettings, grid.id)
    if row is None:
        row = GridSettings(grid_id=grid.id, updated_at=now)
        session.add(row)
    return grid, row


def _grid_state(row: GridSettings) -> dict[str, Any]:
    return {"quiet_hours": timing.format_span(row.quiet_start_min, row.quiet_end_min) or None,
            "dialect": row.dialect}


async def _changed_area(session: AsyncSession, actor: Actor, grid: Grid, row: GridSettings,
                        before: dict[str, Any], now: datetime) -> None:
    row.updated_at = now
    await bump(session, in_subtrees([grid.path]))
    await audit.change(session, row, at=now, actor=actor, entity=GRID_AUDIT_ENTITY,
                       entity_id=grid.code, action="update", before=before, after=_grid_state(row))


async def set_quiet_hours(
    session: AsyncSession, actor: Actor, grid_code: str, span: tuple[int, int] | None, *, now: datetime
) -> GridSettings:
    """Quiet hours of a grid and the grids below it (None: inherit again). Only urgent
    warnings play in them."""
    grid, row = await _settings_row(session, actor, grid_code, now)
    before = _grid_state(row)
    row.quiet_start_min, row.quiet_end_min = span or (None, None)
    await _changed_area(session, actor, grid, row, before, now)
    return row


async def set_dialect(
    session: AsyncSession, actor: Actor, grid_code: str, dialect: str | None,
    known: Iterable[str], *, now: datetime,
) -> GridSettings:
    """The dialect a grid's speakers carry after Mandarin (None: inherit again)."""
    known = sorted(known)
    if dialect is not None and dialect not in known:
        raise InvalidInput("record.dialect_unknown", dialect=dialect, known=", ".join(known))
    grid, row = await _settings_row(session, actor, grid_code, now)
    before = _grid_state(row)
    row.dialect = dialect
    await _changed_area(session, actor, grid, row, before, now)
    return row


async def dialect_table(session: AsyncSession) -> list[tuple[str, str]]:
    """(grid path, dialect) of every grid that sets a dialect, for `dialect_for`."""
    rows = await session.execute(
        select(Grid.path, GridSettings.dialect)
        .join(GridSettings, GridSettings.grid_id == Grid.id)
        .where(GridSettings.dialect.is_not(None))
    )
    return [(path, dialect) for path, dialect in rows.tuples() if dialect]


def dialect_for(path: str, table: Sequence[tuple[str, str]]) -> str:
    """The dialect of the deepest grid above (or at) `path` that sets one; "" for none."""
    best = ("", "")
    for prefix, dialect in table:
        if path.startswith(prefix) and len(prefix) > len(best[0]):
            best = (prefix, dialect)
    return best[1]
