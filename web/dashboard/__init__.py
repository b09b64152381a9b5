"""The staff dashboard: server-rendered pages over the same services the bot calls.

Thin views (aiohttp-jinja2 templates, htmx from our own static files, no build step); every
action is one service call that checks the signed-in person's role and scope at that moment,
exactly as the chat buttons do. Sessions are encrypted cookies that expire; every form carries
a CSRF token; sign-in is throttled in the database, so it holds across web processes.
"""

from __future__ import annotations

from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from web.dashboard import session
from web.dashboard.errors import error_pages
from web.dashboard.routes import ROUTES

HERE = Path(__file__).parent


def setup(app: web.Application) -> None:
    """Templates, the session and error middlewares, the routes table and the static files."""
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=jinja2.select_autoescape(default=True),  # a report's <script> shows as text
        undefined=jinja2.StrictUndefined,
    )
    session.setup(app)
    app.middlewares.append(error_pages)
    app.router.add_routes(ROUTES)
    app.router.add_static("/static/", HERE / "static", name="static", append_version=True)
