"""One error middleware for the dashboard: a refusal of the services becomes a page that says
why, in the person's language; nothing else of the hub's errors leaks into HTML."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from hub.errors import Conflict, HubError, InvalidInput, NotFound, PermissionDenied
from web.dashboard import session
from web.dashboard.pages import render
from web.keys import HUB

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
STATUS = {PermissionDenied: 403, NotFound: 404, InvalidInput: 400, Conflict: 409}


@web.middleware
async def error_pages(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except HubError as error:  # a page's (machines' paths never come here: pages_only)
        current = await session.visit(request)
        request[session.VISIT] = current
        status = next((code for kind, code in STATUS.items() if isinstance(error, kind)), 400)
        message = request.app[HUB].t(current.lang, error.key, **error.params)
        if request.headers.get("HX-Request"):
            return web.Response(text=message, status=status, content_type="text/plain")
        return await render(request, "error.html", {"message": message, "status": status}, status=status)
