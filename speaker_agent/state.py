"""What the agent remembers across its own restarts, in one JSON file in the cache dir.

The schedule in effect and the one waiting for its files, the ETag, the occurrences already
started, the replays owed, the play in progress and the proof-of-play records not yet
accepted by the hub. Written atomically (a temporary file, fsync, rename), so a power cut
leaves the old state or the new one, never half of each — SD cards on a Pi see many.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from speaker_agent.plan import Item, Occurrence, ScheduleError, format_time, parse_time

log = logging.getLogger(__name__)

STATE_FILE = "state.json"
VERSION = 1
# Proof of play kept while the hub is away: about a month of a busy speaker. Past it the
# oldest records go first (and the log says so).
MAX_UNSENT = 20_000
# Started occurrences are remembered this long after their item left every schedule.
FORGET_AFTER = timedelta(hours=48)


def occurrence_to_json(o: Occurrence) -> dict[str, Any]:
    return {"item": dict(o.item.raw), "scheduled": format_time(o.scheduled), "resumed": o.resumed}


def occurrence_from_json(data: dict[str, Any]) -> Occurrence:
    return Occurrence(Item.from_json(data["item"]), parse_time(data["scheduled"]),
                      bool(data.get("resumed")))


@dataclass
class Current:
    """The play in progress, written before the player starts: after a crash it is reported
    as interrupted and owed its replay, like any other interruption."""

    occurrence: Occurrence
    play_id: str
    started: datetime


@dataclass
class AgentState:
    active: dict[str, Any] | None = None
    pending: dict[str, Any] | None = None
    etag: str | None = None
    done: dict[str, str] = field(default_factory=dict)  # occurrence key -> when it started
    resumes: list[Occurrence] = field(default_factory=list)
    current: Current | None = None
    unsent: list[dict[str, Any]] = field(default_factory=list)
    clock_offset_seconds: float | None = None
    last_played: dict[str, str] | None = None

    def to_json(self) -> dict[str, Any]:
        current = None
        if self.current is not None:
            current = {"occurrence": occurrence_to_json(self.current.occurrence),
                       "play_id": self.current.play_id, "started": format_time(self.current.started)}
        return {
            "version": VERSION, "active": self.active, "pending": self.pending, "etag": self.etag,
            "done": self.done, "resumes": [occurrence_to_json(o) for o in self.resumes],
            "current": current, "unsent": self.unsent,
            "clock_offset_seconds": self.clock_offset_seconds, "last_played": self.last_played,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AgentState:
        current = None
        if data.get("current"):
            c = data["current"]
            current = Current(occurrence_from_json(c["occurrence"]), str(c["play_id"]),
                              parse_time(c["started"]))
        resumes = []
        for entry in data.get("resumes") or []:
            try:
                resumes.append(occurrence_from_json(entry))
            except (ScheduleError, KeyError):
                log.warning("dropping an unreadable owed replay from the state file")
        return cls(
            active=data.get("active"), pending=data.get("pending"), etag=data.get("etag"),
            done=dict(data.get("done") or {}), resumes=resumes, current=current,
            unsent=list(data.get("unsent") or []),
            clock_offset_seconds=data.get("clock_offset_seconds"),
            last_played=data.get("last_played"),
        )

    def add_unsent(self, record: dict[str, Any]) -> None:
        self.unsent.append(record)
        if len(self.unsent) > MAX_UNSENT:
            dropped = len(self.unsent) - MAX_UNSENT
            del self.unsent[:dropped]
            log.warning("proof of play: %d oldest unsent records dropped (the hub has been "
                        "unreachable too long)", dropped)

    def forget_old(self, scheduled_ids: set[str], now: datetime) -> None:
        """Drop started occurrences of items no schedule names any more, once they are old."""
        keep = {}
        for key, started in self.done.items():
            item_id = key.rsplit("@", 1)[0]
            if item_id in scheduled_ids or now - parse_time(started) < FORGET_AFTER:
                keep[key] = started
        self.done = keep


def load(cache: Path) -> AgentState:
    path = cache / STATE_FILE
    try:
        return AgentState.from_json(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return AgentState()
    except (OSError, ValueError, KeyError, TypeError, ScheduleError) as error:
        aside = path.with_suffix(".bad")
        log.error("state file %s unreadable (%s); starting afresh, the old one kept as %s",
                  path, error, aside)
        with contextlib.suppress(OSError):
            os.replace(path, aside)
        return AgentState()


def write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    try:
        directory = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def dump(state: AgentState) -> bytes:
    return json.dumps(state.to_json(), ensure_ascii=False, separators=(",", ":")).encode()


def save(cache: Path, data: bytes) -> None:
    write_atomically(cache / STATE_FILE, data)
