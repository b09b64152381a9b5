"""Buttons as the domain writes them — rows of (label, callback data) — as Telegram keyboards.

The one place in the bot where `hub.notify`'s neutral buttons become an InlineKeyboardMarkup:
for the outbox sender and for a handler that shows a domain-built keyboard itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup


def inline(rows: Iterable[Sequence[Sequence[str]]]) -> InlineKeyboardMarkup | None:
    """(label, callback data) rows as an inline keyboard; None when there are no buttons."""
    keyboard = [[InlineKeyboardButton(label, callback_data=data) for label, data in row] for row in rows]
    keyboard = [row for row in keyboard if row]
    return InlineKeyboardMarkup(keyboard) if keyboard else None


def of_payload(payload: dict[str, Any], bot: Bot | None = None) -> InlineKeyboardMarkup | None:
    """The keyboard an outbox payload carries: `buttons` rows, or — in rows written before
    buttons were stored in our own form — Bot API `reply_markup` JSON."""
    if payload.get("buttons"):
        return inline(payload["buttons"])
    markup = payload.get("reply_markup")
    return InlineKeyboardMarkup.de_json(markup, bot) if markup else None
