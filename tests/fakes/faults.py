"""Faults the fake Bot API injects, as Telegram and networks produce them.

A test queues faults for a method (`inject`), or sets a seeded random rate (`set_faults`);
`enforce_limits` answers sends beyond Telegram's flood limits with 429 and the real wait.
The server asks `_pick_fault` once per call.
"""

from __future__ import annotations

import random
from collections import defaultdict, deque
from collections.abc import Iterable
from typing import Any

from tests.fakes.state import BotState
from tests.fakes.telegram_limits import RateLimits


class Faults(BotState):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fault_counts: dict[str, int] = defaultdict(int)
        self.limits: RateLimits | None = None
        self._queued_faults: dict[str, deque[str]] = defaultdict(deque)
        self._fault_rate = 0.0
        self._fault_kinds: tuple[str, ...] = ()
        self._fault_methods: set[str] | None = None
        self._retry_after = 1
        self._slow_seconds = 0.5
        self._random = random.Random(0)

    def inject(self, method: str, kind: str, times: int = 1) -> None:
        """The next `times` calls of `method` fail with `kind`: 429, 5xx, slow or drop."""
        self._queued_faults[method].extend([kind] * times)

    def set_faults(
        self,
        rate: float,
        kinds: Iterable[str] = ("429", "5xx", "slow", "drop"),
        *,
        methods: Iterable[str] | None = None,
        retry_after: int = 1,
        slow_seconds: float = 0.5,
        seed: int = 0,
    ) -> None:
        self._fault_rate = rate
        self._fault_kinds = tuple(kinds)
        self._fault_methods = set(methods) if methods is not None else None
        self._retry_after = retry_after
        self._slow_seconds = slow_seconds
        self._random = random.Random(seed)

    def enforce_limits(self, per_second: int | None = 30, per_group_minute: int | None = 20) -> RateLimits:
        """Answer sends beyond Telegram's flood limits with 429 and the wait, as Telegram does."""
        self.limits = RateLimits(per_second, per_group_minute)
        return self.limits

    def clear_faults(self) -> None:
        self._fault_rate = 0.0
        self._queued_faults.clear()

    def _pick_fault(self, method: str) -> str | None:
        queued = self._queued_faults.get(method)
        if queued:
            kind = queued.popleft()
        elif self._fault_rate and (
            method in self._fault_methods if self._fault_methods is not None else method != "getUpdates"
        ) and self._random.random() < self._fault_rate:
            kind = self._random.choice(self._fault_kinds)
        else:
            return None
        self.fault_counts[kind] += 1
        return kind
