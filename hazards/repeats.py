"""The open questions "is this the same as #N?": kept for the reporter's answer, and counted.

When a draft may repeat open reports, nothing is filed: the reporter is asked first. The
question is kept in the database (hub.conversations, keyed by the reporter's Telegram id, as
`report_same:<N>`), numbered 1, 2… among that reporter's open ones, with the draft, the grid
and the reports it offered, so the answer can come to any bot process, after a restart too,
and can name only a report that was offered.

An open question is work done for a report and counts against the hourly limit like one
(hazards.intake); answered, it becomes the report that then counts, so it is never counted
twice. It expires after a day unanswered.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from hub import conversations
from hub.errors import InvalidInput

FLOW = "report_same:"
TTL = timedelta(hours=24)


@dataclass(frozen=True)
class Ask:
    """A question to keep: for whom, and what answering it files."""

    telegram_id: int
    draft: dict[str, Any]
    grid_id: int
    candidates: list[int]


async def asked_since(
    session: AsyncSession, telegram_ids: Iterable[int], since: datetime, *, now: datetime
) -> dict[int, list[datetime]]:
    """When each of these people was asked the questions still open that were asked after `since`."""
    asked: dict[int, list[datetime]] = {}
    for telegram_id, _, at in await conversations.begun(session, telegram_ids, FLOW, now=now):
        if at > since:
            asked.setdefault(telegram_id, []).append(at)
    return asked


async def ask(session: AsyncSession, asks: list[Ask], *, now: datetime) -> list[int]:
    """Keep the questions open; returns each one's number for its reporter."""
    last: dict[int, int] = {}
    for telegram_id, flow, _ in await conversations.begun(session, {a.telegram_id for a in asks}, FLOW, now=now):
        number = flow.removeprefix(FLOW)
        if number.isdigit():
            last[telegram_id] = max(last.get(telegram_id, 0), int(number))
    numbers = []
    for a in asks:
        number = last[a.telegram_id] = last.get(a.telegram_id, 0) + 1
        state = {"draft": a.draft, "grid_id": a.grid_id, "candidates": a.candidates}
        await conversations.put(session, a.telegram_id, f"{FLOW}{number}", state, now=now, ttl=TTL)
        numbers.append(number)
    return numbers


async def answer(
    session: AsyncSession, telegram_id: int | None, question: int, same_as: int | None, *, now: datetime
) -> tuple[dict[str, Any], int]:
    """Close this person's question `question` by their answer (`same_as` one of the reports
    it offered, or None); returns its draft and grid, to be filed.

    Refused, with nothing changed, when the question is not their open one (answered already,
    expired, never asked of them) or the report named was not among those offered.
    """
    flow = f"{FLOW}{question}"
    state = None if telegram_id is None else await conversations.get(session, telegram_id, flow, now=now)
    if state is None or (same_as is not None and same_as not in state["candidates"]):
        raise InvalidInput("hazard.flow_expired")
    assert telegram_id is not None
    if await conversations.take(session, telegram_id, flow, now=now) is None:  # answered meanwhile
        raise InvalidInput("hazard.flow_expired")
    return state["draft"], state["grid_id"]
