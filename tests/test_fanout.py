"""Delivering one warning to 1,000 chats: through injected faults, and across a kill -9."""

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

from bot.delivery import Limiter, OutboxSender, sender_bots
from broadcasts.warnings import lifecycle as warnings
from hub import outbox
from hub.core import Hub
from tests.conftest import TOKEN, make_settings
from tests.fanout import deliveries, seed_area

CHATS = 1000


async def _run_clock(clock, stop):
    """Outbox retries wait in hub time; let hub time run fast so backoffs take milliseconds."""
    while not stop.is_set():
        clock.advance(timedelta(seconds=0.5))
        await asyncio.sleep(0.01)


async def test_a_warning_reaches_all_1000_chats_through_20_percent_faults(tmp_path, sqlite_url, clock, telegram):
    settings = make_settings(tmp_path, database_url=sqlite_url, telegram_token=TOKEN,
                             telegram_api_url=telegram.base_url, send_timeout_seconds=0.3)
    hub = await Hub.open(settings, clock=clock, upgrade=False)
    try:
        warning_id = await seed_area(hub, CHATS)
        telegram.set_faults(0.2, ("429", "5xx", "slow"), methods={"sendMessage"}, slow_seconds=0.5)
        stop = asyncio.Event()
        ticking = asyncio.create_task(_run_clock(clock, stop))
        async with sender_bots(hub) as bots:
            sender = OutboxSender(hub, bots, limiter=Limiter(per_second=1000))
            running = asyncio.create_task(sender.run(stop))
            deadline = time.monotonic() + 90
            report: dict[str, int] = {}
            while time.monotonic() < deadline:
                async with hub.db.session() as s:
                    report = await outbox.report(s, warnings.OUTBOX_REF, warning_id)
                if report["sent"] + report["failed"] == CHATS:
                    break
                await asyncio.sleep(0.2)
            stop.set()
            await running
        await ticking
        assert report["sent"] == CHATS and report["failed"] == 0
        assert len(deliveries(telegram.calls)) == CHATS
        faults = telegram.fault_counts
        assert faults["429"] > 50 and faults["5xx"] > 50 and faults["slow"] > 50
    finally:
        await hub.close()


def _start_bot(tmp_path, database_url, api_url, concurrency):
    env = {
        "PATH": os.environ["PATH"],
        "GRIDCAST_DATA_DIR": str(tmp_path),
        "GRIDCAST_DATABASE_URL": database_url,
        "GRIDCAST_TELEGRAM_TOKEN": TOKEN,
        "GRIDCAST_TELEGRAM_API_URL": api_url,
        "GRIDCAST_SEND_PER_SECOND": "300",
        "GRIDCAST_SEND_CONCURRENCY": str(concurrency),
        "GRIDCAST_OUTBOX_LEASE_SECONDS": "2",
    }
    log = open(tmp_path / "bot.log", "ab")  # noqa: SIM115 - the child process writes it
    return subprocess.Popen([sys.executable, "-m", "cli", "bot"], env=env, cwd=tmp_path,
                            stdout=log, stderr=subprocess.STDOUT)


def _wait(process, tmp_path, condition, seconds):
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError((tmp_path / "bot.log").read_text())
        time.sleep(0.01)


async def test_kill_9_mid_broadcast_then_restart_delivers_all_with_bounded_duplicates(
    tmp_path, db_url, telegram
):
    """On SQLite and on PostgreSQL, where senders claim with FOR UPDATE SKIP LOCKED."""
    concurrency = 8
    hub = await Hub.open(make_settings(tmp_path, database_url=db_url), upgrade=False)
    try:
        warning_id = await seed_area(hub, CHATS)
    finally:
        await hub.close()

    process = _start_bot(tmp_path, db_url, telegram.base_url, concurrency)
    try:
        await asyncio.to_thread(_wait, process, tmp_path, lambda: len(deliveries(telegram.calls)) >= 300, 60)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        at_kill = len(deliveries(telegram.calls))
        assert 300 <= at_kill < CHATS, "the kill must land mid-broadcast"

        process = _start_bot(tmp_path, db_url, telegram.base_url, concurrency)
        await asyncio.to_thread(_wait, process, tmp_path, lambda: len(deliveries(telegram.calls)) >= CHATS, 90)
        counts = deliveries(telegram.calls)
        assert len(counts) == CHATS
        hub = await Hub.open(make_settings(tmp_path, database_url=db_url), upgrade=False)
        try:
            for _ in range(50):  # the last sends are marked a moment after the fake records them
                async with hub.db.session() as s:
                    report = await outbox.report(s, warnings.OUTBOX_REF, warning_id)
                if report["sent"] == CHATS:
                    break
                await asyncio.sleep(0.1)
        finally:
            await hub.close()
        assert report["sent"] == CHATS
        duplicates = sum(counts.values()) - CHATS
        assert duplicates <= concurrency
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=15)
        telegram.release_pollers()
