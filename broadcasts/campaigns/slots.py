"""A campaign's loudspeaker slots, fed into the speakers' schedules (broadcasts.speakers).

The seam is the speakers' `Slot`: a recurring slot of kind "campaign" with the campaign's
priority, its script, its times and weekdays, and the window's first and last day; the
speakers' own job renders its clips ahead (`speakers.slots.render_ahead`) and every speaker
below the slot's grid plays it in its area's dialect — Mandarin until an approved recording
exists, then the new clip from the next schedule on.

A slot is released `plan.RENDER_AHEAD` before its window opens, at the fewest grids that
cover where the campaign runs (`regions.cover`), one release row each. When staff pause or
resume part of the tree, the pass reconciles: slots no longer wanted are withdrawn, released
ones wanted again come back, new grids get new ones. For each dialect the campaign wants and
its speakers use, with no approved recording and no open request, the workers of a grid whose
speakers use it are asked to record it (the `/record` flow).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from audio import library
from audio.models import RecordingRequest, RequestStatus
from broadcasts.campaigns.claims import claim
from broadcasts.campaigns.models import AUDIT_ENTITY, CampaignRelease
from broadcasts.campaigns.plan import Due
from broadcasts.campaigns.regions import GridRow, Region, cover
from broadcasts.speakers import registry
from broadcasts.speakers.models import Slot, SlotKind, Speaker
from hub import audit
from hub.models import Grid

log = logging.getLogger(__name__)

ACTOR = "scheduler"


@dataclass
class SlotReport:
    added: int = 0
    restored: int = 0
    withdrawn: int = 0
    requests: int = 0

    @property
    def changed(self) -> int:
        return self.added + self.restored + self.withdrawn


def source(campaign_id: str) -> str:
    return f"campaign:{campaign_id}"[:100]


async def reconcile(session: AsyncSession, hub: Any, grids: Sequence[GridRow], inside: Region, due: Due,
                    now: datetime, report: SlotReport) -> None:
    """Make the slots of one (campaign, window, slot) match where the campaign runs now."""
    loaded = due.occasion.campaign
    wanted = {g.id: g for g in cover(grids, inside)}
    rows = list((await session.execute(
        select(CampaignRelease, Slot).outerjoin(Slot, Slot.id == CampaignRelease.slot_id)
        .where(CampaignRelease.campaign_id == due.campaign_id, CampaignRelease.window == due.occasion.key,
               CampaignRelease.item == due.item)
    )).tuples())
    by_path = {g.id: g.path for g in grids}
    touched: list[str] = []
    for release, slot in rows:
        keep = release.grid_id in wanted
        if slot is not None and slot.active != keep:
            slot.active, slot.updated_at = keep, now
            touched.append(by_path.get(release.grid_id, "/"))
            if keep:
                report.restored += 1
            else:
                report.withdrawn += 1
    unslotted = [release.grid_id for release, slot in rows if slot is None and release.grid_id in wanted]
    known_grids = {release.grid_id for release, _ in rows}
    claimed = await claim(session, due, [{"grid_id": g, "released_at": now} for g in wanted if g not in known_grids])
    fresh = [*unslotted, *claimed]
    if fresh:
        spec = loaded.campaign.speakers[due.index]
        span = due.occasion.span
        made = {grid_id: Slot(
            kind=SlotKind.CAMPAIGN, priority=loaded.campaign.priority, grid_id=grid_id, zone_tag=None,
            script_id=spec.script, dialect=None, times=spec.minutes, window_minutes=None, every_minutes=None,
            weekdays=spec.weekdays, start_date=span.start, end_date=span.end, source=source(loaded.id),
            active=True, created_by=ACTOR, created_at=now, updated_at=now,
        ) for grid_id in fresh}
        session.add_all(made.values())
        await session.flush()
        for grid_id, slot in made.items():
            await session.execute(
                update(CampaignRelease).where(
                    CampaignRelease.campaign_id == due.campaign_id, CampaignRelease.window == due.occasion.key,
                    CampaignRelease.item == due.item, CampaignRelease.grid_id == grid_id,
                ).values(slot_id=slot.id)
            )
            touched.append(wanted[grid_id].path)
        report.added += len(made)
        report.requests += await _ask_for_recordings(session, hub, spec.script, spec.dialects,
                                                     [wanted[g] for g in fresh], now)
    if touched:
        await registry.bump(session, registry.in_subtrees(sorted(set(touched))))
        audit.record(session, at=now, actor=ACTOR, entity=AUDIT_ENTITY, entity_id=loaded.id, action="slots",
                     after={"window": due.occasion.key, "item": due.item,
                            "grids": sorted(wanted[g].code for g in wanted)[:50], "added": len(fresh)})


async def _ask_for_recordings(session: AsyncSession, hub: Any, script_id: str,
                              dialects: Sequence[str], where: Sequence[GridRow], now: datetime) -> int:
    """One request per wanted dialect that speakers here use and nobody has recorded or been
    asked to record, to the workers of the first grid (by path) whose speakers use it."""
    if not dialects or not where:
        return 0
    table = [(path, dialect) for path, dialect in await registry.dialect_table(session) if dialect in dialects]
    if not table:
        return 0  # no grid's speakers use a dialect this slot wants
    roots = [g.path for g in where]
    speakers = (await session.execute(
        select(Grid.path, Grid.code).join(Speaker, Speaker.grid_id == Grid.id)
        .where(Speaker.active.is_(True), or_(*(Grid.path.startswith(path) for path, _ in table)))
        .order_by(Grid.path)
    )).tuples()
    first: dict[str, str] = {}
    for path, code in speakers:
        if any(path.startswith(root) for root in roots):
            dialect = registry.dialect_for(path, table)
            if dialect in dialects:
                first.setdefault(dialect, code)
    made = 0
    audio_catalogue = None
    for dialect, code in sorted(first.items()):
        if await library.best_recording(session, script_id, dialect) is not None:
            continue
        asked = await session.scalar(select(RecordingRequest.id).where(
            RecordingRequest.script_id == script_id, RecordingRequest.dialect == dialect,
            RecordingRequest.status == RequestStatus.OPEN).limit(1))
        if asked is not None:
            continue
        audio_catalogue = audio_catalogue or await library.catalogue(hub)
        await library.request_recording(session, audio_catalogue, actor=ACTOR, script_id=script_id,
                                        dialect=dialect, grid_code=code, now=now)
        log.info("asked the workers of %s to record %s in %s", code, script_id, dialect)
        made += 1
    return made
