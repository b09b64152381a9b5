"""The fake Bot API in a process of its own, so a benchmark's client is measured alone.

Telegram is on another machine; a fake sharing the client's event loop would charge its own
work to whichever client is being timed. The child serves on loopback and answers questions
about what it saw over a pipe.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import sys
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the fake lives in tests/

from tests.fakes.bot_api import FakeBotAPI


async def _serve(pipe: Connection, limits: tuple[int, int] | None) -> None:
    async with FakeBotAPI() as api:
        if limits is not None:
            api.enforce_limits(*limits)
        pipe.send(api.base_url)
        while True:
            request = await asyncio.to_thread(pipe.recv)  # the server runs while this waits
            if request == "stop":
                api.release_pollers()
                return
            sends = [c for c in api.calls if c.ok and c.method == "sendMessage"]
            pipe.send({
                "sent": len(sends),
                "chats": len({c.chat_id for c in sends}),
                "times": [c.at for c in sends],
                "refused": api.limits.refused if api.limits else 0,
            })


def _main(pipe: Connection, limits: tuple[int, int] | None) -> None:
    asyncio.run(_serve(pipe, limits))


class FakeServerProcess:
    def __init__(self, limits: tuple[int, int] | None = None) -> None:
        self._parent, child = multiprocessing.Pipe()
        self._process = multiprocessing.get_context("spawn").Process(
            target=_main, args=(child, limits), daemon=True
        )
        self._process.start()
        self.base_url: str = self._parent.recv()

    def stats(self) -> dict[str, Any]:
        self._parent.send("stats")
        return self._parent.recv()

    def stop(self) -> None:
        self._parent.send("stop")
        self._process.join(timeout=10)
