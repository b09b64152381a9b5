"""Draining the outbox into Telegram, within Telegram's limits.

The sender claims due rows, waits for the rate limiter, sends, and records the outcome of
each message in its own small transaction: RetryAfter puts the message back untried for as
long as Telegram asks, network errors and 5xx back off and retry, Forbidden deactivates the
chat, ChatMigrated moves the binding. What a crash interrupts is claimed again when its
lease runs out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection
from telegram import Bot, Message
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.request import HTTPXRequest

from bot import keyboards
from hub import outbox
from hub.core import Hub
from hub.heartbeats import INSTANCE

log = logging.getLogger(__name__)

IDLE_POLL_SECONDS = 0.25
CLAIM_DEPTH = 6  # rows leased per sender: this many times its concurrency
EXPIRY_SWEEP_SECONDS = 5.0
MARK_LINGER_SECONDS = 0.003
GLOBAL_PER_SECOND = 30
GROUP_PER_MINUTE = 20


class Limiter:
    """Paces sends under Telegram's limits: evenly overall, and per group in a sliding minute.

    Sends are spaced evenly rather than let out in bursts, and a little under the ceiling
    (SAFETY), because Telegram counts requests as they arrive while we count them as they
    leave: jitter between the two must not tip a full window over the limit. It answers
    "how long until this chat may be sent to" instead of sleeping itself, so the sender can
    hand a message back rather than hold a slot while a busy group cools down.
    """

    SAFETY = 0.03

    def __init__(
        self,
        per_second: int = GLOBAL_PER_SECOND,
        per_group_minute: int = GROUP_PER_MINUTE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_second = per_second
        self.per_group_minute = per_group_minute
        self.clock = clock
        self._gap = (1.0 + self.SAFETY) / per_second
        self._group_window = 60.0 * (1.0 + self.SAFETY)
        self._next = 0.0
        self._groups: dict[int, deque[float]] = defaultdict(deque)

    def wait_for(self, chat_id: int) -> float:
        now = self.clock()
        wait = self._next - now
        if chat_id < 0:
            window = self._groups[chat_id]
            while window and now - window[0] >= self._group_window:
                window.popleft()
            if len(window) >= self.per_group_minute:
                wait = max(wait, self._group_window - (now - window[-self.per_group_minute]))
        return max(0.0, wait)

    def take(self, chat_id: int) -> None:
        now = self.clock()
        # A send that left a little late lets the next one catch up by at most half a gap,
        # so no window of one second can hold more than the ceiling.
        self._next = max(now - self._gap / 2, self._next) + self._gap
        if chat_id < 0:
            self._groups[chat_id].append(now)


async def _deliver(bot: Bot, envelope: outbox.Envelope) -> Message:
    payload = dict(envelope.payload)
    markup = keyboards.of_payload(payload, bot)
    payload.pop("buttons", None)
    payload.pop("reply_markup", None)
    if markup is not None:
        payload["reply_markup"] = markup
    if envelope.kind == "text":
        pin = payload.pop("pin", False)
        message = await bot.send_message(envelope.chat_id, **payload)
        if pin and envelope.chat_id < 0:
            await _pin(bot, message)
        return message
    if envelope.kind in {"photo", "voice", "audio", "document"}:
        path = payload.pop("path")
        with open(path, "rb") as handle:  # noqa: ASYNC230 - small files, streamed by httpx
            sender = getattr(bot, f"send_{envelope.kind}")
            return await sender(envelope.chat_id, handle, **payload)
    raise ValueError(f"unknown outbox kind {envelope.kind!r}")


async def _pin(bot: Bot, message: Message) -> None:
    """Pin an urgent warning; a group that gave the bot no right to pin still has the message."""
    try:
        await bot.pin_chat_message(message.chat_id, message.message_id, disable_notification=False)
    except (BadRequest, Forbidden) as error:
        log.info("could not pin in chat %s: %s", message.chat_id, error.message)


class OutboxSender:
    """Drains the outbox through `concurrency` lanes, each a Bot with one HTTP connection.

    Lanes instead of one shared connection pool: httpcore scans its whole pool on every
    request, which made the pool the sender's largest CPU cost; a lane is also the slot that
    bounds how many sends can be unrecorded at once. Given one Bot, every lane shares it.
    """

    def __init__(
        self,
        hub: Hub,
        bot: Bot | Sequence[Bot],
        *,
        concurrency: int | None = None,
        limiter: Limiter | None = None,
        worker: str = INSTANCE,
        after_send: Callable[[outbox.Envelope, Message], Any] | None = None,
    ) -> None:
        self.hub = hub
        lanes = [bot] if isinstance(bot, Bot) else list(bot)
        self.concurrency = concurrency or (len(lanes) if len(lanes) > 1 else 8)
        self._lanes: asyncio.Queue[Bot] = asyncio.Queue()
        for index in range(self.concurrency):
            self._lanes.put_nowait(lanes[index % len(lanes)])
        self.limiter = limiter
        self.worker = worker
        self.after_send = after_send
        self.wakeup = asyncio.Event()
        self._marks: list[tuple[int, int, asyncio.Future[None]]] = []
        self._marks_due = asyncio.Event()
        # The sender's own writes take turns: on SQLite two of them at once would make one
        # sleep in the busy handler, which costs far more than waiting here.
        self._writing = asyncio.Lock()
        self._connection: AsyncConnection | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Claim, send and record until `stop`; a batch is claimed once there is room for it."""
        in_flight: set[asyncio.Task[None]] = set()
        writer = asyncio.create_task(self._write_marks())
        next_sweep = 0.0
        try:
            while not stop.is_set():
                if time.monotonic() >= next_sweep:
                    next_sweep = time.monotonic() + EXPIRY_SWEEP_SECONDS
                    await self._expire()
                claimed: list[outbox.Envelope] = []
                room = self.concurrency * CLAIM_DEPTH - len(in_flight)
                if room >= self.concurrency * 2:
                    try:
                        claimed = await self._claim(room)
                    except Exception:
                        log.warning("outbox claim failed", exc_info=True)
                for envelope in claimed:
                    task = asyncio.create_task(self._send_one(envelope))
                    in_flight.add(task)
                    task.add_done_callback(in_flight.discard)
                if claimed or len(in_flight) >= self.concurrency:
                    if in_flight:  # wait for a slot's worth of room, or for new work to be due
                        await asyncio.wait(in_flight, timeout=IDLE_POLL_SECONDS,
                                           return_when=asyncio.FIRST_COMPLETED)
                    continue
                self.wakeup.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wakeup.wait(), IDLE_POLL_SECONDS)
            if in_flight:
                await asyncio.gather(*in_flight, return_exceptions=True)
        finally:
            await self._finish(writer)

    async def drain(self, max_seconds: float = 30.0) -> None:
        """Send until nothing is due (tests and the CLI use this instead of `run`)."""
        writer = asyncio.create_task(self._write_marks())
        deadline = time.monotonic() + max_seconds
        try:
            await self._expire()
            while time.monotonic() < deadline:
                claimed = await self._claim(self.concurrency * CLAIM_DEPTH)
                if not claimed:
                    return
                await asyncio.gather(*(self._send_one(e) for e in claimed))
        finally:
            await self._finish(writer)

    async def _finish(self, writer: asyncio.Task[None]) -> None:
        """Stop the mark writer, store what it still held, and let go of the connection."""
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await writer
        await self._flush_marks()
        await self._close_connection()

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncConnection]:
        """The sender's hot path writes on one connection of its own, one transaction at a time.

        Keeping the connection saves a pool checkout and reset per transaction; a failure drops
        it, and the next transaction connects afresh.
        """
        async with self._writing:
            if self._connection is None or self._connection.closed:
                self._connection = await self.hub.db.engine.connect()
            try:
                async with self._connection.begin():
                    yield self._connection
            except BaseException:
                await self._close_connection()
                raise

    async def _close_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close()

    async def _expire(self) -> None:
        try:
            async with self.hub.db.session() as session:
                await outbox.expire(session, now=self.hub.now())
        except Exception:
            log.warning("outbox expiry sweep failed", exc_info=True)

    async def _claim(self, limit: int) -> list[outbox.Envelope]:
        lease = timedelta(seconds=self.hub.settings.outbox_lease_seconds)
        async with self._transaction() as connection:
            return await outbox.claim(
                connection, worker=self.worker, now=self.hub.now(), limit=limit, lease=lease
            )

    async def _send_one(self, envelope: outbox.Envelope) -> None:
        """One message, holding a slot until its outcome is stored.

        A lane is released only after the row is marked, so at most `concurrency` messages
        are ever sent-but-unrecorded: the most a crash can duplicate.
        """
        bot = await self._lanes.get()
        try:
            if self.limiter is not None:
                wait = self.limiter.wait_for(envelope.chat_id)
                if wait > 5.0:
                    await self._record(outbox.release, envelope.id, after=timedelta(seconds=wait))
                    return
                while wait > 0:
                    await asyncio.sleep(wait)
                    wait = self.limiter.wait_for(envelope.chat_id)
                self.limiter.take(envelope.chat_id)
            await self._attempt(envelope, bot)
        except Exception:
            log.exception("outbox message %s could not be handled", envelope.id)
        finally:
            self._lanes.put_nowait(bot)

    async def _mark_sent(self, envelope: outbox.Envelope, message_id: int) -> None:
        """Queue the 'sent' mark for the writer and wait until it is committed."""
        done = asyncio.get_running_loop().create_future()
        self._marks.append((envelope.id, message_id, done))
        self._marks_due.set()
        await done

    async def _write_marks(self) -> None:
        """Group commit: every mark that arrived while the last commit ran goes in the next."""
        while True:
            await self._marks_due.wait()
            self._marks_due.clear()
            # Linger a moment for more marks when few have come: fewer, fuller transactions.
            deadline = time.monotonic() + MARK_LINGER_SECONDS
            while len(self._marks) < self.concurrency // 2 and time.monotonic() < deadline:
                self._marks_due.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._marks_due.wait(), deadline - time.monotonic())
            await self._flush_marks()

    async def _flush_marks(self) -> None:
        batch, self._marks = self._marks, []
        if not batch:
            return
        try:
            async with self._transaction() as connection:
                await outbox.mark_sent_many(
                    connection, [(row, message_id) for row, message_id, _ in batch], now=self.hub.now()
                )
        except Exception as error:
            for _, _, done in batch:
                if not done.done():
                    done.set_exception(error)
            return
        for _, _, done in batch:
            if not done.done():
                done.set_result(None)

    async def _attempt(self, envelope: outbox.Envelope, bot: Bot) -> None:
        try:
            message = await _deliver(bot, envelope)
        except RetryAfter as error:
            seconds = error.retry_after
            after = seconds if isinstance(seconds, timedelta) else timedelta(seconds=seconds)
            await self._record(outbox.release, envelope.id, after=after)
        except ChatMigrated as error:
            async with self.hub.db.session() as session:
                await outbox.chat_migrated(session, envelope.chat_id, error.new_chat_id)
        except Forbidden as error:
            log.info("chat %s is gone: %s", envelope.chat_id, error.message)
            async with self.hub.db.session() as session:
                await outbox.chat_gone(session, envelope.chat_id, now=self.hub.now(), error=error.message)
        except BadRequest as error:
            await self._record(outbox.mark_failed, envelope.id, error=error.message)
        except (TimedOut, NetworkError) as error:
            async with self.hub.db.session() as session:
                await outbox.mark_retry(
                    session, envelope.id, now=self.hub.now(), error=str(error),
                    attempts=envelope.attempts,
                )
        else:
            await self._mark_sent(envelope, message.message_id)
            if self.after_send is not None:
                await self.after_send(envelope, message)

    async def _record(self, action: Callable[..., Any], message_id: int, **kwargs: Any) -> None:
        async with self._writing, self.hub.db.session() as session:
            await action(session, message_id, now=self.hub.now(), **kwargs)


def sender_bot(hub: Hub) -> Bot:
    """One lane of the outbox: a Bot with a single connection, paced by our limiter, not PTB's."""
    settings = hub.settings
    assert settings.token is not None
    kwargs: dict[str, Any] = {}
    if settings.telegram_api_url:
        from bot.app import file_url

        kwargs = {"base_url": settings.telegram_api_url, "base_file_url": file_url(settings.telegram_api_url)}
    timeout = settings.send_timeout_seconds
    request = HTTPXRequest(
        connection_pool_size=1,
        read_timeout=timeout, write_timeout=timeout, connect_timeout=timeout, pool_timeout=timeout,
    )
    return Bot(settings.token, request=request, **kwargs)


@contextlib.asynccontextmanager
async def sender_bots(hub: Hub) -> AsyncIterator[list[Bot]]:
    """As many lanes as the configured concurrency, opened and closed together."""
    async with contextlib.AsyncExitStack() as stack:
        yield [await stack.enter_async_context(sender_bot(hub))
               for _ in range(hub.settings.send_concurrency)]


def configured_limiter(hub: Hub) -> Limiter:
    return Limiter(hub.settings.send_per_second, hub.settings.send_per_group_minute)


async def run_sender(hub: Hub, stop: asyncio.Event) -> None:
    async with sender_bots(hub) as bots:
        sender = OutboxSender(hub, bots, limiter=configured_limiter(hub))
        await sender.run(stop)
