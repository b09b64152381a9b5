"""The one thread where CAP documents are parsed and their shapes worked out.

Off the event loop, as DESIGN.md asks of blocking work; but the loop still needs the GIL
between its steps, and takes it back only when the thread lets go of it. So the work runs
one job at a time (against one busy thread the loop waits one switch interval, 5 ms, at
most; against four it waits for whichever the OS picks, tens of milliseconds with large
alerts), and the long loops over a document's points call pause(), which lets go of the GIL
for a moment every millisecond, so the loop hardly waits at all. Running several jobs at
once would gain nothing anyway: the GIL lets one of them run at a time.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

PAUSE_EVERY = 0.001  # seconds of running between pauses
PAUSE_FOR = 0.0001  # long enough for a waiting thread to take the GIL

_EXECUTOR = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gridcast-cap")
_last = threading.local()


async def run(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """`fn(*args, **kwargs)` in the CAP thread."""
    call = functools.partial(fn, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(_EXECUTOR, call)


def pause() -> None:
    """Let go of the GIL for a moment if this thread has run a millisecond since it last did.
    Cheap enough to call every few hundred points, in any thread."""
    if time.perf_counter() - getattr(_last, "pause", 0.0) > PAUSE_EVERY:
        time.sleep(PAUSE_FOR)
        _last.pause = time.perf_counter()
