"""What a test asks of the fake about the bot: what it sent, and waiting until it has."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from tests.fakes.messages import SEND_METHODS
from tests.fakes.state import BotState, Call


class Observing(BotState):
    def sent(self, chat_id: int | None = None, method: str | None = None) -> list[Call]:
        return [
            c for c in self.calls
            if c.ok and c.method in SEND_METHODS
            and (chat_id is None or c.chat_id == chat_id)
            and (method is None or c.method == method)
        ]

    def texts(self, chat_id: int) -> list[str]:
        return [str(c.params.get("text") or c.params.get("caption") or "") for c in self.sent(chat_id)]

    async def wait_for(
        self,
        method: str | None = None,
        predicate: Callable[[Call], bool] | None = None,
        *,
        count: int = 1,
        timeout: float = 5.0,
        since: int = 0,
    ) -> list[Call]:
        """Wait until `count` successful calls after index `since` match; fail loudly otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            found = [
                c for c in self.calls[since:]
                if c.ok and (method is None or c.method == method) and (predicate is None or predicate(c))
            ]
            if len(found) >= count:
                return found
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                recent = [(c.method, c.params.get("chat_id"), c.params.get("text")) for c in self.calls[-8:]]
                raise AssertionError(f"waited for {count}× {method or 'any call'}, saw {len(found)}; recent: {recent}")
            self._new_call.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_call.wait(), remaining)

    async def reply_to(self, chat_id: int, *, since: int, timeout: float = 5.0) -> Call:
        """The first message the bot sends to `chat_id` after call index `since`."""
        calls = await self.wait_for(
            predicate=lambda c: c.chat_id == chat_id and c.method in SEND_METHODS,
            since=since, timeout=timeout,
        )
        return calls[0]
