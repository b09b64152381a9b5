"""/healthz for load balancers and /metrics for Prometheus."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import select

from hub import heartbeats
from hub.models import Heartbeat
from web.keys import HUB

STALE_AFTER = timedelta(minutes=2)


async def healthz(request: web.Request) -> web.Response:
    hub = request.app[HUB]
    try:
        async with hub.db.session() as session:
            beats = list(await session.scalars(select(Heartbeat)))
            runs = await heartbeats.job_runs(session)
    except Exception as error:  # any failure to reach the database means "not healthy"
        return web.json_response(
            {"status": "error", "database": type(error).__name__}, status=503
        )
    now = hub.now()
    roles: dict[str, bool] = {}
    for beat in beats:
        roles[beat.role] = roles.get(beat.role, False) or now - beat.at < STALE_AFTER
    # Each scheduled job's last successful run (and last failure, if any), whichever process ran it.
    jobs = {run.job: {"last_success": run.last_success_at.isoformat() if run.last_success_at else None,
                      "last_failure": run.last_failure_at.isoformat() if run.last_failure_at else None}
            for run in runs}
    return web.json_response({"status": "ok", "database": "ok", "roles": roles, "jobs": jobs})


async def metrics(request: web.Request) -> web.Response:
    body = request.app[HUB].metrics.render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def setup(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
