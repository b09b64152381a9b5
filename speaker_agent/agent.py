"""The agent: two loops over one state, on one clock.

The poll loop fetches the schedule (ETag), downloads what it names (urgent clips first),
switches schedules once every file is here, and sends proof of play and a heartbeat; while
the hub is away it backs off (30 → 60 → 120 s) and nothing else changes. The play loop asks
`plan` what should sound now and makes the player do it. Both write the state file before
they act on a change, so a restart resumes where the agent stood: nothing played twice,
nothing unreported.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp

from speaker_agent import __version__
from speaker_agent import state as store
from speaker_agent.cache import ClipCache
from speaker_agent.clock import Clock
from speaker_agent.hubapi import ClipRejected, HubClient, HubRefused, HubUnreachable
from speaker_agent.plan import (
    Item,
    Occurrence,
    decide,
    due,
    effective_items,
    format_time,
    live_resumes,
    next_wakeup,
    parse_items,
)
from speaker_agent.players import Playback, Player, PlayerError
from speaker_agent.state import AgentState, Current

log = logging.getLogger("speaker_agent")

DEFAULT_POLL_SECONDS = 15
BACKOFF_SECONDS = (30, 60, 120)
DRIFT_WARN_SECONDS = 5.0
PLAYS_PER_BATCH = 50  # well under the hub's 64 KB body limit
DOWNLOAD_ATTEMPTS = 2  # a clip that fails its hash is fetched once more at once, then next poll
# The play loop looks again at least this often, whatever it expects.
MAX_IDLE_SECONDS = 300.0


@dataclass(frozen=True)
class Config:
    hub_url: str
    speaker_id: str
    token: str
    cache_dir: Path
    drift_warn_seconds: float = DRIFT_WARN_SECONDS


@dataclass
class Playing:
    occurrence: Occurrence
    play_id: str
    started: datetime
    playback: Playback


def _setting(schedule: dict[str, Any] | None, key: str, default: int, low: int, high: int) -> int:
    try:
        value = int((schedule or {}).get(key, default))
    except (TypeError, ValueError):
        value = default
    return max(low, min(high, value))


class Agent:
    def __init__(self, config: Config, *, clock: Clock, player: Player,
                 session: aiohttp.ClientSession | None = None) -> None:
        self.config = config
        self.clock = clock
        self.player = player
        self.clips = ClipCache(config.cache_dir / "clips")
        self.state = AgentState()
        self.tasks: list[asyncio.Task[None]] = []
        self._session = session
        self._own_session = session is None
        self._hub: HubClient | None = None
        self._active: list[Item] = []
        self._pending: list[Item] | None = None
        self._playing: Playing | None = None
        self._wake = asyncio.Event()  # what should play may have changed
        self._flush = asyncio.Event()  # a play began or ended, or a clip went bad: talk to the hub
        self._stop = asyncio.Event()
        self._save_lock = asyncio.Lock()
        self._failures = 0
        self._drifting = False

    # --- life --------------------------------------------------------------------------------

    async def start(self) -> list[asyncio.Task[None]]:
        await asyncio.to_thread(self.clips.folder.mkdir, parents=True, exist_ok=True)
        self.state = await asyncio.to_thread(store.load, self.config.cache_dir)
        self._active = parse_items(self.state.active)[0] if self.state.active else []
        self._pending = parse_items(self.state.pending)[0] if self.state.pending else None
        if self.state.current is not None:
            self._recover(self.state.current)
            await self._save()
        if self._session is None:
            self._session = aiohttp.ClientSession()
        self._hub = HubClient(self._session, self.config.hub_url, self.config.speaker_id,
                              self.config.token, self.clock)
        log.info("speaker agent %s: speaker %s, hub %s, cache %s", __version__,
                 self.config.speaker_id, self.config.hub_url, self.config.cache_dir)
        self.tasks = [asyncio.create_task(self._poll_loop(), name="speaker-agent poll"),
                      asyncio.create_task(self._play_loop(), name="speaker-agent play")]
        return self.tasks

    async def stop(self) -> None:
        """Stop both loops; a clip playing is cut, reported interrupted and owed its replay."""
        self._stop.set()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self._failures == 0 and self._hub is not None:
            with contextlib.suppress(HubUnreachable, HubRefused, TimeoutError):
                await asyncio.wait_for(self._hub.heartbeat(self._heartbeat("offline")), 5)
        if self._own_session and self._session is not None:
            await self._session.close()
        log.info("speaker agent stopped; %d plays not yet reported are kept for next time",
                 len(self.state.unsent))

    async def run(self) -> None:
        await self.start()
        await asyncio.gather(*self.tasks)

    def _recover(self, current: Current) -> None:
        """The agent died mid-play: that play was interrupted, and is owed its replay."""
        log.warning("restarted in the middle of %s; reporting it interrupted",
                    current.occurrence.item.id)
        self._record(current.occurrence, current.play_id, current.started, None, "interrupted",
                     "agent restarted")
        self._owe_replay(current.occurrence)
        self.state.current = None

    # --- the schedule in effect ------------------------------------------------------------

    def present(self, item: Item) -> bool:
        return self.clips.present(item)

    def effective(self) -> list[Item]:
        return effective_items(self._active, self._pending, self.present)

    def _latest(self) -> dict[str, Any] | None:
        return self.state.pending or self.state.active

    @property
    def poll_seconds(self) -> int:
        return _setting(self._latest(), "poll_seconds", DEFAULT_POLL_SECONDS, 1, 3600)

    @property
    def volume(self) -> int:
        return _setting(self._latest(), "volume", 100, 0, 100)

    # --- the poll loop -----------------------------------------------------------------------

    async def _poll_loop(self) -> None:
        while not self._stop.is_set():
            began = self.clock.now()
            delay: float = self.poll_seconds
            try:
                await self._poll()
                self._failures = 0
            except (HubUnreachable, HubRefused) as error:
                self._failures += 1
                delay = BACKOFF_SECONDS[min(self._failures, len(BACKOFF_SECONDS)) - 1]
                refused = isinstance(error, HubRefused)
                (log.error if refused else log.warning)(
                    "hub %s (%s); playing the cached schedule, next poll in %d s",
                    "refused" if refused else "unreachable", error, delay)
            await self._between_polls(began.timestamp() + delay)

    async def _between_polls(self, until: float) -> None:
        """Wait until `until` (the last poll's start plus the interval, so the interval holds
        however long a poll took); meanwhile, proof of play goes out as soon as a play ends."""
        while not self._stop.is_set():
            remaining = until - self.clock.now().timestamp()
            if remaining <= 0:
                return
            await self.clock.wait(self._stop, self._flush, at_most=remaining)
            if self._flush.is_set() and not self._stop.is_set():
                self._flush.clear()
                if self._failures == 0:
                    try:
                        await self._fetch_clips()
                        await self._report()
                    except (HubUnreachable, HubRefused) as error:
                        log.warning("hub unreachable between polls (%s)", error)

    async def _poll(self) -> None:
        assert self._hub is not None
        fetched = await self._hub.schedule(self.state.etag)
        self._note_offset(fetched.clock_offset_seconds)
        if fetched.schedule is not None:
            await self._take(fetched.schedule, fetched.etag)
        await self._fetch_clips()
        await self._report()

    async def _take(self, schedule: dict[str, Any], etag: str | None) -> None:
        items, problems = parse_items(schedule)
        for problem in problems:
            log.warning("schedule: skipping an item: %s", problem)
        schedule = {**schedule, "items": [dict(i.raw) for i in items]}
        self.state.pending, self._pending = schedule, items
        self.state.etag = etag
        log.info("new schedule: %d items (%s urgent)", len(items), sum(i.urgent for i in items))
        await self._save()
        self._wake.set()

    async def _fetch_clips(self) -> None:
        """Download what the schedules name and is not here, urgent first, then by start;
        then switch to the new schedule if all of its files are here. Past one poll interval
        only urgent clips are fetched, so a slow link never holds back the next poll (and an
        urgent item in it); the rest continues then."""
        assert self._hub is not None
        began = self.clock.now()
        wanted = sorted((i for i in [*self._active, *(self._pending or [])] if i.end > began),
                        key=lambda i: (-i.rank, i.start))
        seen: set[str] = set()
        for item in wanted:
            if item.clip.sha256 in seen or self.present(item):
                continue
            if not item.urgent and (self.clock.now() - began).total_seconds() > self.poll_seconds:
                break
            seen.add(item.clip.sha256)
            for _ in range(DOWNLOAD_ATTEMPTS):
                try:
                    path = await self._hub.download(item.clip, self.clips.folder)
                except ClipRejected as error:
                    log.error("%s", error)
                    continue
                except HubRefused as error:
                    log.error("clip %s refused: %s", item.clip.sha256[:12], error)
                    break
                self.clips.checked(path)
                self._wake.set()  # an urgent clip, or one of the schedule in effect fetched again
                break
        now = self.clock.now()
        if self._pending is not None and all(self.present(i) for i in self._pending if i.end > now):
            await self._promote()

    async def _promote(self) -> None:
        self.state.active, self._active = self.state.pending, self._pending or []
        self.state.pending, self._pending = None, None
        self.state.forget_old({i.id for i in self._active}, self.clock.now())
        await self._save()
        self._wake.set()
        keep = [i.clip.filename for i in self._active]
        keep += [o.item.clip.filename for o in self.state.resumes]
        if self._playing is not None:
            keep.append(self._playing.occurrence.item.clip.filename)
        await asyncio.to_thread(self.clips.keep_only, keep)

    async def _report(self) -> None:
        """Proof of play in batches (a resend of an id never counts twice at the hub), then
        the heartbeat."""
        assert self._hub is not None
        while self.state.unsent:
            batch = self.state.unsent[:PLAYS_PER_BATCH]
            try:
                await self._hub.send_plays(batch)
            except HubRefused as error:
                if error.status != 400:
                    raise
                log.error("the hub refused %d play records (%s); dropping them", len(batch), error)
            # These very records: a play's outcome may have joined the queue meanwhile under
            # the same id as its "playing" record just sent.
            sent = {id(record) for record in batch}
            self.state.unsent = [r for r in self.state.unsent if id(r) not in sent]
            await self._save()
        await self._hub.heartbeat(self._heartbeat("playing" if self._playing else "idle"))

    def _heartbeat(self, status: str) -> dict[str, Any]:
        try:
            free = shutil.disk_usage(self.config.cache_dir).free
        except OSError:
            free = None
        return {"status": status, "version": __version__, "free_disk_bytes": free,
                "clock_offset_seconds": self.state.clock_offset_seconds,
                "last_played": self.state.last_played,
                "playing": self._playing.occurrence.item.id if self._playing else None}

    def _note_offset(self, offset: float | None) -> None:
        if offset is None:
            return
        self.state.clock_offset_seconds = offset
        drifting = abs(offset) > self.config.drift_warn_seconds
        if drifting and not self._drifting:
            log.warning("this clock is %+.1f s off the hub's (more than %.0f s): plays start "
                        "off time; check NTP (timedatectl)", offset, self.config.drift_warn_seconds)
        elif self._drifting and not drifting:
            log.info("clock back within %.0f s of the hub's (%+.1f s)",
                     self.config.drift_warn_seconds, offset)
        self._drifting = drifting

    # --- the play loop -----------------------------------------------------------------------

    async def _play_loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            now = self.clock.now()
            items = self.effective()
            self.state.resumes = live_resumes(self.state.resumes, items, now, self.state.done)
            playing = self._playing.occurrence if self._playing else None
            candidates = [o for o in due(items, now, self.state.done, self.state.resumes)
                          if self.present(o.item)]
            decision = decide(playing, candidates, items)
            if decision.stop:
                await self._cut(decision.stop_reason or "stopped")
            if decision.start is not None:
                await self._begin(decision.start)
                continue
            events = [self._stop, self._wake]
            if self._playing is not None:
                events.append(self._playing.playback.finished)
            wake_at = next_wakeup(items, now)
            timeout = MAX_IDLE_SECONDS
            if wake_at is not None:
                timeout = min(timeout, max(0.0, (wake_at - now).total_seconds()))
            await self.clock.wait(*events, at_most=timeout)
            if self._playing is not None and self._playing.playback.finished.is_set():
                await self._finished()
        if self._playing is not None:
            await self._cut("agent stopped")

    async def _begin(self, occurrence: Occurrence) -> None:
        now = self.clock.now()
        path = self.clips.path(occurrence.item)
        play_id = str(uuid.uuid4())
        self.state.done[occurrence.key] = format_time(now)
        if occurrence.resumed:
            self.state.resumes = [o for o in self.state.resumes if o.key != occurrence.key]
        if not await asyncio.to_thread(self.clips.intact, occurrence.item):
            log.error("clip %s does not match its hash; deleted, not played, fetched again",
                      path.name)
            del self.state.done[occurrence.key]  # it may still play once fetched again
            self._record(occurrence, play_id, now, now, "failed", "checksum mismatch")
            await self._save()
            self._flush.set()
            return
        self.state.current = Current(occurrence, play_id, now)
        await self._save()  # before a sound is made: a crash from here on is an interruption
        try:
            playback = await self.player.start(path, occurrence, self.volume)
        except PlayerError as error:
            log.error("cannot play %s: %s", occurrence.item.id, error)
            self.state.current = None
            self._record(occurrence, play_id, now, self.clock.now(), "failed", str(error))
            await self._save()
            self._flush.set()
            return
        self._playing = Playing(occurrence, play_id, now, playback)
        log.info("playing %s (%s)%s", occurrence.item.id, occurrence.item.title,
                 " again after an interruption" if occurrence.resumed else "")
        self._record(occurrence, play_id, now, None, "playing", None)
        self._flush.set()  # tell the hub at once: a warning sounding is proof enough early

    async def _finished(self) -> None:
        assert self._playing is not None
        playing, self._playing = self._playing, None
        error = playing.playback.error
        self._record(playing.occurrence, playing.play_id, playing.started, self.clock.now(),
                     "failed" if error else "played", error)
        await self._settle(playing)

    async def _cut(self, reason: str) -> None:
        assert self._playing is not None
        playing, self._playing = self._playing, None
        await playing.playback.stop()
        log.info("stopped %s: %s", playing.occurrence.item.id, reason)
        self._record(playing.occurrence, playing.play_id, playing.started, self.clock.now(),
                     "interrupted", reason)
        if reason != "withdrawn":
            self._owe_replay(playing.occurrence)
        await self._settle(playing)

    async def _settle(self, playing: Playing) -> None:
        self.state.current = None
        self.state.last_played = {"item": playing.occurrence.item.id,
                                  "started": format_time(playing.started)}
        await self._save()
        self._flush.set()

    def _owe_replay(self, occurrence: Occurrence) -> None:
        """Once: a replay that is itself cut is not owed again."""
        if occurrence.resumed or self.clock.now() >= occurrence.item.end:
            return
        self.state.resumes.append(Occurrence(occurrence.item, occurrence.scheduled, resumed=True))

    def _record(self, occurrence: Occurrence, play_id: str, started: datetime,
                ended: datetime | None, result: str, error: str | None) -> None:
        """A play is reported twice under one id: "playing" when it starts, its outcome when it
        ends (the hub completes the row). An outcome replaces a "playing" not yet sent."""
        if result != "playing":
            self.state.unsent = [r for r in self.state.unsent if r["id"] != play_id]
        self.state.add_unsent({
            "id": play_id, "item": occurrence.item.id, "clip": occurrence.item.clip.sha256,
            "scheduled": format_time(occurrence.scheduled), "started": format_time(started),
            "ended": format_time(ended) if ended else None, "result": result, "error": error,
        })

    async def _save(self) -> None:
        async with self._save_lock:
            data = store.dump(self.state)
            await asyncio.to_thread(store.save, self.config.cache_dir, data)
