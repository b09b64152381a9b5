"""Telegram's flood limits: about 30 messages a second per bot, 20 a minute per group.

Benchmarks measure the delivery outbox's sustained rate against these, so the windows slide
exactly (a deque of accepted send times per scope, oldest first) and `retry_after` is the
whole number of seconds until the oldest send leaves the window — what a well-behaved sender
must wait, not a guess. Sends refused with 429 do not enter the windows: Telegram did not
deliver them.
"""

from __future__ import annotations

import math
from collections import Counter, deque


class RateLimits:
    def __init__(self, global_per_second: int | None, per_group_per_minute: int | None) -> None:
        self.global_per_second = global_per_second
        self.per_group_per_minute = per_group_per_minute
        self.violations: Counter[str] = Counter()
        self.refused = 0
        self._global: deque[float] = deque()
        self._groups: dict[int, deque[float]] = {}

    def check(self, chat_id: int, is_group: bool, now: float) -> int | None:
        """Seconds to wait if a send to `chat_id` now breaks a limit, else None.

        A refusal is counted once in `refused` and once per broken limit in `violations`;
        an accepted send is not entered into the windows until `record`.
        """
        waits = []
        if self.global_per_second is not None:
            wait = _wait(self._global, self.global_per_second, 1.0, now)
            if wait is not None:
                self.violations["global"] += 1
                waits.append(wait)
        if is_group and self.per_group_per_minute is not None:
            window = self._groups.get(chat_id)
            wait = _wait(window, self.per_group_per_minute, 60.0, now) if window else None
            if wait is not None:
                self.violations["group"] += 1
                waits.append(wait)
        if not waits:
            return None
        self.refused += 1
        return max(waits)

    def record(self, chat_id: int, is_group: bool, now: float) -> None:
        if self.global_per_second is not None:
            self._global.append(now)
        if is_group and self.per_group_per_minute is not None:
            self._groups.setdefault(chat_id, deque()).append(now)


def _wait(window: deque[float], limit: int, seconds: float, now: float) -> int | None:
    while window and window[0] <= now - seconds:
        window.popleft()
    if len(window) < limit:
        return None
    # The send may go once the oldest send in the window has aged out of it.
    return max(1, math.ceil(window[0] + seconds - now))
