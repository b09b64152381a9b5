"""Benchmark: one warning to 1,000 chats through the delivery outbox and the fake Bot API.

(a) Limiter off: the outbox sender (claim in batches, send over one connection per lane,
    record each outcome with a group commit, on SQLite) against a bare python-telegram-bot loop sending the same 1,000
    messages to the same fake server. Prints messages/s and the ratio to the loop. Target:
    ratio >= 0.7. For reference it also prints the ratio to the same loop spread over as
    many tasks as the sender uses — the cost of remembering every send, which a crash-safe
    outbox pays and a bare loop does not.
(b) Limiter on, against a fake server that enforces Telegram's limits (30 messages/s per bot,
    20/min per group) and answers 429 past them: the sustained rate as a share of the
    configured ceiling, and how many 429s came back. Target: >= 95%, no 429.

Run: .venv/bin/python bench/fanout.py [--chats N] [--skip-limited]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from telegram import Bot
from telegram.request import HTTPXRequest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the fake server lives in tests/

from bench.fake_server import FakeServerProcess
from bot.delivery import OutboxSender, configured_limiter, sender_bots
from broadcasts.warnings import lifecycle as warnings
from hub import migrate, outbox
from hub.core import Hub
from hub.db import Database
from hub.settings import load_settings
from tests.fanout import TEXT, seed_area

TARGET_RATIO = 0.7
TARGET_SHARE = 0.95
CONCURRENCY = 8
TOKEN = "123:ABC"


async def _hub(folder: Path, api_url: str) -> Hub:
    url = f"sqlite+aiosqlite:///{folder / 'gridcast.db'}"
    db = Database(url)
    await migrate.upgrade(db)
    await db.dispose()
    settings = load_settings(_env_file=None, data_dir=folder, database_url=url, telegram_token=TOKEN,
                             telegram_api_url=api_url, send_concurrency=CONCURRENCY)
    return await Hub.open(settings, upgrade=False)


async def _drain(hub: Hub, bots: list[Bot], warning_id: int, chats: int, *, limited: bool) -> float:
    """Seconds until every message of the warning is marked sent."""
    stop = asyncio.Event()
    done = asyncio.Event()
    marked = 0

    async def counted(envelope: outbox.Envelope, message: object) -> None:
        nonlocal marked
        marked += 1
        if marked >= chats:
            done.set()

    sender = OutboxSender(hub, bots, after_send=counted,
                          limiter=configured_limiter(hub) if limited else None)
    started = time.perf_counter()
    running = asyncio.create_task(sender.run(stop))
    await done.wait()
    elapsed = time.perf_counter() - started
    stop.set()
    await running
    async with hub.db.session() as session:
        report = await outbox.report(session, warnings.OUTBOX_REF, warning_id)
    if report["sent"] != chats:
        raise SystemExit(f"only {report['sent']} of {chats} messages marked sent: {report}")
    return elapsed


async def _bare_loop(api_url: str, chats: int, concurrency: int) -> float:
    """The baseline: python-telegram-bot sending the same text to each chat, nothing else.

    With concurrency 1 it is the plain `for chat in chats: await bot.send_message(…)` loop;
    with the sender's concurrency it is the same loop spread over as many tasks.
    """
    request = HTTPXRequest(connection_pool_size=max(4, concurrency * 4))
    slots = asyncio.Semaphore(concurrency)
    text = warnings.parse_command(TEXT).text

    async def one(bot: Bot, chat_id: int) -> None:
        async with slots:
            await bot.send_message(chat_id, text)

    async with Bot(TOKEN, base_url=api_url, request=request) as bot:
        started = time.perf_counter()
        await asyncio.gather(*(one(bot, -2_000_000 - i) for i in range(chats)))
        return time.perf_counter() - started


async def unlimited(chats: int) -> float:
    server = FakeServerProcess()
    try:
        with tempfile.TemporaryDirectory() as folder:
            hub = await _hub(Path(folder), server.base_url)
            try:
                warning_id = await seed_area(hub, chats)
                async with sender_bots(hub) as bots:
                    ours = await _drain(hub, bots, warning_id, chats, limited=False)
            finally:
                await hub.close()
        delivered = server.stats()["chats"]
        loop = await _bare_loop(server.base_url, chats, 1)
        spread = await _bare_loop(server.base_url, chats, CONCURRENCY)
    finally:
        server.stop()
    ratio = loop / ours
    print(f"(a) limiter off, {chats} chats, SQLite; the sender runs {CONCURRENCY} sends at a time")
    print(f"    outbox sender: {chats / ours:8.1f} messages/s ({ours:.2f} s, {delivered} delivered)")
    print(f"    bare PTB send loop: {chats / loop:8.1f} messages/s ({loop:.2f} s)")
    print(f"    ratio: {ratio:.2f} (target >= {TARGET_RATIO})")
    print(f"    for reference, the bare loop over {CONCURRENCY} tasks: {chats / spread:.1f} messages/s; "
          f"ratio {spread / ours:.2f}")
    return ratio


async def limited(chats: int) -> float:
    server = FakeServerProcess(limits=(30, 20))
    try:
        with tempfile.TemporaryDirectory() as folder:
            hub = await _hub(Path(folder), server.base_url)
            try:
                ceiling = hub.settings.send_per_second
                warning_id = await seed_area(hub, chats)
                async with sender_bots(hub) as bots:
                    elapsed = await _drain(hub, bots, warning_id, chats, limited=True)
            finally:
                await hub.close()
        stats = server.stats()
    finally:
        server.stop()
    sends = sorted(stats["times"])
    span = sends[-1] - sends[0]
    rate = (len(sends) - 1) / span  # messages between the first and the last send
    share = rate / ceiling
    print(f"(b) limiter on ({ceiling}/s, 20/min per group), fake server enforcing Telegram's limits")
    print(f"    sustained: {rate:.2f} messages/s over {span:.1f} s ({elapsed:.1f} s in all)")
    print(f"    share of the configured ceiling: {share:.1%} (target >= {TARGET_SHARE:.0%}); "
          f"429s received: {stats['refused']}")
    return share if stats["refused"] == 0 else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=1000)
    parser.add_argument("--skip-limited", action="store_true", help="only (a): (b) takes ~35 s")
    args = parser.parse_args()
    ratio = asyncio.run(unlimited(args.chats))
    share = 1.0 if args.skip_limited else asyncio.run(limited(args.chats))
    met = ratio >= TARGET_RATIO and share >= TARGET_SHARE
    print("targets met" if met else "targets MISSED")
    return 0


if __name__ == "__main__":
    sys.exit(main())
