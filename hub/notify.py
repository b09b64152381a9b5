"""Telling a person something in private, in their language, through the outbox.

The message is rendered now (so it reads as of the change that caused it) and queued in
the caller's unit of work, so it is sent if and only if that change commits.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from hub import outbox
from hub.core import Hub
from hub.i18n import language_for
from hub.models import Person


def language_of(hub: Hub, person: Person) -> str:
    return language_for(person.language, person.telegram_language, hub.settings.default_language)


async def tell(
    session: AsyncSession,
    hub: Hub,
    person: Person,
    key: str,
    *,
    dedupe_key: str | None = None,
    ref: tuple[str, object] | None = None,
    reply_markup: dict[str, Any] | None = None,
    **params: Any,
) -> bool:
    """Queue a private message to `person`; False when they cannot be reached on Telegram."""
    if person.telegram_id is None or not person.active:
        return False
    payload: dict[str, Any] = {"text": hub.t(language_of(hub, person), key, **params)}
    if reply_markup is not None:
        payload["reply_markup"] = reply_markup
    await outbox.enqueue(
        session, chat_id=person.telegram_id, payload=payload, now=hub.now(),
        ref=ref, dedupe_key=dedupe_key,
    )
    return True
