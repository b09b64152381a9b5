"""Fetching CAP sources and what their entries link, as a stranger's server deserves.

A body is read whole up to a limit, or refused with the reason (its Content-Length, or the
bytes counted while reading): a document cut at whatever the socket had buffered would be
refused as broken XML, at a different place each run. A feed may send the hub only to its
own host and to the hosts the operator lists in GRIDCAST_CAP_LINK_HOSTS; redirects are
followed one at a time under the same rule. No link or redirect reaches a loopback, private
or link-local address unless the feed itself is on one: checked before the request, and
again when the connection resolves the name, so a name that changes its answer in between
gains nothing.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver
from multidict import CIMultiDict

LINK_HOSTS_SETTING = "GRIDCAST_CAP_LINK_HOSTS"
TIMEOUT = aiohttp.ClientTimeout(total=30)
USER_AGENT = "gridcast CAP poller"
REDIRECTS = {301, 302, 303, 307, 308}
MAX_REDIRECTS = 5
CHUNK = 1 << 16


class Refused(Exception):
    """Not fetched, or not read to the end; `reason` says why, for the poll's outcome."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Fetched:
    url: str  # where the body came from, after redirects
    status: int
    body: bytes
    headers: CIMultiDict[str]

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "").split(";")[0].strip().lower()

    @property
    def charset(self) -> str | None:
        for part in self.headers.get("Content-Type", "").split(";")[1:]:
            name, _, value = part.partition("=")
            if name.strip().lower() == "charset":
                return value.strip().strip('"') or None
        return None


async def resolve(host: str) -> list[str]:
    """The addresses a name has. Tests replace this to play a host on the public internet."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def address_kind(address: str) -> str:
    """loopback, link-local, private, unspecified, multicast or public."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for kind, test in (("unspecified", ip.is_unspecified), ("loopback", ip.is_loopback),
                       ("link-local", ip.is_link_local), ("multicast", ip.is_multicast)):
        if test:
            return kind
    return "public" if ip.is_global else "private"


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").rstrip(".")


def link_hosts(setting: str | None) -> set[str]:
    """GRIDCAST_CAP_LINK_HOSTS as host names: comma-separated, case and URL dressing ignored."""
    hosts = set()
    for item in (setting or "").split(","):
        item = item.strip()
        if item:
            hosts.add(_host(item if "//" in item else f"//{item}"))
    return hosts - {""}


class LinkPolicy:
    """Where one feed may send the hub: its own host and the listed ones, on public addresses
    or on the kind of address the feed itself is on."""

    def __init__(self, feed_url: str, extra_hosts: Iterable[str] = ()) -> None:
        self.feed_url = feed_url
        self.hosts = {_host(feed_url)} | set(extra_hosts)
        self.kinds = {"public"}

    async def learn_feed(self) -> None:
        """Find the kinds of address the feed's own host is on: links may reach those too."""
        host = _host(self.feed_url)
        try:
            addresses = [host] if _is_address(host) else await resolve(host)
        except (OSError, UnicodeError):
            addresses = []
        self.kinds |= {address_kind(a) for a in addresses}

    def allows(self, address: str) -> bool:
        return address_kind(address) in self.kinds

    async def check(self, url: str, *, redirected: bool = False) -> None:
        """Refuse a URL this feed may not make the hub fetch, saying why."""
        how = "redirected to" if redirected else "links to"
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise Refused(f"{how} {url!r}, not an http(s) URL")
        host = _host(url)
        literal = _is_address(host)
        if host not in self.hosts and not literal:  # a foreign name is not even looked up
            raise Refused(f"{how} {host!r}, not the feed's own host nor listed in {LINK_HOSTS_SETTING}")
        try:
            addresses = [host] if literal else await resolve(host)
        except (OSError, UnicodeError) as error:
            raise Refused(f"{how} {host!r}, which does not resolve ({type(error).__name__})") from None
        for address in addresses:
            if not self.allows(address):
                raise Refused(f"{how} {host!r} at {address}, a {address_kind(address)} address, "
                              f"and the feed is not on one")
        if host not in self.hosts:
            raise Refused(f"{how} {host!r}, not the feed's own host nor listed in {LINK_HOSTS_SETTING}")


class _GuardedResolver(AbstractResolver):
    """The connection's own name lookup, keeping only addresses the policy allows."""

    def __init__(self, policy: LinkPolicy) -> None:
        self._policy = policy
        self._resolver = ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._resolver.resolve(host, port, family)
        allowed = [result for result in found if self._policy.allows(result["host"])]
        if not allowed:
            raise OSError(f"{host}: no address this feed may reach")
        return allowed

    async def close(self) -> None:
        await self._resolver.close()


def session(policy: LinkPolicy) -> aiohttp.ClientSession:
    """A client for one feed's poll, its name lookups kept to what the policy allows."""
    connector = aiohttp.TCPConnector(resolver=_GuardedResolver(policy), limit=8)
    return aiohttp.ClientSession(timeout=TIMEOUT, connector=connector, headers={"User-Agent": USER_AGENT})


async def _read_whole(response: aiohttp.ClientResponse, limit: int) -> bytes:
    length = response.content_length
    if length is not None and length > limit:
        raise Refused(f"{length} bytes by its Content-Length, more than the {limit} read")
    chunks, size = [], 0
    async for chunk in response.content.iter_chunked(CHUNK):
        size += len(chunk)
        if size > limit:
            raise Refused(f"more than the {limit} bytes read (counted while reading)")
        chunks.append(chunk)
    return b"".join(chunks)


async def request(client: aiohttp.ClientSession, url: str, headers: dict[str, str], limit: int) -> Fetched:
    """One GET, no redirect followed; the body read whole only for a 200."""
    async with client.get(url, headers=headers, allow_redirects=False) as response:
        body = await _read_whole(response, limit) if response.status == 200 else b""
        return Fetched(url, response.status, body, response.headers.copy())


async def fetch(
    client: aiohttp.ClientSession, policy: LinkPolicy, url: str, *, limit: int,
    headers: dict[str, str] | None = None, link: bool = True,
) -> Fetched:
    """GET a feed (`link=False`) or what it links, following redirects the policy allows.

    Raises Refused for what the policy refuses or the limit stops; aiohttp.ClientError and
    TimeoutError for what the network does.
    """
    if link:
        await policy.check(url)
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        fetched = await request(client, current, headers or {}, limit)
        location = fetched.headers.get("Location")
        if fetched.status not in REDIRECTS or not location:
            return fetched
        current = urljoin(current, location)
        await policy.check(current, redirected=True)
    raise Refused(f"more than {MAX_REDIRECTS} redirects")
