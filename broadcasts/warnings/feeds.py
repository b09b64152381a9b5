"""Polling CAP sources: ATOM/RSS feeds that list CAP alerts, or CAP documents themselves.

A poll asks with the ETag and Last-Modified of the last answer, so an unchanged feed costs
one 304; an alert fetched again is recognised by its identity and changes nothing. What an
entry links is fetched and looked at whatever the link's type says (publishers label CAP
text/xml, application/xml, or nothing, and add query strings): it is CAP if its root is an
alert in a CAP namespace. Every document ends in one outcome with its reason — what it
became, or why it was refused — and one bad document, whatever is wrong with it, never stops
the rest of the feed. Parsing runs in the CAP process (worker.py), so a large alert does not
stall the event loop. Feed XML is checked by defusedxml before feedparser reads it, so a
hostile feed cannot expand entities. Where a feed may send the hub is fetch.py's business.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urljoin, urlsplit
from xml.etree.ElementTree import ParseError

import aiohttp
import feedparser
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from sqlalchemy import select

from broadcasts.warnings import cap, fetch, worker
from broadcasts.warnings.ingest import Ingested, _pick_info, ingest
from broadcasts.warnings.models import FeedState
from hub.core import Hub

log = logging.getLogger("gridcast.cap")

MIN_INTERVAL = timedelta(seconds=120)
CAP_TYPES = {"application/cap+xml", "application/common-alerting-protocol+xml"}
MAX_FEED_BYTES = cap.MAX_DOCUMENT_BYTES * 4
MAX_LINKS_PER_ENTRY = 4  # an entry's links fetched to find its alert, the likeliest first
FETCH_AHEAD = 4  # entries whose links are fetched while an earlier entry's alert is stored
_NOT_LINKS = {"self", "edit", "replies", "license", "hub"}
# What each outcome means, said without and with the detail ingest gave.
_SAID: dict[str, tuple[str, str]] = {
    "published": ("published to its grids' chats", "published: {}"),
    "updated": ("published as an update of the alert it references", "updated: {}"),
    "cancelled": ("the alert it references is retracted in its chats", "cancelled: {}"),
    "pending": ("held for staff approval", "held for staff approval ({})"),
    "ignored": ("ignored", "ignored ({})"),
    "duplicate": ("already read (same sender, identifier and sent)", "already read: {}"),
    "expired": ("expired", "{}"),
    "not_actual": ("not an actual alert", "not an actual alert ({})"),
    "unknown_reference": ("the alert it references is not known here", "{}"),
    "refused": ("refused", "refused: {}"),
}


@dataclass
class Document:
    """One document's end: what it became, or None when it was refused; and why, either way."""

    source: str  # the URL it was read from
    reason: str
    outcome: Ingested | None = None
    identifier: str | None = None


@dataclass
class PollResult:
    url: str
    status: str  # "ok", "not_modified", "skipped", or what went wrong
    documents: list[Document] = field(default_factory=list)
    entries: int = 0  # entries of the feed (0 for a CAP document read directly)
    missed: list[str] = field(default_factory=list)  # per entry that linked no CAP alert: why

    @property
    def outcomes(self) -> list[Ingested]:
        return [d.outcome for d in self.documents if d.outcome is not None]

    @property
    def rejected(self) -> list[str]:
        """Reasons, one per refused document or link."""
        return [d.reason for d in self.documents if d.outcome is None]

    @property
    def summary(self) -> str:
        """Why a feed gave fewer alerts than it has entries ('' when there is nothing to say)."""
        if self.status != "ok" or (not self.entries and self.documents):
            return ""
        if not self.entries:
            return "the feed has no entries"
        if not self.missed:
            return ""
        some = "none" if len(self.missed) == self.entries else f"{len(self.missed)} of them"
        plural = "y" if self.entries == 1 else "ies"
        return f"{self.entries} entr{plural}, {some} linked a CAP alert (first: {self.missed[0]})"

    def refuse(self, source: str, reason: str) -> None:
        log.warning("CAP document from %s rejected: %s", source, reason)
        self.documents.append(Document(source, reason))


@dataclass
class _Look:
    """What one entry's links turned out to be: an alert, a refusal, or nothing CAP."""

    source: str = ""
    alert: cap.Alert | None = None
    refused: str | None = None
    misses: list[str] = field(default_factory=list)

    def note(self, url: str, claimed: bool, what: str) -> None:
        """A link that gave nothing: a refusal if its type said CAP, else a miss."""
        if claimed and self.refused is None:
            self.source, self.refused = url, what
        else:
            self.misses.append(f"{url}: {what}")


def _read_alert(body: bytes, charset: str | None, claimed: bool) -> cap.Alert:
    """Read (in the CAP process). What cannot be read is a refused alert only if it claims to
    be one."""
    try:
        return cap.read(body, charset=charset)
    except cap.NotCap:
        raise
    except cap.CapError as error:
        if claimed or cap.looks_like_alert(body):
            raise
        raise cap.NotCap(error.reason) from None


def _check_xml(body: bytes) -> None:
    """Refuse what could hurt a parser before anything reads the feed."""
    try:
        fromstring(body, forbid_dtd=True)
    except DefusedXmlException as error:
        raise cap.CapError(f"unsafe feed XML refused ({type(error).__name__})") from None
    except ParseError as error:
        raise cap.CapError(f"broken feed XML: {error}") from None


def _candidates(entry: feedparser.FeedParserDict, base: str) -> list[tuple[str, bool]]:
    """(URL, whether its type says CAP) of an entry's links: CAP types, then XML, then the rest."""
    ranked: list[tuple[int, str, bool]] = []
    for link in entry.get("links", []):
        href = (link.get("href") or "").strip()
        if not href or link.get("rel") in _NOT_LINKS:
            continue
        kind = (link.get("type") or "").split(";")[0].strip().lower()
        rank = 0 if kind in CAP_TYPES else 1 if kind in ("text/xml", "application/xml") else 2
        ranked.append((rank, urljoin(base, href), rank == 0))
    guid = str(entry.get("id") or "")
    if urlsplit(guid).scheme in ("http", "https"):  # some feeds name the alert only by its id
        ranked.append((3, guid, False))
    found: dict[str, bool] = {}
    for _rank, url, claimed in sorted(ranked, key=lambda r: r[0]):
        found.setdefault(url, claimed)
    return list(found.items())[:MAX_LINKS_PER_ENTRY]


async def _look(client: aiohttp.ClientSession, policy: fetch.LinkPolicy,
                entry: feedparser.FeedParserDict, base: str) -> _Look:
    """Fetch an entry's links in turn until one is a CAP alert (read, or refused)."""
    look = _Look()
    candidates = _candidates(entry, base)
    if not candidates:
        look.misses.append("an entry with no link")
    for url, claimed in candidates:
        try:
            fetched = await fetch.fetch(client, policy, url, limit=cap.MAX_DOCUMENT_BYTES)
        except fetch.Refused as error:  # kept, but another link may still be the alert
            look.source, look.refused = look.source or url, look.refused or error.reason
            continue
        except (aiohttp.ClientError, TimeoutError) as error:
            look.note(url, claimed, f"unreachable ({type(error).__name__})")
            continue
        if fetched.status != 200:
            look.note(url, claimed, f"HTTP {fetched.status}")
            continue
        claims = claimed or fetched.content_type in CAP_TYPES
        try:
            alert = await worker.run(_read_alert, fetched.body, fetched.charset, claims)
        except cap.NotCap:
            look.misses.append(f"{url}: {fetched.content_type or 'no content type'}, not a CAP alert")
            continue
        except cap.CapError as error:
            return _Look(url, refused=error.reason)
        return _Look(url, alert)
    return look


def _said(hub: Hub, alert: cap.Alert, outcome: Ingested) -> str:
    """The reason printed beside an outcome, with what reading the document noted."""
    info = _pick_info(alert, hub.settings.default_language)
    if outcome.outcome == "outside":
        areas = "; ".join(a.desc for a in info.areas) if info and info.areas else "no <area>"
        said = f"outside every grid of this hub: {areas[:200]}"
    else:
        plain, detailed = _SAID.get(outcome.outcome, (outcome.outcome.replace("_", " "), "{}"))
        said = detailed.format(outcome.detail) if outcome.detail else plain
    return "; ".join([said, *alert.notes, *(info.notes if info else ())])


async def _store(hub: Hub, alert: cap.Alert, source: str, result: PollResult) -> None:
    try:
        async with hub.db.session() as session:
            outcome = await ingest(session, hub, alert)
    except Exception as error:  # one document's failure is logged; the feed goes on
        log.exception("CAP alert %s from %s could not be stored", alert.identifier, source)
        result.documents.append(Document(source, f"could not be stored ({type(error).__name__})",
                                         identifier=alert.identifier))
        return
    reason = _said(hub, alert, outcome)
    log.info("CAP alert %s from %s: %s #%s (%s)", alert.identifier, source, outcome.outcome,
             outcome.warning_id, reason)
    result.documents.append(Document(source, reason, outcome, alert.identifier))


async def _settle(hub: Hub, task: asyncio.Task[_Look], result: PollResult) -> None:
    try:
        look = await task
    except Exception as error:
        log.exception("reading a CAP feed entry failed")
        look = _Look(refused=f"could not be read ({type(error).__name__})")
    if look.alert is not None:
        await _store(hub, look.alert, look.source, result)
    elif look.refused is not None:
        result.refuse(look.source or result.url, look.refused)
    else:
        result.missed.append(look.misses[0] if look.misses else "nothing linked")


async def _read_feed(hub: Hub, client: aiohttp.ClientSession, policy: fetch.LinkPolicy,
                     url: str, feed: feedparser.FeedParserDict, result: PollResult) -> None:
    """Entries in the feed's order; the next few entries' links are fetched meanwhile."""
    result.entries = len(feed.entries)
    ahead: deque[asyncio.Task[_Look]] = deque()
    try:
        for entry in feed.entries:
            ahead.append(asyncio.create_task(_look(client, policy, entry, url)))
            if len(ahead) >= FETCH_AHEAD:
                await _settle(hub, ahead.popleft(), result)
        while ahead:
            await _settle(hub, ahead.popleft(), result)
    finally:
        for task in ahead:
            task.cancel()


async def _read(hub: Hub, client: aiohttp.ClientSession, policy: fetch.LinkPolicy,
                fetched: fetch.Fetched, result: PollResult) -> None:
    """A CAP document, or a feed of them (which may be larger than any CAP document)."""
    url, body = result.url, fetched.body
    claimed = fetched.content_type in CAP_TYPES or cap.looks_like_alert(body)
    if claimed or len(body) <= cap.MAX_DOCUMENT_BYTES:
        try:
            alert = await worker.run(cap.read, body, charset=fetched.charset)
        except cap.NotCap as error:  # readable XML, so defusedxml has checked it
            not_alert = error.reason
        except cap.CapError as error:
            if claimed:
                result.refuse(url, error.reason)
                return
            await worker.run(_check_xml, body)
            raise
        else:
            await _store(hub, alert, url, result)
            return
    else:
        await worker.run(_check_xml, body)
        not_alert = f"{len(body)} bytes, more than a CAP alert may have"
    feed = await worker.run(feedparser.parse, body, response_headers={"content-location": url})
    if not feed.entries and (feed.bozo or not feed.version):
        raise cap.CapError(f"neither a CAP alert nor a feed: {not_alert}")
    await _read_feed(hub, client, policy, url, feed, result)


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


async def poll(hub: Hub, url: str, *, force: bool = False) -> PollResult:
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
    policy = fetch.LinkPolicy(url, fetch.link_hosts(hub.settings.cap_link_hosts))
    await policy.learn_feed()
    async with fetch.session(policy) as client:
        try:
            fetched = await fetch.fetch(client, policy, url, limit=MAX_FEED_BYTES, headers=headers, link=False)
        except fetch.Refused as error:
            result.status = error.reason
            result.refuse(url, error.reason)
        except (aiohttp.ClientError, TimeoutError) as error:
            result.status = f"unreachable: {type(error).__name__}"
            log.warning("CAP source %s: %s", url, result.status)
        else:
            if fetched.status == 200:
                try:
                    await _read(hub, client, policy, fetched, result)
                except cap.CapError as error:
                    result.status = error.reason
                    result.refuse(url, error.reason)
                await _save(hub, url, polled_at=now, last_status=result.status[:255],
                            etag=fetched.headers.get("ETag"),
                            last_modified=fetched.headers.get("Last-Modified"))
                return result
            result.status = "not_modified" if fetched.status == 304 else f"HTTP {fetched.status}"
            if fetched.status != 304:
                log.warning("CAP source %s answered %s", url, fetched.status)
    await _save(hub, url, polled_at=now, last_status=result.status[:255])
    return result


async def poll_all(hub: Hub, urls: list[str] | None = None, *, force: bool = False) -> list[PollResult]:
    """Every configured source (or the given ones); each failure stays with its source."""
    results = []
    for url in urls if urls is not None else hub.settings.cap_feed_urls:
        try:
            results.append(await poll(hub, url, force=force))
        except Exception:
            log.exception("polling CAP source %s failed", url)
            results.append(PollResult(url, "error"))
    return results
