"""The fake Bot API in a process of its own, so a benchmark's client is measured alone.

Telegram is on another machine; a fake sharing the client's event loop would charge its own
work to whichever client is being timed. The child serves on loopback and answers questions
about what it saw over a pipe. A benchmark that plays the users from the fake's side (and
times the bot from there, on the fake's clock) passes a `driver`: a top-level coroutine
function run in the child for each `call`.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import sys
from collections.abc import Awaitable, Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the fake lives in tests/

from tests.fakes.bot_api import FakeBotAPI

Driver = Callable[[Any, Any], Awaitable[Any]]  # (the child's fake, the call's payload) -> answer


async def _serve(
    pipe: Connection, limits: tuple[int, int] | None, api_class: type[FakeBotAPI], driver: Driver | None
) -> None:
    async with api_class() as api:
        if limits is not None:
            api.enforce_limits(*limits)
        pipe.send(api.base_url)
        while True:
            request = await asyncio.to_thread(pipe.recv)  # the server runs while this waits
            if request == "stop":
                api.release_pollers()
                return
            if request == "release":
                api.release_pollers()
                pipe.send(None)
                continue
            if isinstance(request, tuple) and request[0] == "call" and driver is not None:
                pipe.send(await driver(api, request[1]))
                continue
            sends = [c for c in api.calls if c.ok and c.method == "sendMessage"]
            pipe.send({
                "sent": len(sends),
                "chats": len({c.chat_id for c in sends}),
                "times": [c.at for c in sends],
                "refused": api.limits.refused if api.limits else 0,
            })


def _main(
    pipe: Connection, limits: tuple[int, int] | None, api_class: type[FakeBotAPI], driver: Driver | None
) -> None:
    asyncio.run(_serve(pipe, limits, api_class, driver))


class FakeServerProcess:
    def __init__(
        self,
        limits: tuple[int, int] | None = None,
        *,
        api_class: type[FakeBotAPI] = FakeBotAPI,
        driver: Driver | None = None,
    ) -> None:
        self._parent, child = multiprocessing.Pipe()
        self._process = multiprocessing.get_context("spawn").Process(
            target=_main, args=(child, limits, api_class, driver), daemon=True
        )
        self._process.start()
        self.base_url: str = self._parent.recv()

    def stats(self) -> dict[str, Any]:
        self._parent.send("stats")
        return self._parent.recv()

    def call(self, payload: Any) -> Any:
        """Run the driver on `payload` in the child; blocks, so await it via asyncio.to_thread."""
        self._parent.send(("call", payload))
        return self._parent.recv()

    def release_pollers(self) -> None:
        """Answer the bot's long polls at once, so it can stop without waiting out the timeout."""
        self._parent.send("release")
        self._parent.recv()

    def stop(self) -> None:
        self._parent.send("stop")
        self._process.join(timeout=10)
