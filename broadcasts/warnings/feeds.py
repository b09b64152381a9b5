"""Polling CAP sources: ATOM/RSS feeds that list CAP alerts, or CAP documents themselves.

A poll asks with the ETag and Last-Modified of the last answer, so an unchanged feed costs
one 304; an alert fetched again is recognised by its identity and changes nothing. One bad alert
is logged with its reason and skipped; the rest of the feed is read. Feed XML is checked by
defusedxml before feedparser reads it, so a hostile feed cannot expand entities.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from xml.etree.ElementTree import ParseError

import aiohttp
import feedparser
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from multidict import CIMultiDict
from sqlalchemy import select

from broadcasts.warnings import cap
from broadcasts.warnings.ingest import Ingested, ingest
from broadcasts.warnings.models import FeedState
from hub.core import Hub

log = logging.getLogger("gridcast.cap")

MIN_INTERVAL = timedelta(seconds=120)
TIMEOUT = aiohttp.ClientTimeout(total=30)
CAP_TYPES = {"application/cap+xml", "application/common-alerting-protocol+xml"}
USER_AGENT = "gridcast CAP poller"


@dataclass
class PollResult:
    url: str
    status: str  # "ok", "not_modified", "skipped", or what went wrong
    outcomes: list[Ingested] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)  # reasons, one per refused document


def _looks_like_alert(body: bytes) -> bool:
    head = body[:4096]
    return b"<alert" in head and cap.NS.encode() in head


def _check_xml(body: bytes) -> None:
    """Refuse what could hurt a parser before anything reads the feed."""
    try:
        fromstring(body, forbid_dtd=True)
    except DefusedXmlException as error:
        raise cap.CapError(f"unsafe feed XML refused ({type(error).__name__})") from None
    except ParseError as error:
        raise cap.CapError(f"broken feed XML: {error}") from None


def _entry_links(entry: feedparser.FeedParserDict) -> list[str]:
    links = [link.get("href") for link in entry.get("links", [])
             if link.get("type") in CAP_TYPES and link.get("href")]
    if not links:  # many feeds link the alert plainly
        links = [link.get("href") for link in entry.get("links", [])
                 if (link.get("href") or "").endswith((".xml", ".cap"))]
    return links


async def _fetch(
    client: aiohttp.ClientSession, url: str, headers: dict[str, str]
) -> tuple[int, bytes, CIMultiDict[str]]:
    async with client.get(url, headers={"User-Agent": USER_AGENT, **headers}) as response:
        body = await response.content.read(cap.MAX_DOCUMENT_BYTES * 4 + 1)
        return response.status, body, response.headers.copy()


async def _ingest_document(hub: Hub, body: bytes, source: str, result: PollResult) -> None:
    try:
        alert = cap.parse(body)
    except cap.CapError as error:
        log.warning("CAP alert from %s rejected: %s", source, error.reason)
        result.rejected.append(error.reason)
        return
    async with hub.db.session() as session:
        outcome = await ingest(session, hub, alert)
    log.info("CAP alert %s from %s: %s %s", alert.identifier, source, outcome.outcome, outcome.detail)
    result.outcomes.append(outcome)


async def _state(hub: Hub, url: str) -> FeedState:
    async with hub.db.session() as session:
        state = await session.scalar(select(FeedState).where(FeedState.url == url))
        if state is None:
            state = FeedState(url=url)
            session.add(state)
            await session.flush()
        session.expunge(state)
        return state


async def _save(hub: Hub, url: str, **values: object) -> None:
    async with hub.db.session() as session:
        state = await session.scalar(select(FeedState).where(FeedState.url == url))
        assert state is not None
        for name, value in values.items():
            setattr(state, name, value)


async def poll(hub: Hub, url: str, client: aiohttp.ClientSession, *, force: bool = False) -> PollResult:
    """Read one source once; without `force`, not sooner than the configured interval allows."""
    state = await _state(hub, url)
    now = hub.now()
    interval = max(MIN_INTERVAL, timedelta(seconds=hub.settings.cap_poll_seconds))
    if not force and state.polled_at is not None and now - state.polled_at < interval:
        return PollResult(url, "skipped")
    headers = {}
    if state.etag:
        headers["If-None-Match"] = state.etag
    if state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    result = PollResult(url, "ok")
    try:
        status, body, response_headers = await _fetch(client, url, headers)
    except (aiohttp.ClientError, TimeoutError) as error:
        result.status = f"unreachable: {type(error).__name__}"
        await _save(hub, url, polled_at=now, last_status=result.status)
        log.warning("CAP source %s: %s", url, result.status)
        return result
    if status == 304:
        result.status = "not_modified"
        await _save(hub, url, polled_at=now, last_status=result.status)
        return result
    if status != 200:
        result.status = f"HTTP {status}"
        await _save(hub, url, polled_at=now, last_status=result.status)
        log.warning("CAP source %s answered %s", url, status)
        return result
    try:
        await _read(hub, client, url, body, result)
    except cap.CapError as error:
        result.status = error.reason
        result.rejected.append(error.reason)
        log.warning("CAP source %s rejected: %s", url, error.reason)
    await _save(hub, url, polled_at=now, last_status=result.status[:255],
                etag=response_headers.get("ETag"), last_modified=response_headers.get("Last-Modified"))
    return result


async def _read(hub: Hub, client: aiohttp.ClientSession, url: str, body: bytes, result: PollResult) -> None:
    if _looks_like_alert(body):
        await _ingest_document(hub, body, url, result)
        return
    _check_xml(body)
    feed = feedparser.parse(body)
    if feed.bozo and not feed.entries:
        raise cap.CapError(f"not a CAP alert nor a readable feed: {feed.get('bozo_exception')}")
    for entry in feed.entries:
        links = _entry_links(entry)
        for link in links:
            try:
                status, document, _ = await _fetch(client, link, {})
            except (aiohttp.ClientError, TimeoutError) as error:
                result.rejected.append(f"{link}: {type(error).__name__}")
                continue
            if status != 200:
                result.rejected.append(f"{link}: HTTP {status}")
                continue
            await _ingest_document(hub, document, link, result)


async def poll_all(hub: Hub, urls: list[str] | None = None, *, force: bool = False) -> list[PollResult]:
    """Every configured source (or the given ones); each failure stays with its source."""
    results = []
    async with aiohttp.ClientSession(timeout=TIMEOUT) as client:
        for url in urls if urls is not None else hub.settings.cap_feed_urls:
            try:
                results.append(await poll(hub, url, client, force=force))
            except Exception:
                log.exception("polling CAP source %s failed", url)
                results.append(PollResult(url, "error"))
    return results
