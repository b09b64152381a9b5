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
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from telegram import Bot, InlineKeyboardMarkup, Message
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.request import HTTPXRequest

from broadcasts import outbox
from hub.core import Hub
from hub.heartbeats import INSTANCE

log = logging.getLogger(__name__)

IDLE_POLL_SECONDS = 0.25
GLOBAL_PER_SECOND = 30
GROUP_PER_MINUTE = 20


class Limiter:
    """Sliding windows over what was actually sent: overall per second, per group per minute.

    It answers "how long until this chat may be sent to" instead of sleeping itself, so the
    sender can hand a message back rather than hold a slot while a busy group cools down.
    """

    def __init__(
        self,
        per_second: int = GLOBAL_PER_SECOND,
        per_group_minute: int = GROUP_PER_MINUTE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_second = per_second
        self.per_group_minute = per_group_minute
        self.clock = clock
        self._all: deque[float] = deque()
        self._groups: dict[int, deque[float]] = defaultdict(deque)

    def wait_for(self, chat_id: int) -> float:
        now = self.clock()
        while self._all and now - self._all[0] >= 1.0:
            self._all.popleft()
        wait = 0.0
        if len(self._all) >= self.per_second:
            wait = 1.0 - (now - self._all[-self.per_second])
        if chat_id < 0:
            window = self._groups[chat_id]
            while window and now - window[0] >= 60.0:
                window.popleft()
            if len(window) >= self.per_group_minute:
                wait = max(wait, 60.0 - (now - window[-self.per_group_minute]))
        return max(0.0, wait)

    def take(self, chat_id: int) -> None:
        now = self.clock()
        self._all.append(now)
        if chat_id < 0:
            self._groups[chat_id].append(now)


async def _deliver(bot: Bot, envelope: outbox.Envelope) -> Message:
    payload = dict(envelope.payload)
    markup = payload.pop("reply_markup", None)
    if markup is not None:
        payload["reply_markup"] = InlineKeyboardMarkup.de_json(markup, bot)
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
    def __init__(
        self,
        hub: Hub,
        bot: Bot,
        *,
        concurrency: int = 8,
        limiter: Limiter | None = None,
        worker: str = INSTANCE,
        after_send: Callable[[outbox.Envelope, Message], Any] | None = None,
    ) -> None:
        self.hub = hub
        self.bot = bot
        self.concurrency = concurrency
        self.limiter = limiter
        self.worker = worker
        self.after_send = after_send
        self.wakeup = asyncio.Event()
        self._slots = asyncio.Semaphore(concurrency)

    async def run(self, stop: asyncio.Event) -> None:
        in_flight: set[asyncio.Task[None]] = set()
        while not stop.is_set():
            try:
                claimed = await self._claim(max(1, self.concurrency * 2 - len(in_flight)))
            except Exception:
                log.warning("outbox claim failed", exc_info=True)
                claimed = []
            for envelope in claimed:
                await self._slots.acquire()
                task = asyncio.create_task(self._send_one(envelope))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
            if not claimed:
                self.wakeup.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wakeup.wait(), IDLE_POLL_SECONDS)
        if in_flight:
            await asyncio.gather(*in_flight, return_exceptions=True)

    async def drain(self, max_seconds: float = 30.0) -> None:
        """Send until nothing is due (tests and the CLI use this instead of `run`)."""
        deadline = time.monotonic() + max_seconds
        while time.monotonic() < deadline:
            claimed = await self._claim(self.concurrency * 2)
            if not claimed:
                return
            await asyncio.gather(*(self._limited(e) for e in claimed))

    async def _limited(self, envelope: outbox.Envelope) -> None:
        await self._slots.acquire()
        await self._send_one(envelope)

    async def _claim(self, limit: int) -> list[outbox.Envelope]:
        lease = timedelta(seconds=self.hub.settings.outbox_lease_seconds)
        async with self.hub.db.session() as session:
            return await outbox.claim(
                session, worker=self.worker, now=self.hub.now(), limit=limit, lease=lease
            )

    async def _send_one(self, envelope: outbox.Envelope) -> None:
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
            await self._attempt(envelope)
        except Exception:
            log.exception("outbox message %s could not be handled", envelope.id)
        finally:
            self._slots.release()

    async def _attempt(self, envelope: outbox.Envelope) -> None:
        try:
            message = await _deliver(self.bot, envelope)
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
            await self._record(outbox.mark_sent, envelope.id, telegram_message_id=message.message_id)
            if self.after_send is not None:
                await self.after_send(envelope, message)

    async def _record(self, action: Callable[..., Any], message_id: int, **kwargs: Any) -> None:
        async with self.hub.db.session() as session:
            await action(session, message_id, now=self.hub.now(), **kwargs)


def sender_bot(hub: Hub) -> Bot:
    """A Bot of its own for the outbox: our limiter paces it, so PTB's must not as well."""
    settings = hub.settings
    assert settings.token is not None
    kwargs: dict[str, Any] = {}
    if settings.telegram_api_url:
        from bot.app import file_url

        kwargs = {"base_url": settings.telegram_api_url, "base_file_url": file_url(settings.telegram_api_url)}
    timeout = settings.send_timeout_seconds
    request = HTTPXRequest(
        connection_pool_size=max(32, settings.send_concurrency * 2),
        read_timeout=timeout, write_timeout=timeout, connect_timeout=timeout, pool_timeout=timeout,
    )
    return Bot(settings.token, request=request, **kwargs)


def configured_limiter(hub: Hub) -> Limiter:
    return Limiter(hub.settings.send_per_second, hub.settings.send_per_group_minute)


async def run_sender(hub: Hub, stop: asyncio.Event) -> None:
    async with sender_bot(hub) as bot:
        sender = OutboxSender(
            hub, bot, concurrency=hub.settings.send_concurrency, limiter=configured_limiter(hub)
        )
        await sender.run(stop)
