"""The one aiohttp application: health, metrics, and (in webhook mode) Telegram's updates."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from hub.core import Hub
from web import dashboard, health, speakers, telegram, warnings_feed
from web.keys import HUB, WEBHOOK, UpdateFeed

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def _measure(request: web.Request, handler: Handler) -> web.StreamResponse:
    metrics = request.app[HUB].metrics
    route = request.match_info.route.resource.canonical if request.match_info.route.resource else "unmatched"
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as error:
        status = error.status
        raise
    finally:
        metrics.served(route, request.method, status, time.perf_counter() - started)


def build_web_app(hub: Hub, webhook: UpdateFeed | None = None) -> web.Application:
    app = web.Application(middlewares=[_measure], client_max_size=32 << 20)
    app[HUB] = hub
    health.setup(app)
    warnings_feed.setup(app)
    speakers.setup(app)
    dashboard.setup(app)
    if webhook is not None:
        app[WEBHOOK] = webhook
        telegram.setup(app)
    return app
