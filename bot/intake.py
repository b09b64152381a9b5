"""Reports filed together: what several chats report at the same moment, in one unit of work.

Filing a report costs the same handful of statements whoever sends it, and each report paid
for a unit of work of its own: a connection, its reads, a commit. That, not the similarity
check or Telegram, bounded how many reports a second the bot could take. The intake queues
the reports that arrive while a unit of work is running and files them all in the next one
(`hazards.intake.submit_many`), each with the outcome it would have had alone. The reply — the
ticket number — still goes out only after the report is committed.

A report's sender stays in order: any later update of theirs waits until the report is
committed (`settled`), so a location sent right after a report finds it. Updates are handled
one at a time, so while one waits nobody else's is read: that wait is one unit of work long.
Only one-message text reports are queued without waiting (bot.report); a photo report, a
guided report's confirmation and an answer to "is this the same as #N?" wait for their own
filing, and share a unit of work only with what was already queued.

If a unit of work fails as a whole, its reports are filed again one by one, so one bad
report cannot sink the reports of other people that happened to share its moment.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update
from telegram.ext import Application

from bot.context import Sender, identify_many
from hazards import delivery as hazard_delivery
from hazards import intake as hazard_intake
from hazards.intake import Draft, Filed, Similar, Submission
from hub.core import Hub
from hub.errors import HubError

log = logging.getLogger(__name__)

MAX_BATCH = 64  # reports in one unit of work
CHAT_GRID: Literal["chat"] = "chat"  # file in the grid bound to the chat the report came from
KEY = "intake"  # in bot_data


@dataclass(frozen=True)
class Outcome:
    sender: Sender
    result: Filed | Similar  # a Similar's question is kept open already (hazards.repeats)


@dataclass
class _Item:
    update: Update
    draft: Draft
    grid: int | Literal["chat"] | None
    offer_similar: bool
    future: asyncio.Future[Outcome]
    finished: bool = False

    @property
    def user_id(self) -> int:
        assert self.update.effective_user is not None
        return self.update.effective_user.id


def _settle(future: asyncio.Future[Outcome], outcome: Outcome | BaseException) -> None:
    if future.done():  # its handler was cancelled meanwhile
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


class Intake:
    def __init__(self, hub: Hub) -> None:
        self._hub = hub
        self._queue: list[_Item] = []
        self._drain: asyncio.Task[None] | None = None
        self._filing: dict[int, int] = {}  # Telegram user id -> their reports queued or being filed
        self._settled: dict[int, asyncio.Event] = {}

    def enqueue(
        self,
        update: Update,
        draft: Draft,
        *,
        grid: int | Literal["chat"] | None = CHAT_GRID,
        offer_similar: bool = True,
    ) -> asyncio.Future[Outcome]:
        """Queue a report; the future holds its outcome once committed, or the refusal.

        Synchronous on purpose: the sender counts as busy before the caller yields, so their
        next update cannot overtake this one.
        """
        if update.effective_user is None:
            raise ValueError("a report without a sender")
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        item = _Item(update, draft, grid, offer_similar, future)
        self._queue.append(item)
        self._filing[item.user_id] = self._filing.get(item.user_id, 0) + 1
        if self._drain is None or self._drain.done():
            self._drain = asyncio.create_task(self._run(), name="gridcast-intake")
        return future

    async def file(
        self,
        update: Update,
        draft: Draft,
        *,
        grid: int | Literal["chat"] | None = CHAT_GRID,
        offer_similar: bool = True,
    ) -> Outcome:
        return await self.enqueue(update, draft, grid=grid, offer_similar=offer_similar)

    def busy(self, user_id: int) -> bool:
        return user_id in self._filing

    async def settled(self, user_id: int) -> None:
        """Return once nothing this person reported is waiting to be committed."""
        while user_id in self._filing:
            await self._settled.setdefault(user_id, asyncio.Event()).wait()

    async def _run(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
            try:
                await self._file_batch(batch)
            except BaseException:  # cancelled: nobody may wait forever for what is left
                left, self._queue = [*batch, *self._queue], []
                for item in left:
                    self._finish(item, RuntimeError("the intake stopped before this report was filed"))
                raise

    async def _file_batch(self, batch: list[_Item]) -> None:
        try:
            async with self._hub.db.session() as session:
                outcomes = await self._file_in(session, batch)
        except Exception as error:
            if len(batch) == 1:
                self._finish(batch[0], error)
                return
            log.warning("filing %d reports together failed; filing them one by one", len(batch), exc_info=True)
            for item in batch:
                await self._file_batch([item])
            return
        for item, outcome in zip(batch, outcomes, strict=True):
            self._finish(item, outcome)

    async def _file_in(self, session: AsyncSession, batch: list[_Item]) -> list[Outcome | HubError]:
        hub = self._hub
        senders = await identify_many(session, hub, [item.update for item in batch])
        grids = [
            (sender.chat.grid_id if sender.chat else None) if item.grid == CHAT_GRID else item.grid
            for item, sender in zip(batch, senders, strict=True)
        ]
        submissions = [
            Submission(sender.person, item.draft, grid_id, item.offer_similar)
            for item, sender, grid_id in zip(batch, senders, grids, strict=True)
        ]
        results = await hazard_intake.submit_many(
            session, submissions, now=hub.now(), limit_per_hour=hub.settings.report_limit_per_hour
        )
        await hazard_delivery.deliver(
            session, hub, [notice for result in results if isinstance(result, Filed) for notice in result.notices]
        )
        return [
            result if isinstance(result, HubError) else Outcome(sender, result)
            for sender, result in zip(senders, results, strict=True)
        ]

    def _finish(self, item: _Item, outcome: Outcome | BaseException) -> None:
        if item.finished:
            return
        item.finished = True
        _settle(item.future, outcome)
        left = self._filing[item.user_id] - 1
        if left:
            self._filing[item.user_id] = left
            return
        del self._filing[item.user_id]
        event = self._settled.pop(item.user_id, None)
        if event is not None:
            event.set()


def intake_of(app: Application) -> Intake:
    intake: Intake = app.bot_data[KEY]
    return intake


def install(app: Application, hub: Hub) -> Intake:
    intake = app.bot_data[KEY] = Intake(hub)
    return intake
