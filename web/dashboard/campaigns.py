"""Seasonal campaigns: the year as a calendar, a campaign's posts and loudspeaker audio, and
publish / pause / resume for a subtree.

broadcasts.campaigns decides: `overview.area_grid` is where a person may look from (staff over
the grid named, else their own), `states` who may publish or pause where, `overview.preview`
what a day's posts say, as the release will send them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from aiohttp import web

from audio import library
from broadcasts.campaigns import overview, plan, release, states
from broadcasts.campaigns.files import Catalogue, Loaded
from hazards import ledger
from hub.errors import InvalidInput, NotFound
from hub.models import Grid
from web.dashboard.pages import Act, acting, render

UPCOMING_POSTS = 6  # posts of a campaign shown with their text
STEPS = {"publish": states.publish, "pause": states.pause, "resume": states.resume}


@dataclass(frozen=True)
class Entry:
    occasion: plan.Occasion
    state: str  # overview.state_name at the grid looked from


def _year(request: web.Request, today: date) -> int:
    value = request.query.get("year", "")
    year = int(value) if value.isdigit() else today.year
    if not 2000 <= year <= 2100:
        raise InvalidInput("dash.bad_date", value=value[:10])
    return year


async def _entries(act: Act, known: Catalogue, grid: Grid, first: date, last: date,
                   ids: list[str] | None = None) -> list[Entry]:
    """The campaign windows between two days that target the grid, with their state there."""
    found = plan.occasions(known, first, last, ids)
    regions = await release.regions_of(act.db, known, {o.campaign.id for o in found})
    entries = [Entry(o, overview.state_name(regions[o.campaign.id], grid.path)) for o in found]
    return [e for e in entries if e.state != "not_targeted"]


async def _grid(act: Act, request: web.Request) -> Grid:
    """Where the person looks from: the grid asked for, else their own (an admin without one:
    the first grid of the tree)."""
    code = request.query.get("grid") or None
    if code is None and act.person.grid_id is None:
        code = (await ledger.grids_in_scope(act.db, act.person))[0].code
    return await overview.area_grid(act.db, act.person, code)


async def campaigns_page(request: web.Request) -> web.StreamResponse:
    async with acting(request) as act:
        grid = await _grid(act, request)
        known = await release.catalogue(act.hub)
        now = act.now()
        year = _year(request, act.hub.local(now).date())
        entries = await _entries(act, known, grid, date(year, 1, 1), date(year, 12, 31))
        running = await overview.in_area(act.db, act.hub, known, grid, now)
        areas = await ledger.grids_in_scope(act.db, act.person)
    months: dict[int, list[Entry]] = defaultdict(list)
    for entry in sorted(entries, key=lambda e: (e.occasion.span.start, e.occasion.campaign.id)):
        months[entry.occasion.span.start.month].append(entry)
    return await render(request, "campaigns.html", {
        "active": "campaigns", "grid": grid, "year": year, "months": months, "running": running,
        "areas": areas, "today": act.hub.local(now).date(),
    })


def _campaign(known: Catalogue, campaign_id: str) -> Loaded:
    loaded = known.get(campaign_id)
    if loaded is None:
        raise NotFound("campaigns.unknown", id=campaign_id)
    return loaded


async def campaign_page(request: web.Request) -> web.StreamResponse:
    campaign_id = request.match_info["id"]
    async with acting(request) as act:
        grid = await _grid(act, request)
        known = await release.catalogue(act.hub)
        loaded = _campaign(known, campaign_id)
        now = act.now()
        today = act.hub.local(now).date()
        entries = await _entries(act, known, grid, date(today.year, 1, 1), date(today.year + 1, 12, 31),
                                 [campaign_id])
        posts = []
        for entry in entries:
            for due in plan.items(entry.occasion, act.hub.tz):
                if due.kind == "post" and due.at >= now and len(posts) < UPCOMING_POSTS:
                    day = act.hub.local(due.at).date()
                    for grid_day in await overview.preview(act.db, act.hub, known, day, grid.code):
                        for campaign_day in grid_day.campaigns:
                            if campaign_day.campaign == campaign_id:
                                posts.extend(campaign_day.posts)
        region_states = await states.states_of(act.db, campaign_id)
    state = next((e.state for e in entries), "unpublished")
    return await render(request, "campaign.html", {
        "active": "campaigns", "loaded": loaded, "campaign": loaded.campaign, "grid": grid,
        "entries": entries, "posts": sorted(posts, key=lambda p: p.at)[:UPCOMING_POSTS],
        "scripts": known.scripts, "dialects": known.dialects, "state": state,
        "states_below": sorted((path, value.value) for path, value in region_states.items()
                               if path.startswith(grid.path)),
        "title": loaded.title(act.lang),
    })


async def audio(request: web.Request) -> web.StreamResponse:
    """A slot's script as the loudspeakers play it, in a dialect it asks for (rendered through
    audio/ in a thread; a cache hit after the first time)."""
    campaign_id, script_id = request.match_info["id"], request.match_info["script"]
    dialect = request.query.get("dialect") or None
    async with acting(request) as act:
        await _grid(act, request)  # staff who may look at campaigns, as the page asks
        known = await release.catalogue(act.hub)
        loaded = _campaign(known, campaign_id)
        hub = act.hub
    slot = next((s for s in loaded.campaign.speakers if s.script == script_id), None)
    if slot is None or (dialect is not None and dialect not in slot.dialects):
        raise web.HTTPNotFound()
    rendered = await library.render(hub, script_id, dialect, formats=("mp3",))
    return web.FileResponse(rendered.paths["mp3"], headers={
        "Content-Type": "audio/mpeg", "Cache-Control": "private, max-age=3600"})


async def change(request: web.Request) -> web.StreamResponse:
    """Publish, pause or resume a campaign at a grid and below (states.* decide who may)."""
    campaign_id, step = request.match_info["id"], request.match_info["step"]
    form = await request.post()
    grid_code = str(form.get("grid", "")) or None
    async with acting(request) as act:
        known = await release.catalogue(act.hub)
        done = await STEPS[step](act.db, known, act.person, campaign_id, grid_code, now=act.now())
        await act.flash(act.t(f"dash.campaigns.done.{step}", id=campaign_id, grids=", ".join(done.grids)))
        raise web.HTTPSeeOther(f"/campaigns/{campaign_id}?grid={grid_code or ''}")
