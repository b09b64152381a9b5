"""Hazard notices to the people and chats they are for, through `hub.notify`.

The hazard services return `Notice`s (hazards.notices); this module renders each in its
recipient's language, with its buttons as (label, callback data) rows, and hands it to
`notify` in the caller's unit of work, so a notice is sent if and only if the change that
caused it commits. bot.delivery turns the rows into an inline keyboard, which keeps Telegram
out of the domain and out of the scheduler.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from hazards.notices import Notice, NoticeKind, render_notice
from hub import notify
from hub.core import Hub

CARD_PREFIX = "hz"  # hz:<hazard id>:<action>, the contract in DESIGN.md
FOLLOWUP_PREFIX = "hzf"  # hzf:<hazard id>:yes|no, the answer to "is it fixed?"
REF_TYPE = "hazard"
BUTTONS_PER_ROW = 3


def card_data(hazard_id: int, action: str) -> str:
    return f"{CARD_PREFIX}:{hazard_id}:{action}"


def followup_data(hazard_id: int, answer: str) -> str:
    return f"{FOLLOWUP_PREFIX}:{hazard_id}:{answer}"


def _rows(buttons: list[notify.Button]) -> list[list[notify.Button]]:
    return [buttons[i : i + BUTTONS_PER_ROW] for i in range(0, len(buttons), BUTTONS_PER_ROW)]


def buttons(hub: Hub, notice: Notice, lang: str) -> list[list[notify.Button]]:
    """The buttons a notice carries, as rows of (label, callback data); [] for a plain message."""
    if notice.kind is NoticeKind.CARD and notice.actions:
        return _rows([
            (hub.t(lang, f"hazard.action.{a}"), card_data(notice.hazard_id, a)) for a in notice.actions
        ])
    if notice.kind is NoticeKind.FOLLOWUP:
        return [[(hub.t(lang, f"hazard.followup_{a}"), followup_data(notice.hazard_id, a))
                 for a in ("yes", "no")]]
    return []


def render(hub: Hub, notice: Notice) -> tuple[int, notify.Message]:
    """Where a notice goes and the message that says it."""
    chat_id = notice.chat_id if notice.chat_id is not None else notice.telegram_id
    if chat_id is None:
        raise ValueError(f"notice {notice.key} for hazard {notice.hazard_id} has no recipient")
    lang = notice.lang or hub.settings.default_language
    text = render_notice(hub.texts, notice, hub.tz, lang)
    return chat_id, notify.Message(text, buttons(hub, notice, lang))


async def deliver(session: AsyncSession, hub: Hub, notices: Iterable[Notice]) -> int:
    """Queue every notice in the caller's unit of work, in one statement; returns how many.

    Cards and urgent reports go ahead of routine messages in the outbox.
    """
    outgoing = []
    for notice in notices:
        chat_id, message = render(hub, notice)
        urgent = bool(notice.params.get("urgent"))
        priority = 1 if urgent else 3 if notice.kind is NoticeKind.CARD else 5
        outgoing.append(notify.Outgoing(chat_id, message, priority, (REF_TYPE, notice.hazard_id)))
    return await notify.queue(session, outgoing, now=hub.now())
