"""What to play, as pure functions of (schedule, now, what has been played).

No I/O and no clock here: the agent's loops feed these functions and act on their answers,
and the tests call them directly. The rules, from the pull contract:

- An item plays first at `start` and, with `repeat_seconds`, again every N seconds while the
  occurrence starts before `end`. An occurrence may start late, but only inside its own
  window (up to the next occurrence, and never at or after `end`); repeats missed while the
  agent was off collapse into the latest one, so nothing is played in a burst.
- One clip at a time. The free player takes the highest `rank` due (urgent red 4, urgent
  orange 3, announcement 2, campaign 1, filler 0), the older occurrence first at the same rank.
- Only an item with `interrupt: true` cuts a playing one, and only one of lower rank; the same
  level queues behind the one playing.
- An interrupted occurrence is owed one replay from its start at the next free moment, while
  its window (`end`) is open and its item is still scheduled; a fresh occurrence of the same
  item that is due anyway settles the debt.
- An urgent item that vanishes from the schedule (Cancel, or an Update that replaced it) is
  withdrawn: it stops if playing and is never replayed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

SHA256 = re.compile(r"^[0-9a-f]{64}$")
EXTENSIONS = ("mp3", "ogg")


class ScheduleError(ValueError):
    """A schedule or an item that does not follow the contract."""


def parse_time(value: str) -> datetime:
    when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if when.tzinfo is None:
        raise ScheduleError(f"time without a zone: {value!r}")
    return when.astimezone(UTC)


def format_time(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Clip:
    sha256: str
    url: str
    extension: str
    bytes: int | None
    duration_seconds: float

    @property
    def filename(self) -> str:
        """The name in the cache: made from the hash, never from what the hub called it."""
        return f"{self.sha256}.{self.extension}"


@dataclass(frozen=True)
class Item:
    id: str
    kind: str
    rank: int
    start: datetime
    end: datetime
    repeat_seconds: int | None
    interrupt: bool
    title: str
    clip: Clip
    raw: Mapping[str, Any]

    @property
    def urgent(self) -> bool:
        return self.kind == "urgent"

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Item:
        try:
            clip = data["clip"]
            sha = str(clip["sha256"]).lower()
            name = str(clip.get("name") or clip["url"])
            extension = name.rsplit(".", 1)[-1].lower() if "." in name else "mp3"
            if not SHA256.match(sha):
                raise ScheduleError(f"item {data.get('id')!r}: clip hash is not SHA-256 hex")
            repeat = data.get("repeat_seconds")
            return cls(
                id=str(data["id"]), kind=str(data.get("kind", "filler")), rank=int(data["rank"]),
                start=parse_time(data["start"]), end=parse_time(data["end"]),
                repeat_seconds=int(repeat) if repeat else None,
                interrupt=bool(data.get("interrupt", False)), title=str(data.get("title", "")),
                clip=Clip(sha, str(clip["url"]), extension if extension in EXTENSIONS else "mp3",
                          int(clip["bytes"]) if clip.get("bytes") is not None else None,
                          float(clip.get("duration_seconds") or 0.0)),
                raw=data,
            )
        except (KeyError, TypeError, ValueError) as error:
            if isinstance(error, ScheduleError):
                raise
            raise ScheduleError(f"item {data.get('id') if isinstance(data, Mapping) else data!r}: "
                                f"{error!r}") from None


def parse_items(schedule: Mapping[str, Any]) -> tuple[list[Item], list[str]]:
    """The schedule's items, and one complaint per item that could not be read (skipped)."""
    items: list[Item] = []
    problems: list[str] = []
    for data in schedule.get("items") or []:
        try:
            items.append(Item.from_json(data))
        except ScheduleError as error:
            problems.append(str(error))
    return items, problems


@dataclass(frozen=True)
class Occurrence:
    item: Item
    scheduled: datetime
    resumed: bool = False

    @property
    def key(self) -> str:
        return occurrence_key(self.item.id, self.scheduled)

    def window_end(self) -> datetime:
        """Nothing of this occurrence starts at or after this moment."""
        if self.resumed or not self.item.repeat_seconds:
            return self.item.end
        return min(self.item.end, self.scheduled + timedelta(seconds=self.item.repeat_seconds))


def occurrence_key(item_id: str, scheduled: datetime) -> str:
    return f"{item_id}@{format_time(scheduled)}"


def current_occurrence(item: Item, now: datetime) -> Occurrence | None:
    """The occurrence of `item` that may start at `now`, if any."""
    if now < item.start or now >= item.end:
        return None
    if not item.repeat_seconds:
        return Occurrence(item, item.start)
    n = int((now - item.start).total_seconds() // item.repeat_seconds)
    return Occurrence(item, item.start + timedelta(seconds=n * item.repeat_seconds))


def next_start(item: Item, now: datetime) -> datetime | None:
    """When the next occurrence of `item` after `now` begins, if it does before `end`."""
    if now < item.start:
        return item.start if item.start < item.end else None
    if not item.repeat_seconds:
        return None
    n = int((now - item.start).total_seconds() // item.repeat_seconds) + 1
    when = item.start + timedelta(seconds=n * item.repeat_seconds)
    return when if when < item.end else None


def effective_items(active: Iterable[Item], pending: Iterable[Item] | None,
                    present: Callable[[Item], bool]) -> list[Item]:
    """What plays now. The active schedule, whose files are all present; while a newer one
    waits for its files, its urgent items already rule: those whose clip is here play at
    once, and an urgent item it no longer names is withdrawn at once."""
    if pending is None:
        return list(active)
    pending = list(pending)
    urgent_now = [i for i in pending if i.urgent and present(i)]
    return [i for i in active if not i.urgent] + urgent_now


def _order(occurrence: Occurrence) -> tuple[int, int, datetime, str]:
    return (-occurrence.item.rank, 0 if occurrence.resumed else 1, occurrence.scheduled,
            occurrence.item.id)


def live_resumes(resumes: Iterable[Occurrence], items: Iterable[Item], now: datetime,
                 done: Mapping[str, str]) -> list[Occurrence]:
    """The replays still owed: item still scheduled, window open, and no fresh occurrence of
    the same item due now (that one plays instead)."""
    by_id = {i.id: i for i in items}
    kept = []
    for owed in resumes:
        item = by_id.get(owed.item.id)
        if item is None or now >= item.end:
            continue
        fresh = current_occurrence(item, now)
        if fresh is not None and fresh.scheduled > owed.scheduled and fresh.key not in done:
            continue
        kept.append(owed)
    return kept


def due(items: Iterable[Item], now: datetime, done: Mapping[str, str],
        resumes: Iterable[Occurrence] = ()) -> list[Occurrence]:
    """Every occurrence that may start now, best first."""
    found = [o for o in (current_occurrence(i, now) for i in items)
             if o is not None and o.key not in done]
    found.extend(resumes)
    return sorted(found, key=_order)


def preempts(candidate: Occurrence, playing: Occurrence) -> bool:
    return candidate.item.interrupt and candidate.item.rank > playing.item.rank


def withdrawn(playing: Occurrence, items: Iterable[Item]) -> bool:
    """An urgent item that the schedule in effect no longer names."""
    return playing.item.urgent and playing.item.id not in {i.id for i in items}


def next_wakeup(items: Iterable[Item], now: datetime) -> datetime | None:
    """The next moment something may become due."""
    return min((w for w in (next_start(i, now) for i in items) if w is not None), default=None)


@dataclass(frozen=True)
class Decision:
    """What the player loop should do now: start `start` (after stopping the playing one when
    `stop` is set, with `stop_reason`), or nothing."""

    start: Occurrence | None = None
    stop: bool = False
    stop_reason: str | None = None


def decide(playing: Occurrence | None, candidates: list[Occurrence],
           items: Iterable[Item]) -> Decision:
    items = list(items)
    if playing is not None and withdrawn(playing, items):
        return Decision(candidates[0] if candidates else None, stop=True, stop_reason="withdrawn")
    if playing is None:
        return Decision(candidates[0] if candidates else None)
    if candidates and preempts(candidates[0], playing):
        return Decision(candidates[0], stop=True, stop_reason=f"interrupted by {candidates[0].item.id}")
    return Decision()
