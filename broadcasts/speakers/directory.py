"""Who the speakers are, kept by each web process, so a poll with nothing new costs no query.

10,000 speakers polling every 15 s is 667 requests a second, nearly all answered "304 Not
Modified". What such an answer needs is the speaker's token hash, whether it is active, and
its `schedule_version` — the same few values for every poll until something changes. So each
process keeps them, and at most once a second (`max_age`) asks the database for the rows whose
version is newer than the newest it has seen: one small indexed query a second, whatever the
number of polls.

Why this is safe: every change of a speaker or of anything it plays takes a new value of the
change sequence (`registry.next_version`) in its own unit of work, and those values become
visible in order, so "newer than what I have seen" misses nothing. A change reaches every
process within `max_age` seconds — well inside one poll interval — and a token rotated or a
speaker deactivated is refused within the same second. A change committed by this very process
(the hub renders an urgent warning's clip in the process that serves the speakers) is seen at
the next poll, not up to a second later: `note_change` marks every directory of the process
stale when that unit of work commits. Each entry also holds what the speaker's schedule is
made for (its grid, tags, hours, volume), so a 200 for a village's schedule already made costs
no query either; its ETag names the entry's version, and what the schedule reads for that
version it reads after the version was committed, so an ETag never claims more than its body.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from broadcasts.speakers import tokens
from broadcasts.speakers.models import Announcement, Speaker
from hub.clock import SystemClock
from hub.errors import HubError, NotFound
from hub.models import Grid

SERVICE = "speakers.directory"
MAX_AGE_SECONDS = 1.0
_NOTED = "speakers.directory.noted"
_generation = 0  # commits in this process that changed what speakers play


def note_change(session: AsyncSession) -> None:
    """Once `session`'s unit of work commits, every directory of this process looks again at
    its next use. A rolled-back unit of work changes nothing; its listener stays until the
    session's next commit, which costs at most one needless refresh."""
    sync = session.sync_session
    if sync.info.get(_NOTED):
        return
    sync.info[_NOTED] = True
    event.listen(sync, "after_commit", _committed, once=True)


def _committed(session: object) -> None:
    global _generation
    _generation += 1
    session.info.pop(_NOTED, None)  # type: ignore[attr-defined]


class Unauthorized(HubError):
    """No token, or one no active speaker holds: 401 with `WWW-Authenticate: Bearer`."""

    key = "speakers.api.unauthorized"


@dataclass(frozen=True)
class Entry:
    """A speaker as of its `version`: what a poll checks, and what its schedule is made for."""

    id: int
    code: str
    grid_id: int
    token_hash: str
    active: bool
    version: int
    grid_path: str
    zone_tags: tuple[str, ...]
    volume: int
    hours: tuple[int | None, int | None]  # active hours, minutes of the day
    personal: bool  # announcements of its own, not cancelled

    @classmethod
    def of(cls, row: Any) -> Entry:
        """From a row of `ROW` (any change of these values renews the version)."""
        return cls(row.id, row.code, row.grid_id, row.token_hash, row.active, row.schedule_version, row.path,
                   tuple(sorted(row.zone_tags or ())), row.volume, (row.active_start_min, row.active_end_min),
                   bool(row.personal))


# A speaker's row as the directory and the schedule read it. `personal` is whether it has
# announcements of its own: announcing to one speaker or cancelling that renews its version,
# and a grid's path never changes, so nothing here changes without a new version.
ROW = (
    select(Speaker.id, Speaker.code, Speaker.grid_id, Speaker.token_hash, Speaker.active,
           Speaker.schedule_version, Grid.path, Speaker.zone_tags, Speaker.volume,
           Speaker.active_start_min, Speaker.active_end_min,
           exists().where(Announcement.speaker_id == Speaker.id, Announcement.cancelled_at.is_(None))
           .label("personal"))
    .join(Grid, Grid.id == Speaker.grid_id)
)


class Directory:
    def __init__(self, max_age: float = MAX_AGE_SECONDS) -> None:
        self.max_age = max_age
        self._by_code: dict[str, Entry] = {}
        self._by_token: dict[str, str] = {}
        self._seen = -1
        self._generation = -1
        self._checked = self._checked_hub = -float("inf")
        self._lock = asyncio.Lock()

    def __len__(self) -> int:
        return len(self._by_code)

    def _fresh(self, hub: Any) -> bool:
        """Checked within `max_age` seconds, by the process's clock — and, when the hub runs on
        a clock of its own (tests move one), by that clock too: a hub clock that jumped ahead
        means time has passed for the speakers."""
        if self._generation != _generation or time.monotonic() - self._checked >= self.max_age:
            return False
        return isinstance(hub.clock, SystemClock) or hub.now().timestamp() - self._checked_hub < self.max_age

    async def _refresh(self, hub: Any) -> None:
        if self._fresh(hub):
            return
        async with self._lock:
            if self._fresh(hub):
                return  # another request refreshed while this one waited
            started, started_hub = time.monotonic(), hub.now().timestamp()
            generation = _generation
            query = ROW.where(Speaker.schedule_version > self._seen).order_by(Speaker.schedule_version)
            async with hub.db.engine.connect() as conn:
                rows = (await conn.execute(query)).all()
            for row in rows:
                self._put(Entry.of(row))
            self._checked, self._checked_hub, self._generation = started, started_hub, generation

    def _put(self, entry: Entry) -> None:
        old = self._by_code.get(entry.code)
        if old is not None and self._by_token.get(old.token_hash) == entry.code:
            del self._by_token[old.token_hash]
        self._by_code[entry.code] = entry
        if entry.active:
            self._by_token[entry.token_hash] = entry.code
        self._seen = max(self._seen, entry.version)

    async def speaker(self, hub: Any, code: str, token: str | None) -> Entry:
        """The active speaker `code` if `token` is its own. A token of no active speaker is
        refused (401); one of another speaker, for this id or an unknown one, is told nothing
        exists here (404), so a speaker cannot learn which ids its neighbours have."""
        await self._refresh(hub)
        if token is None:
            raise Unauthorized()
        presented = tokens.digest(token)
        entry = self._by_code.get(code)
        if entry is not None and entry.active and tokens.matches(entry.token_hash, presented):
            return entry
        if presented in self._by_token:
            raise NotFound("speakers.api.not_found")
        raise Unauthorized()

    async def any_speaker(self, hub: Any, token: str | None) -> Entry:
        """The active speaker holding `token` (clips are shared by all speakers)."""
        await self._refresh(hub)
        code = self._by_token.get(tokens.digest(token)) if token is not None else None
        if code is None:
            raise Unauthorized()
        return self._by_code[code]


def directory_of(hub: Any) -> Directory:
    found = hub.services.get(SERVICE)
    if found is None:
        found = hub.services[SERVICE] = Directory()
    return found
