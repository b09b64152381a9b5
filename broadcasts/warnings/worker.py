"""The one process where CAP documents are parsed and their shapes worked out.

Off the event loop, as DESIGN.md asks of blocking work, and off its process too. In a thread
the work still held the GIL the loop needs between its steps: the long loops over a
polygon's points let go of it now and then, but lxml, str.split and GEOS held it for their
whole length, and the loop's longest stall grew with the size of the polygons
(bench/cap_ingest.py). A separate process shares no GIL, so the stall is the time to send
the document and get the result back. One worker process, started on first use from a
forkserver (forking a process that runs threads and an event loop is unsafe): the work is
short and bursty, and one process keeps CAP work from taking both cores from the bot and the
web server.

What goes in and out is plain data — bytes, dicts, lists, the parsed `cap.Alert` — and the
exceptions the functions raise are picklable (`cap.CapError` and its kin). The worker logs
to stderr at the hub's level, in the hub's format; it holds no secret to scrub.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import multiprocessing
import sys
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import ParamSpec, TypeVar

from hub.logs import RedactingFormatter

P = ParamSpec("P")
T = TypeVar("T")

_executor: Executor | None = None


def _log_like_the_hub(level: int) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter([]))
    logging.getLogger().handlers[:] = [handler]
    logging.getLogger().setLevel(level)


def _pool() -> Executor:
    global _executor
    if _executor is None:
        _executor = ProcessPoolExecutor(
            max_workers=1, mp_context=multiprocessing.get_context("forkserver"),
            initializer=_log_like_the_hub, initargs=(logging.getLogger().getEffectiveLevel(),),
        )
    return _executor


async def run(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """`fn(*args, **kwargs)` in the CAP process (`fn` a module-level function). A worker that
    died (killed, out of memory) is replaced once and the call made again."""
    global _executor
    call = functools.partial(fn, *args, **kwargs)
    loop = asyncio.get_running_loop()
    try:
        return await loop.run_in_executor(_pool(), call)
    except BrokenProcessPool:
        _executor = None
        return await loop.run_in_executor(_pool(), call)
