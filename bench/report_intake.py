"""Benchmark: one-message hazard reports through the real bot, against a bare echo bot.

2,000 `/report <text>` messages from 400 residents in 20 bound grid groups go through the
real python-telegram-bot Application (every feature registered, the hub on SQLite in a temp
dir) polling the fake Bot API over loopback HTTP. The fake runs in a process of its own
(bench/fake_server.py), as Telegram is on another machine, and plays the residents from
there: latency is from the moment it queues an update to the moment it receives the bot's
reply (the ticket number, or "is this the same as #N?"), both on its clock. The baseline is
a bare PTB Application that echoes each message back, against a fresh fake process of its
own, driven the same way.

The reports go through the bot's intake (bot/intake.py), which files those that arrive
together in one unit of work; `--concurrency` sets how many residents wait for a reply at
once, and so how many reports can share one.

Both bots run without PTB's rate limiter: against a fake server Telegram's limits (30
messages/s, 20 a minute per group) would be all one measured. Cards queue in the outbox;
its sender is not running, as delivery is not intake.

Prints reports/s, p50/p99 update-to-reply latency, the bot process's CPU per message (both
bots are bound by it, so it explains the ratio) and the ratio to the echo bot.
Targets (restated in #12: a bot that files into a ledger against one that stores nothing):
closed-loop ratio to the echo bot >= 0.3, and p99 <= 5x the echo bot's p99 in the same run,
so the verdict does not depend on how fast the machine is.
Run: .venv/bin/python bench/report_intake.py
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402
from telegram import Update  # noqa: E402
from telegram.ext import Application, ContextTypes, MessageHandler, filters  # noqa: E402

from bench.fake_server import FakeServerProcess  # noqa: E402
from bot import polling  # noqa: E402
from bot.app import build_application  # noqa: E402
from hazards.models import Hazard  # noqa: E402
from hub import grids, people  # noqa: E402
from hub.core import Hub  # noqa: E402
from hub.models import Role  # noqa: E402
from hub.settings import load_settings  # noqa: E402
from tests.fakes.bot_api import Call, FakeBotAPI  # noqa: E402

TOKEN = "123:ABC"
REPORTS = 2000
RESIDENTS = 400
GRIDS = 20
WARMUP = 100
CONCURRENCY = 4
TARGET_RATIO = 0.3
TARGET_P99_TIMES_ECHO = 5.0  # p99 within this multiple of the echo bot's p99, same run

PLACES = ["楼道", "一楼大厅", "地下车库", "楼梯间", "后门", "车棚", "天台", "配电间"]
PROBLEMS = [
    "堆满纸箱和旧家具", "消防通道被铁门锁死", "灭火器过期了", "有人给电动车充电",
    "私拉电线乱接插座", "闻到煤气味", "店铺里住人", "墙上有很长的裂缝", "有人烧垃圾",
    "河边护栏断了", "堆放油漆桶", "脚手架没有防护",
]


class TimedAPI(FakeBotAPI):
    """The fake Bot API, telling the driver the moment each reply to a message arrives."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting: dict[tuple[int, int], asyncio.Future[float]] = {}

    def _record(self, call: Call, *, result: Any = None, error: dict[str, Any] | None = None) -> None:
        super()._record(call, result=result, error=error)
        if call.method != "sendMessage" or error is not None:
            return
        reply = call.params.get("reply_parameters") or {}
        key = (call.chat_id or 0, int(reply.get("message_id") or 0))
        future = self.waiting.pop(key, None)
        if future is not None and not future.done():
            future.set_result(time.perf_counter())


@dataclass(frozen=True)
class Message:
    chat: dict[str, Any]
    user: dict[str, Any]
    text: str


@dataclass
class Run:
    seconds: float
    latencies_ms: list[float]
    cpu_ms: float = 0.0  # the bot's process, per message, every thread

    @property
    def rate(self) -> float:
        return len(self.latencies_ms) / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def workload(api: FakeBotAPI, count: int, first_user: int, seed: int) -> list[Message]:
    """Distinct reports, each resident in their grid's group, spread round the groups."""
    rng = random.Random(seed)
    messages = []
    for i in range(count):
        user_id = first_user + i % RESIDENTS
        chat = api.group(-1000 - user_id % GRIDS)
        user = api.user(user_id, f"居民{user_id}")
        text = f"/report {rng.randint(1, 80)}号楼{rng.randint(1, 6)}单元{rng.choice(PLACES)}{rng.choice(PROBLEMS)}"
        messages.append(Message(chat, user, text))
    return messages


async def drive(api: TimedAPI, messages: list[Message], concurrency: int) -> Run:
    """Closed loop: `concurrency` senders, each waiting for its reply before the next."""
    latencies: list[float] = []
    queue = list(reversed(messages))

    async def sender() -> None:
        loop = asyncio.get_running_loop()
        while queue:
            message = queue.pop()
            future: asyncio.Future[float] = loop.create_future()
            started = time.perf_counter()
            update = api.send_message(message.chat, message.user, message.text)
            api.waiting[(message.chat["id"], update["message"]["message_id"])] = future
            replied = await asyncio.wait_for(future, 30)
            latencies.append((replied - started) * 1000)

    began = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(concurrency)))
    return Run(time.perf_counter() - began, latencies)


@dataclass(frozen=True)
class Batch:
    count: int
    first_user: int
    seed: int
    concurrency: int


async def drive_in_fake(api: TimedAPI, batch: Batch) -> tuple[Run, int]:
    """In the fake's process: play one batch; also how many replies asked "same as #N?"."""
    run = await drive(api, workload(api, batch.count, batch.first_user, batch.seed), batch.concurrency)
    asked = sum(1 for c in api.calls if c.method == "sendMessage" and "rs:" in str(c.params.get("reply_markup")))
    return run, asked


async def measure(
    start: Callable[[str], Awaitable[Application]], count: int, concurrency: int, seed: int
) -> tuple[Run, int]:
    server = FakeServerProcess(api_class=TimedAPI, driver=drive_in_fake)
    try:
        app = await start(server.base_url)
        try:
            await asyncio.to_thread(server.call, Batch(WARMUP, 90_000, seed + 1, concurrency))
            cpu = time.process_time()
            run, asked = await asyncio.to_thread(server.call, Batch(count, 10_000, seed, concurrency))
            run.cpu_ms = 1000 * (time.process_time() - cpu) / count
        finally:
            await asyncio.to_thread(server.release_pollers)
            await polling.stop(app)
    finally:
        server.stop()
    return run, asked


# --- the two bots ----------------------------------------------------------------------------


async def _echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message and update.effective_message.text
    await update.effective_message.reply_text(update.effective_message.text)


async def start_echo(base_url: str) -> Application:
    app = Application.builder().token(TOKEN).base_url(base_url).build()
    app.add_handler(MessageHandler(filters.TEXT, _echo))
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0.0, timeout=10)
    return app


async def seed_hub(hub: Hub) -> None:
    """A street office: one community of GRIDS grids, each with a worker and a bound group."""
    async with hub.db.session() as s:
        now = hub.now()
        specs = [grids.GridSpec("D1", "城厢区"), grids.GridSpec("S1", "南苑街道", "D1"),
                 grids.GridSpec("C1", "南苑社区", "S1")]
        specs += [grids.GridSpec(f"G{i:02d}", f"南苑社区第{i}网格", "C1") for i in range(GRIDS)]
        await grids.import_specs(s, specs, actor="bench", now=now)
        for i in range(GRIDS):
            worker = await people.appoint(s, telegram_id=5000 + i, name=f"网格员{i}", role=Role.WORKER,
                                          grid_code=f"G{i:02d}", actor="bench", now=now)
            await grids.bind_chat(s, actor=worker, telegram_chat_id=-1000 - i, title=f"网格群{i}",
                                  code=f"G{i:02d}", now=now)


def gridcast_starter(data_dir: Path, holder: dict[str, Hub]) -> Callable[[str], Awaitable[Application]]:
    async def start(base_url: str) -> Application:
        settings = load_settings(
            _env_file=None, data_dir=data_dir, telegram_token=TOKEN, telegram_api_url=base_url,
        )
        hub = await Hub.open(settings)
        holder["hub"] = hub
        await seed_hub(hub)
        app = build_application(hub, rate_limited=False)
        await polling.start(app)
        return app

    return start


async def main_async(count: int, concurrency: int, seed: int) -> int:
    logging.basicConfig(level=logging.WARNING)
    echo, _ = await measure(start_echo, count, concurrency, seed)
    holder: dict[str, Hub] = {}
    with tempfile.TemporaryDirectory(prefix="gridcast-bench-") as tmp:
        run, asked = await measure(gridcast_starter(Path(tmp), holder), count, concurrency, seed)
        hub = holder["hub"]
        async with hub.db.session() as s:
            filed = await s.scalar(select(func.count()).select_from(Hazard))
        await hub.close()
    ratio = run.rate / echo.rate
    p99 = run.percentile(99)
    print(f"report intake   {count} reports, concurrency {concurrency}, SQLite")
    print(f"  gridcast      {run.rate:8.1f} reports/s   p50 {run.percentile(50):6.1f} ms   p99 {p99:6.1f} ms")
    print(f"  echo bot      {echo.rate:8.1f} messages/s  p50 {echo.percentile(50):6.1f} ms   p99 {echo.percentile(99):6.1f} ms")
    print(f"  filed {filed} hazards (incl. {WARMUP} warm-up); {asked} answered with \"same as #N?\"")
    print(f"  mean latency  {statistics.fmean(run.latencies_ms):.1f} ms (echo {statistics.fmean(echo.latencies_ms):.1f} ms)")
    print(f"  bot CPU       {run.cpu_ms:.2f} ms a report (echo {echo.cpu_ms:.2f} ms a message)")
    print(f"ratio to echo   {ratio:.2f}   (target >= {TARGET_RATIO}: {'met' if ratio >= TARGET_RATIO else 'MISSED'})")
    p99_limit = TARGET_P99_TIMES_ECHO * echo.percentile(99)
    print(f"p99             {p99:.1f} ms = {p99 / echo.percentile(99):.1f}x echo's "
          f"(target <= {TARGET_P99_TIMES_ECHO:.0f}x = {p99_limit:.1f} ms: {'met' if p99 <= p99_limit else 'MISSED'})")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reports", type=int, default=REPORTS)
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    return asyncio.run(main_async(args.reports, args.concurrency, args.seed))


if __name__ == "__main__":
    sys.exit(main())
