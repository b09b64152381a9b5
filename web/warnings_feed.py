"""CAP out: the ATOM feed of published warnings and each warning as a CAP 1.2 document.

Links and ids are built on GRIDCAST_PUBLIC_URL: a request's Host header is the requester's to
choose, and a feed readers cache must not carry whatever a stranger put there.
"""

from __future__ import annotations

from aiohttp import web

from broadcasts.warnings import cap_out as cap_publish
from broadcasts.warnings import lifecycle as warnings
from hub.errors import NotFound
from web.keys import HUB

FEED_SIZE = 50


async def atom(request: web.Request) -> web.Response:
    hub = request.app[HUB]
    async with hub.db.session() as session:
        published = await warnings.list_warnings(session, limit=FEED_SIZE, published_only=True)
    updated = max((w.updated_at for w in published), default=hub.now())
    body = cap_publish.atom_feed(published, base_url=hub.settings.public_url, updated=updated)
    return web.Response(body=body, content_type="application/atom+xml", charset="utf-8")


async def alert(request: web.Request) -> web.Response:
    hub = request.app[HUB]
    try:
        warning_id = int(request.match_info["id"])
    except ValueError:
        raise web.HTTPNotFound() from None
    async with hub.db.session() as session:
        try:
            warning = await warnings.get(session, warning_id)
        except NotFound:
            raise web.HTTPNotFound() from None
        if warning.status not in warnings.PUBLISHED:
            raise web.HTTPNotFound()
        body = await cap_publish.document(session, warning)
    return web.Response(body=body, content_type=cap_publish.CAP_MIME, charset="utf-8")


def setup(app: web.Application) -> None:
    app.router.add_get("/api/warnings.atom", atom)
    app.router.add_get(r"/api/warnings/{id:\d+}.cap.xml", alert)
