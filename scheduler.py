"""Every timed job of the hub, in one place.

Jobs are module-level functions (APScheduler's rule) that call the same services the bot and
the dashboard call. Exactly one process runs them at a time: `run` waits for leadership
(see hub.leader), runs the jobs while it leads, and stands by otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from hazards import delivery as hazard_delivery
from hazards import sweeps as hazard_sweeps
from hub import heartbeats
from hub.core import Hub
from hub.leader import Leadership

log = logging.getLogger("gridcast.scheduler")

LEADERSHIP_RETRY_SECONDS = 5.0
FINISH_SECONDS = 10.0  # how long a stopping scheduler lets the jobs that run finish
RUNNING = "scheduler.running"  # key in hub.services: the job runs in flight


async def heartbeat(hub: Hub) -> None:
    """Tell /healthz that the active scheduler is alive."""
    async with hub.db.session() as session:
        await heartbeats.beat(session, "scheduler", hub.now(), detail="leader")


async def hazard_overdue(hub: Hub) -> None:
    """Remind assignees of overdue hazards, then escalate; each alert goes out once."""
    async with hub.db.session() as session:
        notices = await hazard_sweeps.overdue_sweep(session, hub.now())
        await hazard_delivery.deliver(session, hub, notices)


async def hazard_followup(hub: Hub) -> None:
    """Ask reporters "is it fixed?" three days after their hazard was closed."""
    async with hub.db.session() as session:
        notices = await hazard_sweeps.followup_sweep(session, hub.now())
        await hazard_delivery.deliver(session, hub, notices)


async def poll_cap_feeds(hub: Hub) -> None:
    """Read the configured CAP sources; each is polled no sooner than its interval allows."""
    from broadcasts.warnings.feeds import poll_all

    await poll_all(hub)


async def speaker_urgent_clips(hub: Hub) -> None:
    """Render orange and red warnings for the loudspeakers that no process has rendered yet
    (a send renders them itself right after it commits; this catches what the CLI left)."""
    from broadcasts.speakers import urgent

    await urgent.render_pending(hub)


async def speaker_script_clips(hub: Hub) -> None:
    """Render ahead the clips the loudspeakers' slots need (new slots, dialects, recordings)."""
    from broadcasts.speakers import slots

    await slots.render_ahead(hub)


async def speaker_monitor(hub: Hub) -> None:
    """Tell a grid's workers when a speaker falls silent, is back, or missed an urgent warning."""
    from broadcasts.speakers import monitoring

    await monitoring.sweep(hub)


async def campaign_release(hub: Hub) -> None:
    """Release the seasonal campaigns' chat posts and loudspeaker slots that fell due, each once."""
    from broadcasts.campaigns import release

    await release.release(hub)


async def recorded(func: Callable[[Hub], Any], hub: Hub) -> None:
    """Run a job and record the run, so /healthz shows each job's last success.

    A job still running when the scheduler shuts down (it lost leadership, or the process is
    stopping) is cancelled: that is no failure, and is neither recorded nor logged as one."""
    running: set[asyncio.Task[Any]] = hub.services.setdefault(RUNNING, set())
    task = asyncio.current_task()
    if task is not None:
        running.add(task)
    try:
        try:
            await func(hub)
        except Exception as error:
            log.exception("job %s failed", func.__name__)
            with contextlib.suppress(Exception):  # a database that is down must not hide the error
                async with hub.db.session() as session:
                    await heartbeats.job_ran(session, func.__name__, hub.now(), error=error)
            return
        async with hub.db.session() as session:
            await heartbeats.job_ran(session, func.__name__, hub.now())
    except asyncio.CancelledError:
        log.debug("job %s stopped with the scheduler", func.__name__)
    finally:
        if task is not None:
            running.discard(task)


async def _finish(hub: Hub) -> None:
    """Let the job runs in flight finish their unit of work before the scheduler stops (its
    shutdown cancels them, which would cut a transaction and its connection short)."""
    running = set(hub.services.get(RUNNING, ()))
    if running:
        await asyncio.wait(running, timeout=FINISH_SECONDS)


@dataclass(frozen=True)
class Job:
    func: Callable[..., Any]
    trigger: str
    options: dict[str, Any] = field(default_factory=dict)


def jobs(hub: Hub) -> list[Job]:
    """The hub's timetable. Features add their jobs here."""
    timetable = [
        Job(heartbeat, "interval", {"seconds": 30}),
        Job(hazard_overdue, "interval", {"minutes": 1}),
        Job(hazard_followup, "interval", {"minutes": 5}),
        Job(speaker_urgent_clips, "interval", {"seconds": 10}),
        Job(speaker_script_clips, "interval", {"minutes": 5}),
        Job(speaker_monitor, "interval", {"minutes": 1}),
        Job(campaign_release, "interval", {"minutes": 1}),
    ]
    if hub.settings.cap_feed_urls:
        timetable.append(Job(poll_cap_feeds, "interval", {"seconds": 60}))
    return timetable


def build_scheduler(hub: Hub) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone=hub.tz, job_defaults={"coalesce": True, "max_instances": 1})
    for job in jobs(hub):
        scheduler.add_job(
            recorded,
            job.trigger,
            args=[job.func, hub],
            id=job.func.__name__,
            next_run_time=hub.now(),
            misfire_grace_time=60,
            **job.options,
        )
    return scheduler


async def run(hub: Hub, stop: asyncio.Event) -> None:
    """Lead when possible, stand by otherwise, until `stop` is set."""
    leadership = Leadership(hub.db, hub.settings.data_dir)
    try:
        while not stop.is_set():
            if not await leadership.try_acquire():
                await _wait(stop, LEADERSHIP_RETRY_SECONDS)
                continue
            log.info("this process is now the active scheduler")
            hub.metrics.up.labels(role="scheduler").set(1)
            scheduler = build_scheduler(hub)
            scheduler.start()
            try:
                while not stop.is_set() and await leadership.still_held():
                    await _wait(stop, LEADERSHIP_RETRY_SECONDS)
            finally:
                scheduler.pause()  # nothing new starts; what runs finishes
                await _finish(hub)
                scheduler.shutdown(wait=False)
                hub.metrics.up.labels(role="scheduler").set(0)
            if not stop.is_set():
                log.warning("lost scheduler leadership; standing by")
    finally:
        await leadership.release()


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
