"""A small hub that speaks the loudspeaker pull contract, for the agent's tests.

Schedule with ETag/304, clips by hash, heartbeat, proof of play (ids deduplicated), bearer
tokens. A test edits `items`, can take the hub down (the port refuses connections) and up
again on the same port, make it answer every request with a status (503), serve a clip
corrupted the next N times, and skew its `Date` header.

Its fixtures are in `tests.fakes.speaker_fixtures` (a test module names it in `pytest_plugins`).
"""

from __future__ import annotations

import hashlib
import json
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

from aiohttp import web

from speaker_agent.clock import FakeClock
from speaker_agent.plan import format_time

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
POLL_SECONDS = 15


def at(seconds: float) -> datetime:
    """T0 plus `seconds`."""
    return T0 + timedelta(seconds=seconds)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clip_bytes(label: str, size: int = 2048) -> bytes:
    seed = hashlib.sha256(label.encode()).digest()
    return (seed * (size // len(seed) + 1))[:size]


RANKS = {("urgent", "red"): 4, ("urgent", "orange"): 3, ("announcement", None): 2,
         ("campaign", None): 1, ("filler", None): 0}


@dataclass
class FakeSpeakerHub:
    clock: FakeClock
    speaker: str = "SPK1"
    token: str = "secret-token"
    poll_seconds: int = POLL_SECONDS
    items: list[dict[str, Any]] = field(default_factory=list)
    clips: dict[str, bytes] = field(default_factory=dict)
    corrupt: dict[str, int] = field(default_factory=dict)  # hash -> bad answers still to give
    fail_status: int | None = None
    date_skew: timedelta = timedelta(0)
    plays: dict[str, dict[str, Any]] = field(default_factory=dict)
    play_posts: int = 0
    duplicates: int = 0  # records sent again that told nothing new
    completed: int = 0  # "playing" records completed by their outcome
    heartbeats: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[datetime, str, int]] = field(default_factory=list)
    downloads: dict[str, int] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- content -----------------------------------------------------------------------------

    def clip(self, label: str, duration: float = 30.0, size: int = 2048) -> dict[str, Any]:
        data = clip_bytes(label, size)
        sha = hashlib.sha256(data).hexdigest()
        self.clips[sha] = data
        return {"name": f"{sha}.mp3", "url": f"{self.url}/audio/{sha}.mp3", "sha256": sha,
                "bytes": len(data), "duration_seconds": duration}

    def item(self, item_id: str, kind: str, start: datetime, end: datetime, *,
             level: str | None = None, repeat: int | None = None, duration: float = 30.0,
             clip: dict[str, Any] | None = None) -> dict[str, Any]:
        rank = RANKS[(kind, level)]
        return {
            "id": item_id, "kind": kind, "priority": min(rank, 3), "level": level, "rank": rank,
            "start": format_time(start), "end": format_time(end), "repeat_seconds": repeat,
            "interrupt": kind == "urgent", "title": item_id,
            "clip": clip or self.clip(item_id, duration),
        }

    def add(self, *items: dict[str, Any]) -> None:
        self.items.extend(items)

    def remove(self, item_id: str) -> None:
        self.items = [i for i in self.items if i["id"] != item_id]

    def etag(self) -> str:
        body = json.dumps([self.items, self.poll_seconds], sort_keys=True).encode()
        return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'

    def played(self, result: str | None = None) -> list[dict[str, Any]]:
        return [p for p in self.plays.values() if result is None or p["result"] == result]

    # --- serving -----------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_get("/api/speakers/{id}/schedule", self._schedule)
        app.router.add_post("/api/speakers/{id}/heartbeat", self._heartbeat)
        app.router.add_post("/api/speakers/{id}/played", self._played)
        app.router.add_get("/audio/{name}", self._audio)
        return app

    async def up(self) -> None:
        self._runner = web.AppRunner(self.app())
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def down(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        date = format_datetime(self.clock.now() + self.date_skew, usegmt=True)
        if self.fail_status is not None:
            response: web.StreamResponse = web.Response(status=self.fail_status)
        elif request.headers.get("Authorization") != f"Bearer {self.token}":
            response = web.json_response({"error": "token"}, status=401,
                                         headers={"WWW-Authenticate": "Bearer"})
        elif "id" in request.match_info and request.match_info["id"] != self.speaker:
            response = web.json_response({"error": "not found"}, status=404)
        else:
            response = await handler(request)
        response.headers["Date"] = date
        self.requests.append((self.clock.now(), request.path, response.status))
        return response

    async def _schedule(self, request: web.Request) -> web.Response:
        etag = self.etag()
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        now = self.clock.now()
        body = {"speaker": self.speaker, "generated_at": format_time(now),
                "horizon_until": format_time(now + timedelta(hours=24)),
                "poll_seconds": self.poll_seconds, "timezone": "Asia/Shanghai", "volume": 80,
                "items": self.items}
        return web.json_response(body, headers={"ETag": etag})

    async def _heartbeat(self, request: web.Request) -> web.Response:
        self.heartbeats.append({"at": self.clock.now(), **await request.json()})
        return web.json_response({"ok": True, "server_time": format_time(self.clock.now())})

    async def _played(self, request: web.Request) -> web.Response:
        self.play_posts += 1
        accepted = duplicates = 0
        for record in (await request.json())["plays"]:
            known = self.plays.get(record["id"])
            if known is not None and known["result"] == "playing" != record["result"]:
                self.plays[record["id"]] = record
                self.completed += 1
            elif known is not None:
                duplicates += 1
            else:
                self.plays[record["id"]] = record
                accepted += 1
        self.duplicates += duplicates
        return web.json_response({"accepted": accepted, "duplicates": duplicates})

    async def _audio(self, request: web.Request) -> web.Response:
        sha = request.match_info["name"].split(".")[0]
        if sha not in self.clips:
            return web.json_response({"error": "not found"}, status=404)
        self.downloads[sha] = self.downloads.get(sha, 0) + 1
        data = self.clips[sha]
        if self.corrupt.get(sha, 0) > 0:
            self.corrupt[sha] -= 1
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        return web.Response(body=data, content_type="audio/mpeg")


class AgentRun:
    """One agent on the fake clock with a file sink, against `hub`, its cache in `cache`.
    A second AgentRun on the same cache is the same agent after a restart."""

    def __init__(self, hub_url: str, clock: FakeClock, cache: Any, *, speaker: str = "SPK1",
                 token: str = "secret-token") -> None:
        from speaker_agent.agent import Agent, Config
        from speaker_agent.players import SinkPlayer

        self.clock = clock
        self.sink = SinkPlayer(clock, cache / "sink.jsonl")
        self.agent = Agent(Config(hub_url=hub_url, speaker_id=speaker, token=token,
                                  cache_dir=cache), clock=clock, player=self.sink)

    async def __aenter__(self) -> AgentRun:
        self.clock.watch(*await self.agent.start())
        await self.clock.settle()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.agent.stop()

    def starts(self, item: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.sink.events
                if e["event"] == "start" and (item is None or e["item"] == item)]

    def playing(self) -> str | None:
        """The item sounding now, from the sink's record."""
        current = None
        for event in self.sink.events:
            current = event["item"] if event["event"] == "start" else None
        return current

