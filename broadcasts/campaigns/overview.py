"""What campaigns run in an area: now and in the coming week (/campaign), and on one day, grid
by grid (`gridcast campaigns preview`). Read-only; times in the hub's zone.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from broadcasts.campaigns.files import Catalogue, SpeakerSlot
from broadcasts.campaigns.models import PublishState
from broadcasts.campaigns.plan import Occasion, items, occasions
from broadcasts.campaigns.regions import GridRow, Region
from broadcasts.campaigns.release import grid_rows, post_values, regions_of
from broadcasts.speakers.models import Speaker
from hub import access
from hub.errors import NotFound
from hub.models import Chat, Grid, Person, Role

WEEK = timedelta(days=7)


def state_name(inside: Region, path: str) -> str:
    """"running", "paused", "unpublished", or "not_targeted" for a grid."""
    if not inside.targeted(path):
        return "not_targeted"
    state = inside.state(path)
    return {PublishState.PUBLISHED: "running", PublishState.PAUSED: "paused"}.get(state, "unpublished")


@dataclass(frozen=True)
class Running:
    """A campaign's occasion as seen from one grid."""

    occasion: Occasion
    state: str
    posts: tuple[datetime, ...]  # local times of its posts from today on, in the week
    slots: tuple[SpeakerSlot, ...]

    @property
    def id(self) -> str:
        return self.occasion.campaign.id


async def area_grid(session: AsyncSession, actor: Person | str, grid_code: str | None) -> Grid:
    """The grid to look from: the one named (in the actor's scope), else the actor's own."""
    if grid_code is not None:
        grid = await session.scalar(select(Grid).where(Grid.code == grid_code))
        if grid is None:
            raise NotFound("error.grid_unknown", code=grid_code)
        if isinstance(actor, Person):
            await access.require(session, actor, Role.STAFF, grid)
        return grid
    if not isinstance(actor, Person):
        raise ValueError("the operator names a grid")
    return await access.home_grid(session, actor, Role.STAFF)


async def in_area(session: AsyncSession, hub: Any, known: Catalogue, grid: Grid, now: datetime) -> list[Running]:
    """Campaigns that run now or start within a week where the grid is (see `area_grid`),
    targeted at it; with their state there, their posts still to come this week and their
    loudspeaker slots."""
    today = hub.local(now).date()
    found = occasions(known, today, today + WEEK)
    regions = await regions_of(session, known, {o.campaign.id for o in found})
    result = []
    for occasion in found:
        inside = regions[occasion.campaign.id]
        state = state_name(inside, grid.path)
        if state == "not_targeted":
            continue
        posts = tuple(hub.local(d.at) for d in items(occasion, hub.tz)
                      if d.kind == "post" and now <= d.at < now + WEEK)
        slots = tuple(s for s in occasion.campaign.campaign.speakers if s.window in (None, occasion.index))
        result.append(Running(occasion, state, posts, slots))
    return sorted(result, key=lambda r: (r.occasion.span.start > today, -r.occasion.campaign.campaign.priority, r.id))


@dataclass(frozen=True)
class Post:
    at: datetime  # local
    text: str


@dataclass(frozen=True)
class Play:
    script: str
    times: tuple[str, ...]
    dialects: tuple[str, ...]


@dataclass(frozen=True)
class CampaignDay:
    campaign: str
    title: str
    window: str
    state: str
    posts: tuple[Post, ...]
    plays: tuple[Play, ...]


@dataclass(frozen=True)
class GridDay:
    grid: GridRow
    chats: int
    speakers: int
    campaigns: tuple[CampaignDay, ...]


async def preview(session: AsyncSession, hub: Any, known: Catalogue, day: date,
                  grid_code: str | None = None) -> list[GridDay]:
    """What would post and play on `day`, per grid: the grid named, else every grid with a
    bound chat or a speaker. Posts are rendered in the hub's language (the release uses a
    group's own where it has one)."""
    grids = await grid_rows(session)
    chat_counts = Counter(await session.scalars(select(Chat.grid_id).where(Chat.active.is_(True))))
    speaker_counts = Counter(await session.scalars(select(Speaker.grid_id).where(Speaker.active.is_(True))))
    if grid_code is not None:
        shown = [g for g in grids if g.code == grid_code]
        if not shown:
            raise NotFound("error.grid_unknown", code=grid_code)
    else:
        shown = [g for g in grids if g.id in chat_counts or g.id in speaker_counts]
    found = [o for o in occasions(known, day, day) if day in o.span]
    regions = await regions_of(session, known, {o.campaign.id for o in found})
    lang = hub.settings.default_language
    result = []
    for grid in sorted(shown, key=lambda g: g.path):
        days = []
        for occasion in found:
            inside = regions[occasion.campaign.id]
            state = state_name(inside, grid.path)
            if state == "not_targeted":
                continue
            loaded = occasion.campaign
            posts = tuple(
                Post(hub.local(d.at), loaded.render(d.index, lang, grid=grid.name, **post_values(loaded, d, day, lang)))
                for d in items(occasion, hub.tz) if d.kind == "post" and hub.local(d.at).date() == day
            )
            plays = tuple(
                Play(s.script, tuple(s.times), s.dialects)
                for s in loaded.campaign.speakers
                if s.window in (None, occasion.index) and (not s.weekdays or day.isoweekday() in s.weekdays)
            )
            days.append(CampaignDay(loaded.id, loaded.title(lang), occasion.key, state, posts, plays))
        result.append(GridDay(grid, chat_counts.get(grid.id, 0), speaker_counts.get(grid.id, 0), tuple(days)))
    return result
