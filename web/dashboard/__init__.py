"""The staff dashboard: server-rendered pages over the same services the bot calls.

Thin views (aiohttp-jinja2 templates, htmx from our own static files, no build step); every
action is one service call that checks the signed-in person's role and scope at that moment,
exactly as the chat buttons do. Sessions are encrypted cookies that expire; every form carries
a CSRF token; sign-in is throttled in the database, so it holds across web processes.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web

from web.dashboard import session
from web.dashboard.errors import error_pages
from web.dashboard.routes import ROUTES

HERE = Path(__file__).parent
# What machines call: loudspeakers (10,000 polling every 15 s), feeds, Telegram, monitoring.
# The dashboard's session, CSRF and error pages are nothing to them, and cost them CPU.
MACHINE_PATHS = ("/api/", "/audio/", "/telegram/", "/healthz", "/metrics")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def pages_only(chain: list[Any]) -> Any:
    """One middleware that runs `chain` (outermost first) for the dashboard's pages and lets
    what machines call pass straight through."""

    @web.middleware
    async def dashboard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(MACHINE_PATHS):
            return await handler(request)
        wrapped = handler
        for middleware in reversed(chain):
            wrapped = functools.partial(middleware, handler=wrapped)
        return await wrapped(request)

    return dashboard


def setup(app: web.Application) -> None:
    """Templates, the session and error middlewares, the routes table and the static files."""
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=jinja2.select_autoescape(default=True),  # a report's <script> shows as text
        undefined=jinja2.StrictUndefined,
    )
    app.middlewares.append(pages_only([*session.middlewares(app), error_pages]))
    app.router.add_routes(ROUTES)
    app.router.add_static("/static/", HERE / "static", name="static", append_version=True)
