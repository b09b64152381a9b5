"""The overview staff open the dashboard on: what is open and overdue where, the 12-week
trend, this week's warnings, silent speakers, and what waits for someone's answer.

Every figure is a service call with the signed-in person, scoped by the service.
"""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from audio import library
from broadcasts.speakers import monitoring
from hazards import categories, views
from knowledge import questions
from web.dashboard import charts, recordings, warnings
from web.dashboard.pages import acting, render

PERIODS = (7, 30, 90)
DEFAULT_DAYS = 30


async def overview(request: web.Request) -> web.StreamResponse:
    days = int(request.query.get("days", DEFAULT_DAYS)) if request.query.get("days", "").isdigit() else DEFAULT_DAYS
    days = days if days in PERIODS else DEFAULT_DAYS
    async with acting(request) as act:
        now, person = act.now(), act.person
        tallies = await views.open_counts(act.db, person, now=now, since=now - timedelta(days=days))
        weeks = await views.weekly_trend(act.db, person, now=now, tz=act.hub.tz)
        week_warnings = await warnings.visible(act, since=now - timedelta(days=7))
        speakers = [s for s in await monitoring.overview(act.db, act.hub, person) if s.state == "offline"]
        waiting = await library.open_requests(act.db, person)
        takes = await recordings.waiting_takes(act)
        asked = await questions.open_questions(act.db, person)
    return await render(request, "overview.html", {
        "active": "overview", "days": days, "periods": PERIODS, "tallies": tallies,
        "open_total": sum(t.open for t in tallies), "overdue_total": sum(t.overdue for t in tallies),
        "trend": charts.trend(weeks), "weeks": weeks, "warnings": week_warnings,
        "offline": speakers, "requests": waiting, "takes": takes, "questions": asked,
        "category_label": lambda category: categories.get_or_other(category).label(act.lang),
    })

