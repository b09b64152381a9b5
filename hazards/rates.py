"""The hourly limit on reports: what counts as an attempt, and when the next one is allowed.

Residents may make `limit_per_hour` attempts an hour; workers and staff inspect freely. An
attempt is a report filed, or a question "is this the same as #N?" asked and still open
(hazards.repeats): asking is work done for a report, so a flood of look-alike reports is
refused like any other. An answered question is counted once, as the report it became.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hazards import repeats
from hazards.models import Hazard
from hub import access
from hub.errors import HubError
from hub.models import Person, Role

RATE_WINDOW = timedelta(hours=1)


class RateLimited(HubError):
    key = "hazard.rate_limited"


def limited(reporter: Person) -> bool:
    """Residents are limited; workers and staff inspect freely."""
    return not access.has_role(reporter, Role.WORKER)


# Each reporter's reports in the last hour: every report asks it, so it is built once, with
# bound parameters, from the table's columns (no ORM loading for two numbers a row).
_hazards = Hazard.__table__.c
_RECENT_REPORTS = (
    select(_hazards.reporter_id, func.count())
    .where(
        _hazards.reporter_id.in_(bindparam("reporter_ids", expanding=True)),
        _hazards.reported_at > bindparam("hour_ago"),
    )
    .group_by(_hazards.reporter_id)
)


async def counts(session: AsyncSession, reporters: Iterable[Person], now: datetime) -> dict[int, int]:
    """Each reporter's attempts in the last hour, by person id."""
    reporters = list(reporters)
    if not reporters:
        return {}
    hour_ago = now - RATE_WINDOW
    params = {"reporter_ids": sorted({r.id for r in reporters}), "hour_ago": hour_ago}
    found = {reporter_id: count for reporter_id, count in await session.execute(_RECENT_REPORTS, params)}
    by_telegram = {r.telegram_id: r.id for r in reporters if r.telegram_id is not None}
    for telegram_id, asked in (await repeats.asked_since(session, by_telegram, hour_ago, now=now)).items():
        found[by_telegram[telegram_id]] = found.get(by_telegram[telegram_id], 0) + len(asked)
    return found


async def refusal(
    session: AsyncSession, reporter: Person, now: datetime, limit_per_hour: int, unwritten: int
) -> RateLimited:
    """The refusal for a reporter at the limit, saying when to retry.

    `unwritten` of their counted attempts are accepted in this round but not yet written;
    they are the newest, made `now`.
    """
    skip = limit_per_hour - 1 - unwritten
    hour_ago = now - RATE_WINDOW
    made = list(await session.scalars(
        select(Hazard.reported_at).where(Hazard.reporter_id == reporter.id, Hazard.reported_at > hour_ago)
    ))
    if reporter.telegram_id is not None:
        asked = await repeats.asked_since(session, [reporter.telegram_id], hour_ago, now=now)
        made += asked.get(reporter.telegram_id, [])
    made.sort(reverse=True)
    oldest_counted = made[skip] if 0 <= skip < len(made) else None
    free_at = (oldest_counted or now) + RATE_WINDOW
    minutes = max(1, math.ceil((free_at - now).total_seconds() / 60))
    return RateLimited(limit=limit_per_hour, minutes=minutes)


async def check_rate(session: AsyncSession, reporter: Person, *, now: datetime, limit_per_hour: int) -> None:
    """Raise RateLimited if a report of this reporter's would be refused for the rate now: for
    a transport to ask before costly work for it (decoding a photo). Filing checks it again."""
    if not limited(reporter):
        return
    if (await counts(session, [reporter], now)).get(reporter.id, 0) >= limit_per_hour:
        raise await refusal(session, reporter, now, limit_per_hour, 0)
