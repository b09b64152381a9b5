"""Playing a clip: through a player program, or into a file sink that only writes down what
would have played and when (tests, and trying the agent out without an amplifier).

One play is a `Playback`: its `finished` event is set when the clip ends on its own (`error`
says why when it failed), and `stop()` cuts it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shlex
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from speaker_agent.clock import Clock, Timer
from speaker_agent.hubapi import file_sha256
from speaker_agent.plan import Occurrence, format_time

log = logging.getLogger(__name__)

# The first of these found on PATH plays by default; `{volume}` is the schedule's 0..100.
DEFAULT_PLAYERS = (
    ("mpv", "--no-video", "--audio-stream-silence", "--volume={volume}"),
    ("ffplay", "-nodisp", "-autoexit", "-volume", "{volume}"),
    ("aplay",),
)
# A player still running this long past the clip's length is hung: it is killed and the play
# counts as failed. Generous, so a slow start never cuts a long warning short.
HANG_FACTOR = 2.0
HANG_MARGIN_SECONDS = 60.0
UNKNOWN_LENGTH_LIMIT = 3600.0  # a clip the schedule gives no length for
STOP_GRACE_SECONDS = 3.0


class PlayerError(Exception):
    """The player could not start."""


class Playback(Protocol):
    finished: asyncio.Event
    error: str | None

    async def stop(self) -> None: ...


class Player(Protocol):
    async def start(self, path: Path, occurrence: Occurrence, volume: int) -> Playback: ...


def default_command() -> list[str]:
    for candidate in DEFAULT_PLAYERS:
        if shutil.which(candidate[0]):
            return list(candidate)
    raise PlayerError("no player found: install mpv, ffplay or aplay, or give --player CMD")


def parse_command(text: str) -> list[str]:
    command = shlex.split(text)
    if not command:
        raise PlayerError("--player is empty")
    if shutil.which(command[0]) is None:
        raise PlayerError(f"player {command[0]!r} not found")
    return command


@dataclass
class ProcessPlayback:
    process: asyncio.subprocess.Process
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    error: str | None = None
    stopping: bool = False
    hang_timer: Timer | None = None

    async def watch(self) -> None:
        assert self.process.stderr is not None
        stderr = await self.process.stderr.read()
        code = await self.process.wait()
        if self.hang_timer is not None:
            self.hang_timer.cancel()
        if code != 0 and not self.stopping and self.error is None:
            tail = stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
            self.error = f"player exited with {code}: {tail[0][:200]}"
        self.finished.set()

    def hung(self) -> None:
        if not self.finished.is_set():
            self.error = "player hung; killed"
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()

    async def stop(self) -> None:
        self.stopping = True
        if self.finished.is_set():
            return
        with contextlib.suppress(ProcessLookupError):
            self.process.terminate()
        try:
            await asyncio.wait_for(self.finished.wait(), STOP_GRACE_SECONDS)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            await self.finished.wait()


class ProcessPlayer:
    """Runs the player command with the clip's path appended as its last argument."""

    def __init__(self, command: list[str], clock: Clock) -> None:
        self.command = command
        self.clock = clock
        self._watchers: set[asyncio.Task[None]] = set()

    async def start(self, path: Path, occurrence: Occurrence, volume: int) -> Playback:
        argv = [part.replace("{volume}", str(volume)) for part in self.command] + [str(path)]
        try:
            process = await asyncio.create_subprocess_exec(
                *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE)
        except OSError as error:
            raise PlayerError(f"{argv[0]}: {error.strerror or error}") from None
        playback = ProcessPlayback(process)
        duration = occurrence.item.clip.duration_seconds
        limit = duration * HANG_FACTOR + HANG_MARGIN_SECONDS if duration > 0 else UNKNOWN_LENGTH_LIMIT
        playback.hang_timer = self.clock.call_later(limit, playback.hung)
        watcher = asyncio.create_task(playback.watch(), name=f"player {occurrence.item.id}")
        self._watchers.add(watcher)
        watcher.add_done_callback(self._watchers.discard)
        return playback


@dataclass
class SinkPlayback:
    sink: SinkPlayer
    occurrence: Occurrence
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    error: str | None = None
    timer: Timer | None = None

    def end(self) -> None:
        self.sink.record("end", self.occurrence)
        self.finished.set()

    async def stop(self) -> None:
        if self.finished.is_set():
            return
        if self.timer is not None:
            self.timer.cancel()
        self.sink.record("stop", self.occurrence)
        self.finished.set()


class SinkPlayer:
    """Plays nothing: each start, end and stop is written to `path` (one JSON object a line)
    and kept in `events`, with the clock's time. A clip "lasts" its `duration_seconds`."""

    def __init__(self, clock: Clock, path: Path | None = None) -> None:
        self.clock = clock
        self.path = path
        self.events: list[dict[str, Any]] = []
        self.failing: set[str] = set()  # item ids whose plays fail (tests)

    def record(self, event: str, occurrence: Occurrence, **extra: Any) -> None:
        entry = {"event": event, "at": format_time(self.clock.now()), "item": occurrence.item.id,
                 "scheduled": format_time(occurrence.scheduled), "resumed": occurrence.resumed,
                 "clip": occurrence.item.clip.sha256, "title": occurrence.item.title, **extra}
        self.events.append(entry)
        if self.path is not None:
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(entry, ensure_ascii=False) + "\n")

    async def start(self, path: Path, occurrence: Occurrence, volume: int) -> Playback:
        if occurrence.item.id in self.failing:
            raise PlayerError("sink told to fail")
        # What the file held when it "played": lets a test prove a bad file never sounded.
        digest = await asyncio.to_thread(file_sha256, path)
        self.record("start", occurrence, file=path.name, file_sha256=digest, volume=volume)
        playback = SinkPlayback(self, occurrence)
        playback.timer = self.clock.call_later(occurrence.item.clip.duration_seconds, playback.end)
        return playback
