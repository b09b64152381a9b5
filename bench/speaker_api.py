"""Benchmark: 10,000 loudspeakers polling their schedules with ETags, against aiohttp's hello world.

The hub runs as it does in production — `gridcast web`, one process, on SQLite in a temp dir —
with 10,000 speakers registered through the registry in 100 village grids and a filler slot on
the whole district (its clip rendered). Beside it, a bare aiohttp app answering "hello" from one
process of its own. One separate load process plays both, with the same keep-alive HTTP/1.1
connections on 127.0.0.1 and the same request headers: each connection sends the next poll as
soon as the previous answer is in — for the hub, the next speaker's, with its bearer token and
the ETag it last got. It first fetches every speaker's schedule once (200s, not measured), then
alternates short rounds, hello world then hub, so whatever else the machine is doing weighs on
both alike. While it measures, this process makes a change a second — an announcement to one
village, as staff would — so those 100 speakers get a 200 with their new schedule on their next
poll and everyone else a 304.

The load process speaks HTTP/1.1 over asyncio streams itself (no client library), so it costs
less per request than either server and measures the servers, not itself.

Prints, for both: requests/s, p50/p99 latency, the server's CPU per request (read from /proc
around its rounds) and the status mix; the ratio of the hub's rate to the hello world's (target
>= 0.5, with its verdict); and how many speakers one hub process serves at the default poll
interval (its rate times GRIDCAST_SPEAKER_POLL_SECONDS).
Run: .venv/bin/python bench/speaker_api.py [--speakers 10000] [--seconds 10] [--connections 32]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import socket
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HOST = "127.0.0.1"
SPEAKERS = 10_000
GRIDS = 100
SECONDS = 10.0
CONNECTIONS = 32
ROUNDS = 5
CHANGE_EVERY = 1.0
TARGET_RATIO = 0.5
READY_WITHIN = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


# --- the load process ------------------------------------------------------------------------


@dataclass
class Tally:
    latencies: list[float]
    statuses: dict[str, int]
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.latencies)

        def pct(p: float) -> float:
            return 1000 * ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]

        return {"requests": len(ordered), "seconds": self.seconds, "rate": len(ordered) / self.seconds,
                "p50_ms": pct(50), "p99_ms": pct(99), "statuses": self.statuses}


async def _answer(reader: asyncio.StreamReader) -> tuple[int, str | None]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length, etag = 0, None
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.lower()
        if name == "content-length":
            length = int(value)
        elif name == "etag":
            etag = value.strip()
    if length:
        await reader.readexactly(length)
    return status, etag


class Target:
    """One server as the load process plays it: the hub's speakers in turn, or hello's "/"."""

    def __init__(self, port: int, speakers: list[tuple[str, str]] | None) -> None:
        self.port = port
        self.speakers = speakers
        self.etags: dict[str, str] = {}
        self.turn = itertools.count()
        self.tally = Tally([], {})

    def request(self) -> tuple[str | None, bytes]:
        """The next poll: the same headers for both servers, the hub's with a real token and ETag."""
        if self.speakers is None:
            code, token, path = None, "x" * 43, "/"
        else:
            code, token = self.speakers[next(self.turn) % len(self.speakers)]
            path = f"/api/speakers/{code}/schedule"
        tag = self.etags.get(code, '"none"') if code else '"none"'
        return code, (f"GET {path} HTTP/1.1\r\nHost: {HOST}:{self.port}\r\nAuthorization: Bearer {token}\r\n"
                      f"If-None-Match: {tag}\r\n\r\n").encode()

    async def connection(self, requests: int | None, until: float | None, measured: bool) -> None:
        reader, writer = await asyncio.open_connection(HOST, self.port)
        try:
            while (requests is None or requests > 0) and (until is None or time.perf_counter() < until):
                code, data = self.request()
                started = time.perf_counter()
                writer.write(data)
                status, etag = await _answer(reader)
                if measured:
                    self.tally.latencies.append(time.perf_counter() - started)
                    key = str(status)
                    self.tally.statuses[key] = self.tally.statuses.get(key, 0) + 1
                if code is not None and etag is not None:
                    self.etags[code] = etag
                if requests is not None:
                    requests -= 1
        finally:
            writer.close()

    async def run(self, connections: int, *, seconds: float | None = None, requests: int | None = None,
                  measured: bool = True) -> None:
        began = time.perf_counter()
        until = began + seconds if seconds is not None else None
        share = -(-requests // connections) if requests is not None else None
        await asyncio.gather(*(self.connection(share, until, measured) for _ in range(connections)))
        if measured:
            self.tally.seconds += time.perf_counter() - began


async def load(hello_port: int, hub_port: int, speakers: list[tuple[str, str]], seconds: float,
               connections: int, rounds: int) -> dict[str, Any]:
    """One process, one way of connecting, both servers: prime the hub (every speaker's first
    schedule, unmeasured), then alternate short rounds, hello then hub, so what else the machine
    is doing weighs on both alike. Round boundaries go to stdout for the driver to time the
    servers' CPU."""
    hello_world, hub = Target(hello_port, None), Target(hub_port, speakers)
    await hub.run(connections, requests=len(speakers), measured=False)
    await hello_world.run(connections, seconds=1.0, measured=False)  # warm, like the hub's
    print("primed", flush=True)
    for _ in range(rounds):
        for name, target in (("hello", hello_world), ("hub", hub)):
            print(f"start {name}", flush=True)
            await target.run(connections, seconds=seconds / rounds)
            print(f"end {name}", flush=True)
    return {"hello": hello_world.tally.summary(), "hub": hub.tally.summary()}


# --- the hello world -------------------------------------------------------------------------


def hello(port: int) -> None:
    from aiohttp import web

    async def answer(request: web.Request) -> web.Response:
        return web.Response(text="hello")

    app = web.Application()
    app.router.add_get("/", answer)
    web.run_app(app, host=HOST, port=port, access_log=None, print=None)


# --- the hub ---------------------------------------------------------------------------------


async def prepare(folder: Path, speakers: int) -> list[tuple[str, str]]:
    """The demo district, `GRIDS` villages, the speakers and a slot; their tokens."""
    from audio import library
    from broadcasts.speakers import registry, slots
    from cli.demo import load_demo
    from hub import grids
    from hub.core import Hub
    from hub.settings import load_settings

    hub = await Hub.open(load_settings(_env_file=None, data_dir=folder))
    try:
        await load_demo(hub)
        async with hub.db.session() as s:
            await grids.import_specs(s, [grids.GridSpec(f"V{v:03d}", f"第{v}村", "S1") for v in range(GRIDS)],
                                     actor="bench", now=hub.now())
        tokens: list[tuple[str, str]] = []
        started = time.perf_counter()
        for first in range(0, speakers, 1000):
            async with hub.db.session() as s:
                for n in range(first, min(first + 1000, speakers)):
                    spec = registry.SpeakerSpec(f"B{n:05d}", f"喇叭{n}", f"V{n % GRIDS:03d}")
                    _, token = await registry.add(s, "bench", spec, now=hub.now())
                    tokens.append((spec.code, token))
        print(f"registered {speakers} speakers through the registry in {time.perf_counter() - started:.1f} s")
        catalogue = await library.catalogue(hub)
        async with hub.db.session() as s:
            await slots.add(s, "bench", slots.SlotSpec("D1", "daily-safety-tip", [450, 720, 1110]), catalogue,
                            now=hub.now())
        await slots.render_ahead(hub)
    finally:
        await hub.close()
    return tokens


async def changes(folder: Path, active: asyncio.Event, stop: asyncio.Event) -> int:
    """An announcement to the next village every CHANGE_EVERY seconds of the hub's rounds."""
    from sqlalchemy import select

    from broadcasts.speakers import announcements, clips
    from broadcasts.speakers.models import Clip
    from hub.core import Hub
    from hub.settings import load_settings

    hub = await Hub.open(load_settings(_env_file=None, data_dir=folder), upgrade=False)
    made = 0
    try:
        async with hub.db.session() as s:
            clip = await s.scalar(select(Clip))
        assert clip is not None
        published = clips.Published(clip.sha256, clip.bytes, clip.ogg_bytes, clip.duration_s)
        for village in itertools.cycle(range(GRIDS)):
            await active.wait()
            try:
                await asyncio.wait_for(stop.wait(), CHANGE_EVERY)
                return made
            except TimeoutError:
                pass
            if not active.is_set():
                continue
            async with hub.db.session() as s:
                await announcements.announce(
                    s, hub, "bench", announcements.Target(grid=f"V{village:03d}"), published,
                    title=f"通知 {made}", text=None, at=hub.now() + timedelta(minutes=10))
            made += 1
    finally:
        await hub.close()
    return made


async def _ready(port: int, path: str, process: asyncio.subprocess.Process) -> None:
    deadline = time.monotonic() + READY_WITHIN
    while time.monotonic() < deadline:
        if process.returncode is not None:
            raise SystemExit(f"the server on port {port} exited with {process.returncode}")
        try:
            reader, writer = await asyncio.open_connection(HOST, port)
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode())
            await reader.read()
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.2)
    raise SystemExit(f"the server on port {port} did not answer within {READY_WITHIN:.0f} s")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(hello_port: int, hub_port: int, servers: dict[str, int], speakers_file: Path,
                  folder: Path, args: argparse.Namespace) -> tuple[dict[str, Any], int, dict[str, float]]:
    """The load process against both servers, with changes while it measures; also each
    server's CPU seconds during its rounds."""
    command = [sys.executable, __file__, "--load", f"{hello_port},{hub_port}", "--speakers-file",
               str(speakers_file), "--seconds", str(args.seconds), "--connections", str(args.connections),
               "--rounds", str(args.rounds)]
    process = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.PIPE)
    assert process.stdout is not None
    if (await process.stdout.readline()).strip() != b"primed":
        raise SystemExit("the load process failed while priming")
    stop, active = asyncio.Event(), asyncio.Event()
    changer = asyncio.create_task(changes(folder, active, stop))
    cpu = {"hello": 0.0, "hub": 0.0}
    started: dict[str, float] = {}
    result: dict[str, Any] | None = None
    while line := (await process.stdout.readline()).decode().strip():
        event, _, name = line.partition(" ")
        if event == "start":
            started[name] = _cpu_seconds(servers[name])
            if name == "hub":
                active.set()
        elif event == "end":
            cpu[name] += _cpu_seconds(servers[name]) - started.pop(name)
            active.clear()
        else:
            result = json.loads(line)
            break
    if result is None:
        raise SystemExit("the load process failed")
    await process.wait()
    stop.set()
    active.set()
    return result, await changer, cpu


def _show(name: str, run: dict[str, Any], cpu_us: float) -> None:
    statuses = ", ".join(f"{k}: {v}" for k, v in sorted(run["statuses"].items()))
    print(f"{name:<22} {run['rate']:>7.0f} req/s   p50 {run['p50_ms']:6.2f} ms   p99 {run['p99_ms']:6.2f} ms"
          f"   {cpu_us:5.0f} µs server CPU/request   ({run['requests']} requests; {statuses})")


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="gridcast-bench-") as tmp:
        folder = Path(tmp)
        tokens = await prepare(folder, args.speakers)
        speakers_file = folder / "speakers.json"
        speakers_file.write_text(json.dumps(tokens))
        hub_port, hello_port = free_port(), free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDCAST_")}
        env |= {"GRIDCAST_DATA_DIR": str(folder), "GRIDCAST_HTTP_HOST": HOST,
                "GRIDCAST_HTTP_PORT": str(hub_port), "GRIDCAST_LOG_LEVEL": "WARNING"}
        hub = await asyncio.create_subprocess_exec(sys.executable, "-m", "cli", "web", cwd=ROOT, env=env)
        hello_world = await asyncio.create_subprocess_exec(sys.executable, __file__, "--hello", str(hello_port),
                                                           cwd=ROOT)
        try:
            await _ready(hub_port, "/healthz", hub)
            await _ready(hello_port, "/", hello_world)
            result, made, cpu = await measure(hello_port, hub_port, {"hub": hub.pid, "hello": hello_world.pid},
                                              speakers_file, folder, args)
        finally:
            for server in (hub, hello_world):
                server.terminate()
            for server in (hub, hello_world):
                await asyncio.wait_for(server.wait(), 10)
    baseline, hub_run = result["hello"], result["hub"]
    ratio = hub_run["rate"] / baseline["rate"]
    share = hub_run["statuses"].get("200", 0) / max(hub_run["requests"], 1)
    per_request = {name: 1e6 * cpu[name] / max(result[name]["requests"], 1) for name in cpu}
    poll = 15
    print(f"\n{args.speakers} speakers, one load process, {args.connections} keep-alive connections, "
          f"{args.rounds} alternating rounds, {args.seconds:.0f} s per server; {made} changes during the "
          f"hub's run (an announcement to one village of {args.speakers // GRIDS})")
    _show("aiohttp hello world", baseline, per_request["hello"])
    _show("hub: schedule polls", hub_run, per_request["hub"])
    print(f"200s (changed schedules): {share:.1%} of the hub's answers; the rest 304")
    print(f"ratio to hello world: {ratio:.2f} (target >= {TARGET_RATIO}): {'PASS' if ratio >= TARGET_RATIO else 'FAIL'}"
          f"   (server CPU per request: {per_request['hello'] / per_request['hub']:.2f})")
    print(f"one web process serves about {hub_run['rate'] * poll:,.0f} speakers polling every {poll} s "
          f"(at full load; plan for half that)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speakers", type=int, default=SPEAKERS)
    parser.add_argument("--seconds", type=float, default=SECONDS)
    parser.add_argument("--connections", type=int, default=CONNECTIONS)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--load", help=argparse.SUPPRESS)
    parser.add_argument("--speakers-file", help=argparse.SUPPRESS)
    parser.add_argument("--hello", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not (1 <= args.speakers <= 100_000 and 1 <= args.seconds <= 120 and 1 <= args.connections <= 512
            and 1 <= args.rounds <= 20):
        parser.error("bounded: 1-100,000 speakers, 1-120 s, 1-512 connections, 1-20 rounds")
    if args.hello is not None:
        hello(args.hello)
    elif args.load is not None:
        hello_port, hub_port = (int(p) for p in args.load.split(","))
        speakers = [(code, token) for code, token in json.loads(Path(args.speakers_file).read_text())]
        print(json.dumps(asyncio.run(load(hello_port, hub_port, speakers, args.seconds, args.connections,
                                          args.rounds))))
    else:
        asyncio.run(run(args))


if __name__ == "__main__":
    main()
