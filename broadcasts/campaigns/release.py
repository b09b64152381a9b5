"""The scheduler's release pass: what fell due goes out, once.

Each pass looks at the items that fell due since the last pass (the cursor), plus every item
still live of a campaign whose publication staff changed meanwhile, and releases them:

- a chat post into the outbox for every active bound chat of the grids the campaign runs in,
  in the chat's language (set by its grid's worker, `grids.set_chat_language`) or else the
  hub's, through hub.notify;
- a loudspeaker slot for the grids the campaign runs in (see `campaigns.slots`).

Every release is a row keyed (campaign, window, grid, item) under a unique constraint,
inserted with "on conflict do nothing" in the same unit of work as the messages it sends and
the cursor's advance. So a job run twice, a second scheduler, or a restart finds the key taken
and sends nothing again; a crash before the commit leaves nothing behind to repeat. After an
outage, what is still live is caught up and what went stale is skipped and logged. On
PostgreSQL the cursor's row is locked for the pass, so two passes never interleave.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from broadcasts.campaigns import slots
from broadcasts.campaigns.claims import claim
from broadcasts.campaigns.files import Catalogue, Loaded, load_campaigns
from broadcasts.campaigns.models import (
    AUDIT_ENTITY,
    CampaignState,
    PublishState,
    ReleaseCursor,
)
from broadcasts.campaigns.plan import MAX_CATCH_UP, Due, Planner
from broadcasts.campaigns.regions import GridRow, Region
from hub import audit, notify
from hub.heartbeats import INSTANCE
from hub.models import Chat, Grid

log = logging.getLogger(__name__)

CATALOGUE = "campaigns.catalogue"  # keys in hub.services
PLANNER = "campaigns.planner"
ACTOR = "scheduler"
# A state changed by another process may commit just after a pass read the states; looking
# this far back before the cursor sees it at the next pass (releasing twice is refused anyway).
STATE_MARGIN = timedelta(minutes=5)
OUTBOX_PRIORITY = 7  # after warnings and hazard cards (5): a campaign post can wait a little


async def catalogue(hub: Any) -> Catalogue:
    """The campaigns, read from content/ off the event loop the first time."""
    found = hub.services.get(CATALOGUE)
    if found is None:
        found = await asyncio.to_thread(load_campaigns)
        hub.services[CATALOGUE] = found
    return found


def planner(hub: Any, known: Catalogue) -> Planner:
    found = hub.services.get(PLANNER)
    if found is None or found.catalogue is not known:
        found = hub.services[PLANNER] = Planner(known, hub.tz)
    return found


@dataclass
class Report:
    """What a pass did."""

    posts: int = 0  # (grid, post) releases
    messages: int = 0
    slots: slots.SlotReport = field(default_factory=slots.SlotReport)
    skipped: list[str] = field(default_factory=list)  # stale items, "campaign window item"


async def release(hub: Any, now: datetime | None = None) -> Report:
    """Release everything due at `now` (the hub's clock by default); see the module's doc."""
    known = await catalogue(hub)
    plan = planner(hub, known)
    now = now or hub.now()
    report = Report()
    if await _idle(hub, plan, now):
        return report
    async with hub.db.session() as session:
        cursor = await _cursor(session)
        since = cursor.until
        if since is not None and since >= now:
            return report  # another pass got here first
        if since is not None and since < now - MAX_CATCH_UP:
            log.warning("campaigns: last release pass was %s; catching up the last %s days only",
                        since.isoformat(), MAX_CATCH_UP.days)
            since = now - MAX_CATCH_UP
        changed = await _changed(session, since) & set(known.campaigns)
        falling = plan.falling_due(since, now) if since is not None else []
        todo = {due.key: due for due in falling if due.live(now)}
        if changed:
            todo.update({due.key: due for due in plan.live(now, changed)})
        for due in falling:
            if not due.live(now):
                report.skipped.append(" ".join(due.key))
                log.warning("campaign %s: %s of window %s fell due at %s and went stale at %s "
                            "while no release ran; skipped", due.campaign_id, due.item,
                            due.occasion.key, hub.local(due.at).isoformat(), hub.local(due.until).isoformat())
        if todo:
            await _release(session, hub, known, sorted(todo.values(), key=lambda d: (d.at, d.key)), now, report)
        if since is None or todo or changed or report.skipped:
            cursor.until, cursor.instance = now, INSTANCE
    return report


async def _cursor(session: AsyncSession) -> ReleaseCursor:
    """The cursor's row, locked for this pass (made by the first pass ever; two first passes
    at once both insert it, one of them in vain)."""
    insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    cursor = await session.get(ReleaseCursor, 1, with_for_update=True)
    if cursor is None:
        await session.execute(insert(ReleaseCursor).values(id=1, until=None, instance=INSTANCE)
                              .on_conflict_do_nothing(index_elements=["id"]))
        cursor = await session.get(ReleaseCursor, 1, with_for_update=True, populate_existing=True)
    assert cursor is not None
    return cursor


async def _idle(hub: Any, plan: Planner, now: datetime) -> bool:
    """Whether a pass would find nothing to do: nothing fell due since the cursor and no
    publication changed. One small query, no lock: this is most minutes of the year."""
    async with hub.db.engine.connect() as conn:
        since, changed = (await conn.execute(select(
            select(ReleaseCursor.until).where(ReleaseCursor.id == 1).scalar_subquery(),
            select(func.max(CampaignState.updated_at)).scalar_subquery(),
        ))).one()
    if since is None:
        return False
    if changed is not None and changed > since - STATE_MARGIN:
        return False
    return since >= now or not plan.falling_due(max(since, now - MAX_CATCH_UP), now)


async def _changed(session: AsyncSession, since: datetime | None) -> set[str]:
    """Campaigns whose publication changed since `since` (all with any state on a first pass)."""
    query = select(CampaignState.campaign_id).distinct()
    if since is not None:
        query = query.where(CampaignState.updated_at > since - STATE_MARGIN)
    return set(await session.scalars(query))


async def grid_rows(session: AsyncSession) -> list[GridRow]:
    rows = await session.execute(select(Grid.id, Grid.code, Grid.path, Grid.level, Grid.name))
    return [GridRow(i, code, path, str(getattr(level, "value", level)), name) for i, code, path, level, name in rows.tuples()]


async def regions_of(session: AsyncSession, known: Catalogue, ids: Iterable[str]) -> dict[str, Region]:
    """Where each campaign runs: its target grids' paths and the states set for it."""
    ids = set(ids)
    rows = await session.execute(
        select(CampaignState.campaign_id, Grid.path, CampaignState.state)
        .join(Grid, Grid.id == CampaignState.grid_id).where(CampaignState.campaign_id.in_(ids))
    )
    states: dict[str, dict[str, PublishState]] = defaultdict(dict)
    for campaign_id, path, state in rows.tuples():
        states[campaign_id][path] = PublishState(state)
    found = {}
    for campaign_id in ids:
        campaign = known.campaigns[campaign_id].campaign
        targets = None
        if campaign.grids != "all":
            named = (Grid.code.in_(campaign.grids.codes) if campaign.grids.codes is not None
                     else Grid.level == campaign.grids.level)
            targets = frozenset(await session.scalars(select(Grid.path).where(named)))
        found[campaign_id] = Region(targets, states[campaign_id])
    return found


async def _release(session: AsyncSession, hub: Any, known: Catalogue, todo: list[Due], now: datetime,
                   report: Report) -> None:
    regions = await regions_of(session, known, {d.campaign_id for d in todo})
    posts = [d for d in todo if d.kind == "post"]
    if posts:
        await _posts(session, hub, regions, posts, now, report)
    grids = None
    for due in todo:
        if due.kind == "slot":
            grids = grids if grids is not None else await grid_rows(session)
            await slots.reconcile(session, hub, grids, regions[due.campaign_id], due, now, report.slots)


def date_text(day: date, lang: str) -> str:
    return f"{day.day} {day:%B}" if lang == "en" else f"{day.month}月{day.day}日"


def post_values(loaded: Loaded, due: Due, day: date, lang: str) -> dict[str, Any]:
    """What a post's template is given, but the grid's name."""
    span = due.occasion.span
    return {"title": loaded.title(lang), "start": date_text(span.start, lang),
            "end": date_text(span.end, lang), "day": date_text(day, lang), "year": span.start.year}


async def _posts(session: AsyncSession, hub: Any, regions: dict[str, Region], posts: list[Due], now: datetime,
                 report: Report) -> None:
    chats: dict[int, list[tuple[int, str]]] = defaultdict(list)  # grid -> (chat, its language)
    bound: dict[int, tuple[str, str]] = {}
    for chat_id, language, grid_id, path, name in (await session.execute(
        select(Chat.telegram_chat_id, Chat.language, Chat.grid_id, Grid.path, Grid.name)
        .join(Grid, Grid.id == Chat.grid_id).where(Chat.active.is_(True)).order_by(Chat.id)
    )).tuples():
        chats[grid_id].append((chat_id, language or hub.settings.default_language))
        bound[grid_id] = (path, name)
    for due in posts:
        inside = regions[due.campaign_id]
        reached = [grid_id for grid_id, (path, _) in bound.items() if inside.runs(path)]
        claimed = set(await claim(session, due, [
            {"grid_id": g, "released_at": now, "messages": len(chats[g])} for g in reached]))
        if not claimed:
            continue
        loaded = due.occasion.campaign
        day = due.at.astimezone(hub.tz).date()
        renderers: dict[str, Any] = {}  # one per language the chats read
        messages = []
        for grid_id in reached:
            if grid_id not in claimed:
                continue
            for chat_id, lang in chats[grid_id]:
                if lang not in renderers:
                    renderers[lang] = loaded.renderer(due.index, lang, **post_values(loaded, due, day, lang))
                messages.append((chat_id, notify.Message(renderers[lang](bound[grid_id][1]))))
        sent = await notify.to_chats(session, messages, now=now, ref=("campaign", loaded.id),
                                     priority=OUTBOX_PRIORITY, expires_at=due.until)
        report.posts += len(claimed)
        report.messages += sent
        audit.record(session, at=now, actor=ACTOR, entity=AUDIT_ENTITY, entity_id=loaded.id, action="release",
                     after={"window": due.occasion.key, "item": due.item, "grids": len(claimed), "messages": sent})
