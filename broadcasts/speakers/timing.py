"""Times of day, weekdays and dates in the hub's zone, turned into UTC instants.

Pure functions, no database: what a recurring slot means on a given day is decided here and
tested here. Every calendar question (which weekday, which date, when is 22:00) is asked of the
local date in the hub's zone, never of UTC's: 07:00 on a Monday in Shanghai is 23:00 on Sunday
in UTC, and a slot for Mondays plays on the Monday people live in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

MINUTES_PER_DAY = 24 * 60
_TIME_RE = re.compile(r"^\s*(\d{1,2})[:：](\d{2})\s*$")
_SPAN_RE = re.compile(r"^\s*(\d{1,2}[:：]\d{2})\s*(?:-|–|~|到|至)\s*(\d{1,2}[:：]\d{2})\s*$")


def parse_time(text: str) -> int:
    """"08:00" (also "8:00", "24:00" for midnight's end) as minutes after midnight."""
    match = _TIME_RE.match(text)
    if not match:
        raise ValueError(f"not a time of day (HH:MM): {text!r}")
    hours, minutes = int(match.group(1)), int(match.group(2))
    if minutes > 59 or hours > 24 or (hours == 24 and minutes):
        raise ValueError(f"not a time of day (HH:MM): {text!r}")
    return (hours * 60 + minutes) % MINUTES_PER_DAY


def parse_span(text: str) -> tuple[int, int]:
    """"22:00-06:00" as (start, end) minutes; the end may be before the start (past midnight)."""
    match = _SPAN_RE.match(text)
    if not match:
        raise ValueError(f"not a span of hours (HH:MM-HH:MM): {text!r}")
    start, end = parse_time(match.group(1)), parse_time(match.group(2))
    if start == end:
        raise ValueError(f"an empty span of hours: {text!r}")
    return start, end


def format_time(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def format_span(start: int | None, end: int | None) -> str:
    return "" if start is None or end is None else f"{format_time(start)}-{format_time(end)}"


def in_span(minute: int, start: int, end: int) -> bool:
    """Whether a minute of the day lies in [start, end), which may run past midnight."""
    if start <= end:
        return start <= minute < end
    return minute >= start or minute < end


def local_minute(instant: datetime, tz: ZoneInfo) -> int:
    local = instant.astimezone(tz)
    return local.hour * 60 + local.minute


def at_local(day: date, minute: int, tz: ZoneInfo) -> datetime:
    """The UTC instant of `minute` after midnight on `day` in `tz`."""
    return datetime.combine(day, time(minute // 60, minute % 60), tzinfo=tz).astimezone(UTC)


def next_local(after: datetime, minute: int, tz: ZoneInfo) -> datetime:
    """The first instant strictly after `after` whose local time is `minute` after midnight."""
    day = after.astimezone(tz).date()
    for offset in range(3):
        candidate = at_local(day + timedelta(days=offset), minute, tz)
        if candidate > after:
            return candidate
    raise AssertionError("a time of day recurs within three days")


def local_day_start(instant: datetime, tz: ZoneInfo) -> datetime:
    """Local midnight of the day `instant` falls on, as a UTC instant."""
    return at_local(instant.astimezone(tz).date(), 0, tz)


@dataclass(frozen=True)
class Span:
    """Hours of the day, [start, end) in minutes, possibly past midnight."""

    start: int
    end: int

    def holds(self, instant: datetime, tz: ZoneInfo) -> bool:
        return in_span(local_minute(instant, tz), self.start, self.end)


@dataclass(frozen=True)
class Recurrence:
    """When a slot opens: times of day on weekdays (ISO 1..7, none = all) between dates."""

    times: Sequence[int]
    window_minutes: int | None = None
    every_minutes: int | None = None
    weekdays: Sequence[int] = ()
    start_date: date | None = None
    end_date: date | None = None

    def on(self, day: date) -> bool:
        if self.weekdays and day.isoweekday() not in self.weekdays:
            return False
        if self.start_date is not None and day < self.start_date:
            return False
        return self.end_date is None or day <= self.end_date


def occurrences(
    rule: Recurrence, tz: ZoneInfo, since: datetime, until: datetime, grace: timedelta
) -> list[tuple[datetime, datetime]]:
    """(start, end) of every play of `rule` that is still open after `since` and starts before
    `until`. A window opens at each time of day on each day the rule allows and stays open for
    `window_minutes` (else `grace`); with `every_minutes` a play starts again every so often
    inside it, each ending where the next begins. Nothing of a play starts at or after its end.
    """
    found: list[tuple[datetime, datetime]] = []
    longest = max(rule.window_minutes or 0, int(grace.total_seconds() // 60))
    day = (since - timedelta(minutes=longest)).astimezone(tz).date()
    last = until.astimezone(tz).date()
    step = timedelta(minutes=rule.every_minutes) if rule.every_minutes else None
    while day <= last:
        if rule.on(day):
            for minute in rule.times:
                opens = at_local(day, minute, tz)
                closes = opens + (timedelta(minutes=rule.window_minutes) if rule.window_minutes else grace)
                start = opens
                while start < closes and start < until:
                    end = min(start + step, closes) if step else closes
                    if end > since:
                        found.append((start, end))
                    if step is None:
                        break
                    start += step
        day += timedelta(days=1)
    return sorted(set(found))


def allowed_end(
    start: datetime, end: datetime, tz: ZoneInfo, blocked: Iterable[Span]
) -> datetime | None:
    """The end of a play that starts at `start` when nothing may start inside `blocked` hours:
    None when it would start inside them, else `end` cut at the next time they begin."""
    for span in blocked:
        if span.holds(start, tz):
            return None
        end = min(end, next_local(start, span.start, tz))
    return end


def blocked_hours(
    quiet: Span | None, active_start: int | None, active_end: int | None
) -> list[Span]:
    """The hours nothing routine may start in: the grid's quiet hours, and the hours outside
    the speaker's active hours."""
    spans = [quiet] if quiet is not None else []
    if active_start is not None and active_end is not None and active_start != active_end:
        spans.append(Span(active_end, active_start))
    return spans


def stamp(instant: datetime) -> str:
    """A compact UTC stamp for item ids: 20261130T0900Z."""
    return instant.astimezone(UTC).strftime("%Y%m%dT%H%MZ")


def iso(instant: datetime) -> str:
    """ISO 8601 in UTC with a Z, to the second, as the pull contract writes every time."""
    return instant.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
