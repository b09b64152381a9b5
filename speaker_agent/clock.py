"""Time for the agent, in one place, so a test can move it.

The agent never calls `asyncio.sleep` or `datetime.now` itself: it reads `now()` and blocks
only in `wait()` (for events, a timeout, or both) and schedules with `call_later()`. The
real clock hands these to asyncio; `FakeClock` keeps them until a test advances it, and can
tell when every agent task has gone quiet, so a test walks through hours of schedule in
milliseconds without a single real sleep deciding the outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Timer(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    def now(self) -> datetime: ...

    async def wait(self, *events: asyncio.Event, at_most: float | None = None) -> bool:
        """Block until one of `events` is set (True) or `at_most` seconds pass (False)."""
        ...

    def call_later(self, seconds: float, callback: Callable[[], None]) -> Timer: ...


async def _first_event(events: Iterable[asyncio.Event], extra: asyncio.Future[None] | None,
                       at_most: float | None) -> None:
    waiters: list[asyncio.Future[object]] = [asyncio.ensure_future(e.wait()) for e in events]
    if extra is not None:
        waiters.append(extra)  # type: ignore[arg-type]
    if not waiters:
        await asyncio.sleep(at_most or 0)
        return
    try:
        await asyncio.wait(waiters, timeout=at_most, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    async def wait(self, *events: asyncio.Event, at_most: float | None = None) -> bool:
        if any(e.is_set() for e in events):
            return True
        if at_most is not None and at_most <= 0:
            return False
        await _first_event(events, None, at_most)
        return any(e.is_set() for e in events)

    def call_later(self, seconds: float, callback: Callable[[], None]) -> Timer:
        return asyncio.get_running_loop().call_later(max(0.0, seconds), callback)


@dataclass
class _Waiter:
    deadline: datetime | None
    wakeup: asyncio.Future[None]
    events: tuple[asyncio.Event, ...]

    def ready(self) -> bool:
        return self.wakeup.done() or any(e.is_set() for e in self.events)


@dataclass(order=True)
class _FakeTimer:
    when: datetime
    order: int
    callback: Callable[[], None] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)

    def cancel(self) -> None:
        self.cancelled = True


class FakeClock:
    """A clock that moves only when a test advances it.

    `watch(task, ...)` names the tasks that run on this clock; `advance()` moves time from one
    deadline to the next and, after each step, waits (in real time, briefly) until every
    watched task is blocked in `wait()` again — so whatever a step set off (an HTTP request to
    a fake hub, a state file written) has finished before time moves on. A watched task that
    died makes `advance()` raise its exception.
    """

    def __init__(self, start: datetime | None = None, *,
                 on_move: Callable[[datetime], None] | None = None) -> None:
        self._now = start or datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
        self._on_move = on_move
        self._waiters: dict[asyncio.Task[object], _Waiter] = {}
        self._timers: list[_FakeTimer] = []
        self._order = itertools.count()
        self._watched: set[asyncio.Task[object]] = set()

    def now(self) -> datetime:
        return self._now

    async def wait(self, *events: asyncio.Event, at_most: float | None = None) -> bool:
        if any(e.is_set() for e in events):
            return True
        if at_most is not None and at_most <= 0:
            return False
        task = asyncio.current_task()
        assert task is not None
        wakeup: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        deadline = None if at_most is None else self._now + timedelta(seconds=at_most)
        self._waiters[task] = _Waiter(deadline, wakeup, events)
        try:
            await _first_event(events, wakeup, None)
        finally:
            self._waiters.pop(task, None)
        return any(e.is_set() for e in events)

    def call_later(self, seconds: float, callback: Callable[[], None]) -> Timer:
        timer = _FakeTimer(self._now + timedelta(seconds=max(0.0, seconds)), next(self._order), callback)
        heapq.heappush(self._timers, timer)
        return timer

    # --- driving it from a test -------------------------------------------------------------

    def watch(self, *tasks: asyncio.Task[object]) -> None:
        self._watched.update(tasks)

    async def advance(self, seconds: float) -> None:
        """Move `seconds` forward, stopping at every deadline on the way."""
        target = self._now + timedelta(seconds=seconds)
        await self.settle()
        while (step := self._next_deadline()) is not None and step <= target:
            self._move(step)
            await self.settle()
        self._move(target)
        await self.settle()

    async def run_until(self, condition: Callable[[], bool], *, within: float,
                        step: float = 1.0) -> float:
        """Advance in `step`s until `condition()` holds; the fake seconds it took. Fails
        (AssertionError) when it does not hold within `within` seconds."""
        await self.settle()
        waited = 0.0
        while not condition():
            if waited >= within:
                raise AssertionError(f"condition not met within {within} s of fake time")
            await self.advance(step)
            waited += step
        return waited

    async def settle(self, real_timeout: float = 10.0) -> None:
        """Wait until every watched task is blocked in `wait()` with nothing to wake it."""
        give_up = time.monotonic() + real_timeout
        quiet_in_a_row = 0
        while quiet_in_a_row < 3:
            await asyncio.sleep(0)
            self._raise_from_dead_tasks()
            if self._quiet():
                quiet_in_a_row += 1
                continue
            quiet_in_a_row = 0
            if time.monotonic() > give_up:
                busy = [t.get_name() for t in self._watched if not t.done() and t not in self._waiters]
                raise AssertionError(f"tasks never went quiet: {busy}")
            await asyncio.sleep(0.001)

    def _quiet(self) -> bool:
        for task in self._watched:
            if task.done():
                continue
            waiter = self._waiters.get(task)
            if waiter is None or waiter.ready():
                return False
        return True

    def _raise_from_dead_tasks(self) -> None:
        for task in list(self._watched):
            if task.done():
                self._watched.discard(task)
                if not task.cancelled() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]

    def _next_deadline(self) -> datetime | None:
        while self._timers and self._timers[0].cancelled:
            heapq.heappop(self._timers)
        candidates = [w.deadline for w in self._waiters.values()
                      if w.deadline is not None and not w.wakeup.done()]
        if self._timers:
            candidates.append(self._timers[0].when)
        return min(candidates, default=None)

    def _move(self, when: datetime) -> None:
        self._now = max(self._now, when)
        if self._on_move is not None:
            self._on_move(self._now)
        while self._timers and self._timers[0].when <= self._now:
            timer = heapq.heappop(self._timers)
            if not timer.cancelled:
                timer.callback()
        for waiter in self._waiters.values():
            if waiter.deadline is not None and waiter.deadline <= self._now:
                with contextlib.suppress(asyncio.InvalidStateError):
                    waiter.wakeup.set_result(None)
