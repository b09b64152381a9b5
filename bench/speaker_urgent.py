"""Benchmark: a red warning reaching 200 loudspeaker agents.

200 reference agents (`speaker_agent`, all in this process, each with a file sink that plays
nothing and its own cache dir) poll a real hub web app on 127.0.0.1 (SQLite) at the hub's
poll interval, their polls spread evenly over it, as independent speakers' would be. A grid
worker sends a red warning for their grid; the hub renders its clip right after the send
commits; each agent fetches the new schedule at its next poll, downloads and checks the clip
and starts it. Prints the time from Send to each agent's player start (p50, p99, max), the
time from Send until the clip was ready (the render, measured in the same run) and the
verdict: p99 <= poll interval + render time. For the record it also prints when the item
first showed in a schedule (a probe polling every 50 ms): the hub's web process learns of
changes at most a second late (`broadcasts.speakers.directory`), which the agents inherit.

Run: .venv/bin/python bench/speaker_urgent.py [--agents N] [--poll-seconds S]
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import contextlib

from broadcasts.speakers import registry, urgent
from broadcasts.warnings import lifecycle as warnings
from cli.demo import load_demo
from hub import migrate, people
from hub.core import Hub
from hub.db import Database
from hub.settings import load_settings
from speaker_agent.agent import Agent, Config
from speaker_agent.clock import SystemClock
from speaker_agent.plan import Occurrence
from speaker_agent.players import Playback, SinkPlayer
from web.app import build_web_app

WORKER = 5001  # the demo's worker of grid T1
GRID = "T1"
WARNING = "红 液化气站泄漏，东门一带请立即撤离，不要使用明火"


class Stopwatch:
    """A file sink that also notes, in wall-clock seconds, when the first urgent clip started;
    `everyone` is set once all `of` stopwatches have seen one."""

    started = 0
    everyone = asyncio.Event()
    of = 0

    def __init__(self, clock: SystemClock) -> None:
        self.sink = SinkPlayer(clock)
        self.urgent_started: float | None = None

    async def start(self, path: Path, occurrence: Occurrence, volume: int) -> Playback:
        if occurrence.item.urgent and self.urgent_started is None:
            self.urgent_started = time.time()
            Stopwatch.started += 1
            if Stopwatch.started >= Stopwatch.of:
                Stopwatch.everyone.set()
        return await self.sink.start(path, occurrence, volume)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _hub(folder: Path, url: str, poll_seconds: int | None) -> Hub:
    db_url = f"sqlite+aiosqlite:///{folder / 'gridcast.db'}"
    db = Database(db_url)
    await migrate.upgrade(db)
    await db.dispose()
    extra = {"speaker_poll_seconds": poll_seconds} if poll_seconds else {}
    settings = load_settings(_env_file=None, data_dir=folder, database_url=db_url, public_url=url,
                             **extra)
    return await Hub.open(settings, upgrade=False)


async def _register(hub: Hub, count: int) -> list[tuple[str, str]]:
    speakers = []
    async with hub.db.session() as session:
        for n in range(count + 1):  # the last one is the probe's
            code = f"BENCH{n:04d}"
            _, token = await registry.add(session, "bench", registry.SpeakerSpec(code, code, GRID),
                                          now=hub.now())
            speakers.append((code, token))
    return speakers


async def _visible(session: aiohttp.ClientSession, url: str, code: str, token: str) -> float:
    """When the warning first shows in `code`'s schedule, polling every 50 ms with the ETag
    as an agent does (so a 304 the hub still answers from what it knew counts as not yet)."""
    headers = {"Authorization": f"Bearer {token}"}
    while True:
        async with session.get(f"{url}/api/speakers/{code}/schedule", headers=headers) as response:
            if response.status == 200:
                headers["If-None-Match"] = response.headers["ETag"]
                if any(item["kind"] == "urgent" for item in (await response.json())["items"]):
                    return time.time()
        await asyncio.sleep(0.05)


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(count: int, poll_override: int | None) -> bool:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "hub").mkdir()
        hub = await _hub(root / "hub", url, poll_override)
        poll = hub.settings.speaker_poll_seconds
        await load_demo(hub)
        *speakers, probe = await _register(hub, count)
        runner = web.AppRunner(build_web_app(hub), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        clock = SystemClock()
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        agents: list[tuple[Agent, Stopwatch]] = []
        try:
            print(f"{count} agents polling every {poll} s, their polls spread over the interval...")
            Stopwatch.of = count
            for code, token in speakers:
                watch = Stopwatch(clock)
                agent = Agent(Config(url, code, token, root / "agents" / code), clock=clock,
                              player=watch, session=session)
                await agent.start()
                agents.append((agent, watch))
                await asyncio.sleep(poll / count)
            await asyncio.sleep(poll)  # every agent has polled once more, with its ETag
            if not all(a.state.etag for a, _ in agents):
                print("some agents never got their schedule; is the hub up?")

            seen = asyncio.ensure_future(_visible(session, url, *probe))
            sent_at = time.time()
            async with hub.db.session() as s:
                worker = await people.get(s, WORKER)
                draft = await warnings.draft(s, hub, worker, warnings.parse_command(WARNING))
                draft_id = draft.id
            async with hub.db.session() as s:
                worker = await people.get(s, WORKER)
                await warnings.send(s, hub, worker, draft_id)
            committed_at = time.time()
            await urgent.settle(hub)
            ready_at = time.time()
            render = ready_at - sent_at
            visible = await asyncio.wait_for(seen, 60) - sent_at
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(Stopwatch.everyone.wait(), poll + 60)
        finally:
            await asyncio.gather(*(a.stop() for a, _ in agents), return_exceptions=True)
            await session.close()
            await runner.cleanup()
            await hub.close()

    latencies = [w.urgent_started - sent_at for _, w in agents if w.urgent_started]
    print(f"red warning sent: committed {committed_at - sent_at:.2f} s after Send, clip ready "
          f"{render:.2f} s after Send (render time), first in a schedule {visible:.2f} s after Send")
    if len(latencies) < count:
        print(f"only {len(latencies)} of {count} agents started the warning")
    if not latencies:
        print("target MISSED")
        return False
    p50, p99 = _quantile(latencies, 0.50), _quantile(latencies, 0.99)
    target = poll + render
    print(f"Send -> player start over {len(latencies)} agents: p50 {p50:.2f} s, p99 {p99:.2f} s, "
          f"max {max(latencies):.2f} s, mean {statistics.fmean(latencies):.2f} s")
    met = p99 <= target and len(latencies) == count
    print(f"target: p99 <= poll interval + render time = {poll} + {render:.2f} = {target:.2f} s; "
          f"ratio p99/target {p99 / target:.2f}: {'met' if met else 'MISSED'}")
    print(f"the hub's propagation (clip ready -> first in a schedule): {visible - render:.2f} s; "
          f"the agents' own share, p99 - (poll interval + first in a schedule): "
          f"{p99 - poll - visible:+.2f} s")
    return met


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--poll-seconds", type=int, default=None,
                        help="the hub's GRIDCAST_SPEAKER_POLL_SECONDS (default: its default)")
    args = parser.parse_args()
    asyncio.run(run(args.agents, args.poll_seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
