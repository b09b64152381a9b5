"""When each part of a campaign falls due, and until when it is still worth sending. Pure.

A campaign's window on the calendar is an *occasion* (e.g. Qingming 2027 of the Qingming
campaign). Each occasion has items:

- `post:<n>`: a chat post, due at its day and time; worth sending until the occasion's next
  post falls due or the window closes, whichever is first — after an outage a post whose
  successor is already due, or whose window has closed, is stale and skipped.
- `slot:<n>`: a loudspeaker slot, released `RENDER_AHEAD` before the window opens so its
  clips are rendered before any speaker asks; worth releasing until the window closes.

Days are the hub's local days; the calendar computes them in China's time, as people reckon
festivals and solar terms.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from broadcasts.campaigns.files import Catalogue, Loaded
from broadcasts.speakers.timing import at_local
from hub.calendar import Span

RENDER_AHEAD = timedelta(days=7)
MAX_CATCH_UP = timedelta(days=60)  # an outage longer than this is not caught up from its start


@dataclass(frozen=True)
class Occasion:
    """One window of one campaign, on the days it covers this time."""

    campaign: Loaded
    index: int
    span: Span

    @property
    def key(self) -> str:
        return f"{self.index}:{self.span.start.isoformat()}"

    def opens(self, tz: ZoneInfo) -> datetime:
        return at_local(self.span.start, 0, tz)

    def closes(self, tz: ZoneInfo) -> datetime:
        return at_local(self.span.end + timedelta(days=1), 0, tz)


@dataclass(frozen=True)
class Due:
    """One item of an occasion: what, when it falls due, and when it goes stale."""

    occasion: Occasion
    kind: str  # "post" or "slot"
    index: int
    at: datetime
    until: datetime

    @property
    def item(self) -> str:
        return f"{self.kind}:{self.index}"

    @property
    def campaign_id(self) -> str:
        return self.occasion.campaign.id

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.campaign_id, self.occasion.key, self.item)

    def live(self, now: datetime) -> bool:
        return self.at <= now < self.until


def occasions(catalogue: Catalogue, first: date, last: date, ids: Iterable[str] | None = None) -> list[Occasion]:
    """Every occasion overlapping the days [first, last], by first day."""
    chosen = catalogue.campaigns.values() if ids is None else [catalogue.campaigns[i] for i in ids]
    found = [
        Occasion(loaded, index, span)
        for loaded in chosen
        for index, window in enumerate(loaded.campaign.windows)
        for span in window.spans(first, last, catalogue.calendar)
    ]
    return sorted(found, key=lambda o: (o.span.start, o.campaign.id, o.index))


def items(occasion: Occasion, tz: ZoneInfo) -> list[Due]:
    """The posts and slots of an occasion."""
    closes = occasion.closes(tz)
    posts = []
    for index, post in enumerate(occasion.campaign.campaign.posts):
        if post.window not in (None, occasion.index):
            continue
        day = post.date_in(occasion.span)
        if day is not None:
            posts.append((at_local(day, post.minute, tz), index))
    found = []
    for at, index in sorted(posts):
        later = [other for other, _ in posts if other > at]
        found.append(Due(occasion, "post", index, at, min([closes, *later])))
    released = occasion.opens(tz) - RENDER_AHEAD
    found += [Due(occasion, "slot", index, released, closes)
              for index, slot in enumerate(occasion.campaign.campaign.speakers)
              if slot.window in (None, occasion.index)]
    return found


class Planner:
    """The items of a catalogue, with the occasions of each stretch of days remembered: the
    scheduler asks every minute, and the answer changes once a day."""

    def __init__(self, catalogue: Catalogue, tz: ZoneInfo) -> None:
        self.catalogue = catalogue
        self.tz = tz
        self._memo: dict[tuple[date, date], list[Due]] = {}

    def around(self, first: date, last: date) -> list[Due]:
        """Items of every occasion overlapping [first - 1 day, last + RENDER_AHEAD + 1 day]."""
        memo_key = (first, last)
        found = self._memo.get(memo_key)
        if found is None:
            if len(self._memo) > 64:
                self._memo.clear()
            reach = RENDER_AHEAD + timedelta(days=1)
            found = [due for occasion in occasions(self.catalogue, first - timedelta(days=1), last + reach)
                     for due in items(occasion, self.tz)]
            self._memo[memo_key] = found
        return found

    def falling_due(self, since: datetime, now: datetime) -> list[Due]:
        """Items that fell due in (since, now], live or stale."""
        first, last = since.astimezone(self.tz).date(), now.astimezone(self.tz).date()
        return [due for due in self.around(first, last) if since < due.at <= now]

    def live(self, now: datetime, ids: Iterable[str] | None = None) -> list[Due]:
        """Items worth releasing at `now` (of the campaigns `ids`, or all)."""
        wanted = None if ids is None else set(ids)
        today = now.astimezone(self.tz).date()
        return [due for due in self.around(today, today)
                if due.live(now) and (wanted is None or due.campaign_id in wanted)]
