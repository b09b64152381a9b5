"""The agent's side of the pull contract: schedule (ETag), clips, heartbeat, proof of play.

Every request carries the speaker's bearer token. A connection error, a timeout or a 5xx
means "the hub is away" (`HubUnreachable`: keep playing, back off); a 4xx means the hub
answered and said no (`HubRefused`: a wrong token or id — also backed off, and logged as an
error, since waiting will not fix it).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import aiohttp

from speaker_agent.clock import Clock
from speaker_agent.plan import Clip

API_TIMEOUT = aiohttp.ClientTimeout(total=30, connect=10)
# A clip may be large and the village link slow: no total limit, only silence is fatal.
DOWNLOAD_TIMEOUT = aiohttp.ClientTimeout(total=None, connect=10, sock_read=60)
CHUNK = 64 * 1024


class HubUnreachable(Exception):
    """No answer, or the hub failed (5xx)."""


class HubRefused(Exception):
    """The hub answered 4xx."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"HTTP {status}: {detail}")
        self.status = status


class ClipRejected(Exception):
    """A downloaded clip whose hash or size is not what the schedule says; it was deleted."""


@dataclass(frozen=True)
class Fetched:
    status: int  # 200 or 304
    schedule: dict[str, Any] | None
    etag: str | None
    clock_offset_seconds: float | None


def clock_offset(date_header: str | None, sent: datetime, received: datetime) -> float | None:
    """The hub's clock minus ours, from its `Date` header. The header counts whole seconds
    (truncated), so its moment is taken as the middle of that second and compared with the
    middle of our request."""
    if not date_header:
        return None
    try:
        hub_time = parsedate_to_datetime(date_header)
    except (TypeError, ValueError):
        return None
    if hub_time.tzinfo is None:
        return None
    ours = sent + (received - sent) / 2
    return round((hub_time - ours).total_seconds() + 0.5, 1)


class HubClient:
    def __init__(self, session: aiohttp.ClientSession, hub_url: str, speaker_id: str,
                 token: str, clock: Clock) -> None:
        self.session = session
        self.base = hub_url.rstrip("/") + "/"
        self.speaker = speaker_id
        self.clock = clock
        self.headers = {"Authorization": f"Bearer {token}"}

    def _url(self, tail: str) -> str:
        return urljoin(self.base, f"api/speakers/{self.speaker}/{tail}")

    async def _request(self, method: str, url: str, **kwargs: Any) -> tuple[int, Any, Any]:
        try:
            async with self.session.request(method, url, headers={**self.headers, **kwargs.pop(
                    "headers", {})}, timeout=API_TIMEOUT, **kwargs) as response:
                body = await response.read()
                status, headers = response.status, response.headers
        except (TimeoutError, aiohttp.ClientError, OSError) as error:
            raise HubUnreachable(f"{method} {url}: {type(error).__name__}: {error}") from None
        if status >= 500:
            raise HubUnreachable(f"{method} {url}: HTTP {status}")
        if status >= 400:
            raise HubRefused(status, body[:200].decode("utf-8", "replace"))
        return status, headers, body

    async def schedule(self, etag: str | None) -> Fetched:
        sent = self.clock.now()
        status, headers, body = await self._request(
            "GET", self._url("schedule"), headers={"If-None-Match": etag} if etag else {})
        offset = clock_offset(headers.get("Date"), sent, self.clock.now())
        if status == 304:
            return Fetched(304, None, etag, offset)
        try:
            schedule = json.loads(body)
        except ValueError:
            raise HubUnreachable("schedule: the hub sent something that is not JSON") from None
        if not isinstance(schedule, dict):
            raise HubUnreachable("schedule: not a JSON object")
        return Fetched(200, schedule, headers.get("ETag"), offset)

    async def heartbeat(self, payload: dict[str, Any]) -> None:
        await self._request("POST", self._url("heartbeat"), json=payload)

    async def send_plays(self, records: list[dict[str, Any]]) -> None:
        await self._request("POST", self._url("played"), json={"plays": records})

    async def download(self, clip: Clip, folder: Path) -> Path:
        """Fetch a clip into `folder` under its hash's name; it appears there only once its
        SHA-256 (and size, when given) match the schedule."""
        final = folder / clip.filename
        partial = folder / f".{clip.filename}.part"
        digest = hashlib.sha256()
        size = 0
        try:
            async with self.session.get(urljoin(self.base, clip.url), headers=self.headers,
                                        timeout=DOWNLOAD_TIMEOUT) as response:
                if response.status >= 500:
                    raise HubUnreachable(f"clip {clip.sha256[:12]}: HTTP {response.status}")
                if response.status >= 400:
                    raise HubRefused(response.status, f"clip {clip.sha256[:12]}")
                handle = await asyncio.to_thread(partial.open, "wb")
                try:
                    async for chunk in response.content.iter_chunked(CHUNK):
                        digest.update(chunk)
                        size += len(chunk)
                        await asyncio.to_thread(handle.write, chunk)
                    await asyncio.to_thread(handle.flush)
                    await asyncio.to_thread(os.fsync, handle.fileno())
                finally:
                    await asyncio.to_thread(handle.close)
        except (TimeoutError, aiohttp.ClientError, OSError) as error:
            partial.unlink(missing_ok=True)
            raise HubUnreachable(f"clip {clip.sha256[:12]}: {type(error).__name__}: {error}") from None
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        if digest.hexdigest() != clip.sha256 or (clip.bytes is not None and size != clip.bytes):
            partial.unlink(missing_ok=True)
            raise ClipRejected(f"clip {clip.sha256[:12]}: got {size} bytes hashing to "
                               f"{digest.hexdigest()[:12]}; deleted")
        os.replace(partial, final)
        return final


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()
