"""A CAP publisher on loopback, shaped like the real ones, and the documents it serves.

Real publishers send large alerts in many TCP segments, label CAP as text/xml or nothing,
put query strings in their links, redirect, and leave Content-Length out; this server does
each on request, so the poller meets them on 127.0.0.1. Documents with the tokens SENT_TIME,
EXPIRES_TIME and BASE_URL are filled in when served (times from the hub's clock).
"""

from __future__ import annotations

import asyncio
import math
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from aiohttp import web

from broadcasts.warnings.cap import cap_datetime

DATA = Path(__file__).resolve().parent.parent / "data" / "cap"
# T1 of the demo district is the box lon 119.00-119.01, lat 25.42-25.43.
T1_RING = "25.422,119.002 25.422,119.008 25.428,119.008 25.428,119.002 25.422,119.002"
T1_AREA = f"<area><areaDesc>Nanyuan grid one</areaDesc><polygon>{T1_RING}</polygon></area>"


@dataclass
class Served:
    body: bytes
    content_type: str | None = "application/xml"
    chunk: int = 0  # > 0: written in pieces of this size, with a pause between, no Content-Length
    redirect: str | None = None  # answer 302 to this URL instead
    status: int = 200


class CapPublisher:
    """Documents by path (query string included) on 127.0.0.1, with the requests it saw."""

    def __init__(self, now: Callable[[], datetime]) -> None:
        self.now = now
        self.served: dict[str, Served] = {}
        self.requests: list[str] = []
        self.runner: web.AppRunner | None = None
        self.base = ""
        self.port = 0

    def put(self, path: str, body: bytes, **how: object) -> str:
        """Serve `body` at `path` (e.g. "alert?id=7"); returns its URL."""
        self.served[path.lstrip("/")] = Served(body, **how)  # type: ignore[arg-type]
        return f"{self.base}/{path.lstrip('/')}"

    def fixture(self, name: str, path: str | None = None, **how: object) -> str:
        return self.put(path or name, (DATA / name).read_bytes(), **how)

    def fill(self, body: bytes) -> bytes:
        now = self.now()
        return (body.replace(b"SENT_TIME", cap_datetime(now - timedelta(minutes=5)).encode())
                .replace(b"EXPIRES_TIME", cap_datetime(now + timedelta(hours=3)).encode())
                .replace(b"BASE_URL", self.base.encode()))

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        path = request.path_qs.lstrip("/")
        self.requests.append(path)
        served = self.served.get(path)
        if served is None:
            return web.Response(status=404)
        if served.redirect:
            raise web.HTTPFound(served.redirect)
        body = self.fill(served.body)
        headers = {"Content-Type": served.content_type} if served.content_type else {}
        if not served.chunk:  # unlabelled bodies go out as aiohttp labels them: octet-stream
            return web.Response(body=body, status=served.status, headers=headers)
        stream = web.StreamResponse(status=served.status, headers=headers)
        stream.enable_chunked_encoding()
        await stream.prepare(request)
        for start in range(0, len(body), served.chunk):
            await stream.write(body[start:start + served.chunk])
            await asyncio.sleep(0.002)
        await stream.write_eof()
        return stream

    async def __aenter__(self) -> CapPublisher:
        app = web.Application()
        app.router.add_get("/{path:.*}", self._serve)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base = f"http://127.0.0.1:{self.port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.runner is not None
        await self.runner.cleanup()


# --- documents ------------------------------------------------------------------------------


def ring(lat: float, lon: float, points: int, radius: float = 0.003) -> str:
    """A closed ring of `points` points (the last repeats the first) around (lat, lon)."""
    coords = [(lat + radius * math.sin(2 * math.pi * i / (points - 1)),
               lon + radius * math.cos(2 * math.pi * i / (points - 1))) for i in range(points - 1)]
    coords.append(coords[0])
    return " ".join(f"{a:.6f},{o:.6f}" for a, o in coords)


def alert(identifier: str, areas: str, *, sender: str = "publisher@example.org",
          severity: str = "Severe", event: str = "Flood", extra_infos: str = "",
          namespace: str = "urn:oasis:names:tc:emergency:cap:1.2") -> bytes:
    """A CAP alert with the given <area> elements, timed by the publisher when served."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="{namespace}">
  <identifier>{identifier}</identifier><sender>{sender}</sender><sent>SENT_TIME</sent>
  <status>Actual</status><msgType>Alert</msgType><scope>Public</scope>
  <info>
    <language>en-US</language><category>Met</category><event>{event}</event>
    <urgency>Immediate</urgency><severity>{severity}</severity><certainty>Observed</certainty>
    <expires>EXPIRES_TIME</expires><headline>{event} warning</headline>
    <description>{event} in the area; keep away from the river banks.</description>
    {areas}
  </info>{extra_infos}
</alert>""".encode()


def large_alert(identifier: str, size: int, *, points: int = 200) -> bytes:
    """An alert of at least `size` bytes: one polygon over T1, then far-away areas of
    `points`-point polygons until the size is reached (the shape of national agencies'
    alerts that list every county they cover)."""
    areas = [T1_AREA]
    length, county = len(areas[0]), 0
    while length < size:
        county += 1
        lat, lon = 30 + (county % 50) * 0.1, 110 + (county // 50) * 0.1
        area = (f"<area><areaDesc>County {county}</areaDesc><polygon>{ring(lat, lon, points, 0.04)}"
                f"</polygon><geocode><valueName>county</valueName><value>C{county:05d}</value></geocode></area>")
        areas.append(area)
        length += len(area)
    return alert(identifier, "\n    ".join(areas))


def polygon_alert(identifier: str, points: int) -> bytes:
    """An alert whose one area is a polygon of `points` points over T1."""
    return alert(identifier, f"<area><areaDesc>Nanyuan, {points} points</areaDesc>"
                             f"<polygon>{ring(25.425, 119.005, points)}</polygon></area>")


def atom(entries: list[tuple[str, str | None]], title: str = "alerts") -> bytes:
    """An Atom feed, one entry per (href, link type or None)."""
    items = "".join(
        f"""<entry><id>urn:test:{i}</id><title>{title} {i}</title><updated>2026-11-09T00:00:00Z</updated>
        <link rel="alternate"{f' type="{kind}"' if kind else ''} href="{href.replace('&', '&amp;')}"/></entry>"""
        for i, (href, kind) in enumerate(entries)
    )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><id>urn:test:feed</id><title>{title}</title>
<updated>2026-11-09T00:00:00Z</updated>{items}</feed>""".encode()


@contextmanager
def publisher_thread(now: Callable[[], datetime]) -> Iterator[CapPublisher]:
    """The publisher on a loop of its own, for tests that run the CLI (which owns its loop)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    publisher = CapPublisher(now)
    asyncio.run_coroutine_threadsafe(publisher.__aenter__(), loop).result()
    try:
        yield publisher
    finally:
        asyncio.run_coroutine_threadsafe(publisher.__aexit__(None, None, None), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()
