"""Loudspeakers: each one's status and last heartbeat, what it played, the next 24 hours of its
schedule, and staff's announcements.

broadcasts.speakers decides what a person may see (monitoring.overview, reports.log_rows: the
speakers of their scope) and where they may announce (staff over the grid or the speaker);
the schedule shown is the one the speaker itself pulls.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from broadcasts.speakers import announcements, monitoring, reports, schedule
from hazards import ledger
from hub.errors import InvalidInput
from web.dashboard.pages import acting, render

DAY = timedelta(hours=24)
SCHEDULED = 40  # speakers whose schedule the page builds; more are one click away (?speaker=)


async def speakers_page(request: web.Request) -> web.StreamResponse:
    only = request.query.get("speaker") or None
    async with acting(request) as act:
        now = act.now()
        statuses = list(await monitoring.overview(act.db, act.hub, act.person, include_inactive=True))
        if only is not None:
            statuses = [s for s in statuses if s.speaker.code == only]
        plans: dict[str, list[schedule.Item]] = {}
        for status in [s for s in statuses if s.speaker.active][:SCHEDULED]:
            built = await schedule.build(act.db, act.hub, status.speaker.code, now)
            plans[status.speaker.code] = [item for item in built.items if item.start < now + DAY]
        plays = await reports.log_rows(act.db, act.person, since=now - DAY)
        areas = await ledger.grids_in_scope(act.db, act.person)
    return await render(request, "speakers.html", {
        "active": "speakers", "statuses": statuses, "plans": plans, "plays": plays[::-1][:100],
        "areas": areas, "every_min": announcements.MIN_EVERY,
    })


def _local_time(value: str, tz: Any) -> datetime | None:
    """A `datetime-local` field (the hub's zone) as an instant; empty is None."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).replace(tzinfo=tz)
    except ValueError:
        raise InvalidInput("dash.bad_date", value=value[:20]) from None


async def announce(request: web.Request) -> web.StreamResponse:
    """An announcement of text (spoken through audio/, off the event loop) on a grid's speakers
    or one speaker: the target and the times are checked before anything is rendered."""
    form = await request.post()
    target_value = str(form.get("target", ""))
    kind, _, code = target_value.partition(":")
    target = announcements.Target(grid=code if kind == "grid" else None,
                                  speaker=code if kind == "speaker" else None)
    text = str(form.get("text", "")).strip()
    every_value = str(form.get("every", "")).strip()
    every = int(every_value) if every_value.isdigit() else None
    async with acting(request) as act:
        tz = act.hub.tz
        at = _local_time(str(form.get("at", "")), tz)
        until = _local_time(str(form.get("until", "")), tz)
        await announcements.target_of(act.db, act.person, target)
        announcements.start_of(act.now(), at, every, until)
    published = await announcements.make_clip(act.hub, text=text or None, data=None, filename=None)
    async with acting(request) as act:
        made = await announcements.announce(
            act.db, act.hub, act.person, target, published, title=text, text=text, at=at, every=every,
            until=until,
        )
        plays = announcements.occurrences(made.announcement.start_at, every, until)
        await act.flash(act.t("dash.speakers.announced", id=made.announcement.id, plays=len(plays),
                              start=act.hub.local(made.announcement.start_at).strftime("%m-%d %H:%M"),
                              quiet=made.quiet is not None))
        raise web.HTTPSeeOther("/speakers")
