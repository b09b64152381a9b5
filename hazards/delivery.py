"""Hazard notices into the outbox: the one way the bot and the scheduler tell people about hazards.

The hazard services return `Notice`s (hazards.notices); this module renders each in its
recipient's language and queues it in the caller's unit of work, so a notice is sent if and
only if the change that caused it commits. Buttons travel as plain Bot API JSON in the
outbox payload (bot.delivery turns them back into an InlineKeyboardMarkup), which keeps
Telegram out of the domain and out of the scheduler.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from hazards.notices import Notice, NoticeKind, render_notice
from hub import outbox
from hub.core import Hub

CARD_PREFIX = "hz"  # hz:<hazard id>:<action>, the contract in DESIGN.md
FOLLOWUP_PREFIX = "hzf"  # hzf:<hazard id>:yes|no, the answer to "is it fixed?"
REF_TYPE = "hazard"
BUTTONS_PER_ROW = 3


def card_data(hazard_id: int, action: str) -> str:
    return f"{CARD_PREFIX}:{hazard_id}:{action}"


def followup_data(hazard_id: int, answer: str) -> str:
    return f"{FOLLOWUP_PREFIX}:{hazard_id}:{answer}"


def _rows(buttons: list[dict[str, str]]) -> list[list[dict[str, str]]]:
    return [buttons[i : i + BUTTONS_PER_ROW] for i in range(0, len(buttons), BUTTONS_PER_ROW)]


def keyboard(hub: Hub, notice: Notice, lang: str) -> dict[str, Any] | None:
    """The inline keyboard a notice carries, as Bot API JSON; None for a plain message."""
    if notice.kind is NoticeKind.CARD and notice.actions:
        buttons = [
            {"text": hub.t(lang, f"hazard.action.{a}"), "callback_data": card_data(notice.hazard_id, a)}
            for a in notice.actions
        ]
        return {"inline_keyboard": _rows(buttons)}
    if notice.kind is NoticeKind.FOLLOWUP:
        buttons = [
            {"text": hub.t(lang, f"hazard.followup_{a}"), "callback_data": followup_data(notice.hazard_id, a)}
            for a in ("yes", "no")
        ]
        return {"inline_keyboard": [buttons]}
    return None


def render(hub: Hub, notice: Notice) -> tuple[int, dict[str, Any]]:
    """Where a notice goes and the sendMessage parameters that say it."""
    chat_id = notice.chat_id if notice.chat_id is not None else notice.telegram_id
    if chat_id is None:
        raise ValueError(f"notice {notice.key} for hazard {notice.hazard_id} has no recipient")
    lang = notice.lang or hub.settings.default_language
    payload: dict[str, Any] = {"text": render_notice(hub.texts, notice, hub.tz, lang)}
    markup = keyboard(hub, notice, lang)
    if markup is not None:
        payload["reply_markup"] = markup
    return chat_id, payload


async def deliver(session: AsyncSession, hub: Hub, notices: Iterable[Notice]) -> int:
    """Queue every notice in the caller's unit of work; returns how many were queued.

    Cards and urgent reports go ahead of routine messages in the outbox.
    """
    count = 0
    now = hub.now()
    for notice in notices:
        chat_id, payload = render(hub, notice)
        urgent = bool(notice.params.get("urgent"))
        priority = 1 if urgent else 3 if notice.kind is NoticeKind.CARD else 5
        await outbox.enqueue(
            session, chat_id=chat_id, payload=payload, now=now, priority=priority,
            ref=(REF_TYPE, notice.hazard_id),
        )
        count += 1
    return count
