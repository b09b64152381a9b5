"""Recurring slots (a script of content/scripts at times of day, on weekdays, between dates)
and the clips they need, rendered ahead.

A slot names its grid (and so every speaker below it), optionally narrowed to one zone tag,
and has a kind and a priority: `filler` fills the day, `campaign` carries a seasonal campaign.
The campaigns work will write campaign slots of its own (`source` names the campaign); until
then staff add them by hand. The clip a slot plays is its script rendered in the dialect of
each speaker's grid (or the slot's own), made by `render_ahead` — the scheduler's job, and the
command that adds the slot — never while a speaker polls.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from audio import library
from broadcasts.speakers import clips, registry, timing
from broadcasts.speakers.models import ScriptClip, Slot, SlotKind, Speaker
from hub import audit, grids
from hub.errors import Conflict, HubError, InvalidInput, NotFound
from hub.models import Grid, Role

log = logging.getLogger(__name__)

SLOT_AUDIT_ENTITY = "speaker_slot"
MAX_TIMES = 48


@dataclass(frozen=True)
class SlotSpec:
    grid: str
    script_id: str
    times: Sequence[int]
    kind: SlotKind = SlotKind.FILLER
    priority: int = 0
    zone_tag: str | None = None
    dialect: str | None = None
    window_minutes: int | None = None
    every_minutes: int | None = None
    weekdays: Sequence[int] = field(default_factory=tuple)
    start_date: date | None = None
    end_date: date | None = None
    source: str | None = None


def _state(slot: Slot, grid_code: str) -> dict[str, Any]:
    return {
        "grid": grid_code, "kind": slot.kind.value, "priority": slot.priority, "script": slot.script_id,
        "zone_tag": slot.zone_tag, "dialect": slot.dialect,
        "times": [timing.format_time(t) for t in slot.times], "window_minutes": slot.window_minutes,
        "every_minutes": slot.every_minutes, "weekdays": list(slot.weekdays),
        "start_date": slot.start_date.isoformat() if slot.start_date else None,
        "end_date": slot.end_date.isoformat() if slot.end_date else None, "active": slot.active,
    }


def _check(spec: SlotSpec, catalogue: library.Catalogue) -> None:
    catalogue.script(spec.script_id)
    if spec.dialect is not None:
        catalogue.dialect(spec.dialect)
    if not spec.times or len(spec.times) > MAX_TIMES:
        raise InvalidInput("speakers.slot_times", limit=MAX_TIMES)
    if any(not 1 <= d <= 7 for d in spec.weekdays):
        raise InvalidInput("speakers.slot_weekdays")
    if spec.window_minutes is not None and not 1 <= spec.window_minutes <= timing.MINUTES_PER_DAY:
        raise InvalidInput("speakers.slot_window")
    if spec.every_minutes is not None and (spec.window_minutes is None or not 5 <= spec.every_minutes <= spec.window_minutes):
        raise InvalidInput("speakers.slot_every")
    if spec.start_date and spec.end_date and spec.end_date < spec.start_date:
        raise InvalidInput("speakers.slot_dates")
    if spec.zone_tag is not None and not registry.TAG_RE.match(spec.zone_tag):
        raise InvalidInput("speakers.bad_tag", tag=spec.zone_tag)


async def add(
    session: AsyncSession, actor: registry.Actor, spec: SlotSpec, catalogue: library.Catalogue,
    *, now: datetime,
) -> Slot:
    """A recurring slot for a grid's speakers (staff of the grid, or the operator)."""
    _check(spec, catalogue)
    grid = await grids.get(session, spec.grid)
    await registry.require(session, actor, Role.STAFF, grid)
    slot = Slot(
        kind=spec.kind, priority=spec.priority, grid_id=grid.id, zone_tag=spec.zone_tag,
        script_id=spec.script_id, dialect=spec.dialect, times=sorted(set(spec.times)),
        window_minutes=spec.window_minutes, every_minutes=spec.every_minutes,
        weekdays=sorted(set(spec.weekdays)), start_date=spec.start_date, end_date=spec.end_date,
        source=spec.source, active=True, created_by=audit.actor_label(actor)[:100],
        created_at=now, updated_at=now,
    )
    await audit.change(session, slot, at=now, actor=actor, entity=SLOT_AUDIT_ENTITY,
                       action="create", after=_state(slot, grid.code))
    await registry.bump(session, registry.in_subtrees([grid.path]))
    return slot


async def remove(session: AsyncSession, actor: registry.Actor, slot_id: int, *, now: datetime) -> Slot:
    slot = await session.get(Slot, slot_id)
    if slot is None:
        raise NotFound("speakers.slot_unknown", id=slot_id)
    grid = await session.get(Grid, slot.grid_id)
    assert grid is not None
    await registry.require(session, actor, Role.STAFF, grid)
    if not slot.active:
        raise Conflict("speakers.slot_removed", id=slot_id)
    before = _state(slot, grid.code)
    slot.active, slot.updated_at = False, now
    await audit.change(session, slot, at=now, actor=actor, entity=SLOT_AUDIT_ENTITY,
                       action="remove", before=before, after=_state(slot, grid.code))
    await registry.bump(session, registry.in_subtrees([grid.path]))
    return slot


async def list_slots(session: AsyncSession, under: str | None = None) -> list[tuple[Slot, Grid]]:
    query = (select(Slot, Grid).join(Grid, Grid.id == Slot.grid_id)
             .where(Slot.active.is_(True)).order_by(Grid.path, Slot.id))
    if under:
        root = await grids.get(session, under)
        query = query.where(Grid.path.startswith(root.path))
    return [(s, g) for s, g in (await session.execute(query)).tuples()]


# --- rendering ahead -------------------------------------------------------------------------


async def _wanted(session: AsyncSession, today: date) -> dict[tuple[str, str], set[str]]:
    """(script, dialect) pairs that live slots need, each with the grid paths of those slots."""
    rows = await session.execute(
        select(Slot, Grid.path).join(Grid, Grid.id == Slot.grid_id)
        .where(Slot.active.is_(True), or_(Slot.end_date.is_(None), Slot.end_date >= today))
    )
    slots = list(rows.tuples())
    if not slots:
        return {}
    table = await registry.dialect_table(session)
    speakers = list((await session.execute(
        select(Grid.path, Speaker.zone_tags).join(Speaker, Speaker.grid_id == Grid.id)
        .where(Speaker.active.is_(True))
    )).tuples())
    wanted: dict[tuple[str, str], set[str]] = defaultdict(set)
    for slot, path in slots:
        for speaker_path, tags in speakers:
            if speaker_path.startswith(path) and (slot.zone_tag is None or slot.zone_tag in (tags or [])):
                dialect = slot.dialect or registry.dialect_for(speaker_path, table)
                wanted[(slot.script_id, dialect)].add(path)
    return wanted


async def render_ahead(hub: Any) -> int:
    """Render (or find in the cache) every clip live slots need; a clip that changed (a new
    approved recording, new content) replaces the old one and its speakers are told. Returns
    how many clips were new or changed."""
    today = hub.local(hub.now()).date() - timedelta(days=1)
    async with hub.db.session() as session:
        wanted = await _wanted(session, today)
        known_rows = {(r.script_id, r.dialect): r for r in await session.scalars(select(ScriptClip))}
        known = {pair: (row.render_key, row.clip_sha) for pair, row in known_rows.items()}
    catalogue = await library.catalogue(hub)
    changed = 0
    for (script_id, dialect), paths in sorted(wanted.items()):
        if script_id not in catalogue.scripts:
            log.error("a loudspeaker slot names script %r, which content/scripts does not have", script_id)
            continue
        try:
            rendered = await library.render(hub, script_id, dialect or None)
        except (HubError, ValueError, RuntimeError) as error:
            log.error("cannot render %s in %s for the loudspeakers: %s", script_id, dialect or "Mandarin", error)
            continue
        if known.get((script_id, dialect), ("", ""))[0] == rendered.clip_hash:
            continue
        published = await clips.publish_rendered(hub, rendered)
        async with hub.db.session() as session:
            clip = await clips.store(session, published, f"script:{script_id}:{dialect}", now=hub.now())
            row = await session.scalar(select(ScriptClip).where(
                ScriptClip.script_id == script_id, ScriptClip.dialect == dialect))
            if row is None:
                row = ScriptClip(script_id=script_id, dialect=dialect)
                session.add(row)
            row.title = catalogue.scripts[script_id].title[:200]
            row.render_key, row.clip_sha, row.rendered_at = rendered.clip_hash, clip.sha256, hub.now()
            await registry.bump(session, registry.in_subtrees(paths))
        changed += 1
    return changed
