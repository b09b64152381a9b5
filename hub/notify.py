"""The one way a message becomes owed: to a person in private, or to a chat.

A message is text plus, optionally, buttons as rows of (label, callback data): our own
neutral form, so no Telegram object is ever built below `bot/`, whose sender turns the rows
into an inline keyboard. It is rendered now (so it reads as of the change that caused it)
and queued through `hub.outbox` in the caller's unit of work, so it is sent if and only if
that change commits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from hub import outbox
from hub.core import Hub
from hub.i18n import language_for
from hub.models import Person

Button = tuple[str, str]  # (label, callback data)
Buttons = Sequence[Sequence[Button]]
Ref = tuple[str, object]  # (ref type, id): "hazard", "warning", "warning_review", "question", ...


@dataclass(frozen=True)
class Message:
    """What a person or chat is told. `pin` (a chat's urgent warning) is stored only when set.

    A `kind` other than "text" ("photo", "voice", "audio", "document") sends the file at
    `path`, with `text` as its caption.
    """

    text: str
    buttons: Buttons = ()
    pin: bool | None = None
    kind: str = "text"
    path: str | None = None

    def payload(self) -> dict[str, Any]:
        """The outbox payload: `{"text", "buttons": [[[label, data], ...], ...], "pin"}`."""
        payload: dict[str, Any] = {"text": self.text}
        if self.kind != "text":
            if self.path is None:
                raise ValueError(f"a {self.kind} message needs the path of its file")
            payload = {"path": self.path, **({"caption": self.text} if self.text else {})}
        rows = [[[label, data] for label, data in row] for row in self.buttons if row]
        if rows:
            payload["buttons"] = rows
        if self.pin is not None:
            payload["pin"] = self.pin
        return payload


def buttons_of(payload: dict[str, Any]) -> list[list[Button]]:
    """The buttons a stored payload carries, as (label, data) rows; [] for none."""
    return [[(label, data) for label, data in row] for row in payload.get("buttons") or ()]


def language_of(hub: Hub, person: Person) -> str:
    return language_for(person.language, person.telegram_language, hub.settings.default_language)


def reachable(person: Person) -> bool:
    """Whether the bot can write to the person at all: a Telegram account, still active."""
    return person.telegram_id is not None and person.active


async def to_chat(
    session: AsyncSession,
    hub: Hub,
    chat_id: int,
    message: Message,
    *,
    ref: Ref | None = None,
    dedupe_key: str | None = None,
    priority: int = 5,
    expires_at: datetime | None = None,
    now: datetime | None = None,
) -> bool:
    """Queue a message to a chat (a group, or a person's private chat by their Telegram id).

    Lower `priority` goes first; with a `dedupe_key` a repeat is a no-op (False); past
    `expires_at` it is never sent.
    """
    queued = await outbox.enqueue(
        session, chat_id=chat_id, payload=message.payload(), now=now or hub.now(),
        kind=message.kind, priority=priority, ref=ref, dedupe_key=dedupe_key, expires_at=expires_at,
    )
    return queued is not None


@dataclass(frozen=True)
class Outgoing:
    """One message of a batch for `queue`: where it goes, ahead of what, about what."""

    chat_id: int
    message: Message
    priority: int = 5
    ref: Ref | None = None


async def queue(
    session: AsyncSession, outgoing: Sequence[Outgoing], *, now: datetime, expires_at: datetime | None = None
) -> int:
    """Queue many messages at once, in one statement — the cards of the reports filed together,
    a release to every bound chat of an area; returns how many. No dedupe key: the caller keys
    the change itself (see `broadcasts.campaigns.release`)."""
    return await outbox.enqueue_many(session, [
        outbox.Queued(o.chat_id, o.message.payload(), o.message.kind, o.priority, o.ref) for o in outgoing
    ], now=now, expires_at=expires_at)


async def to_chats(
    session: AsyncSession,
    messages: Sequence[tuple[int, Message]],
    *,
    now: datetime,
    ref: Ref | None = None,
    priority: int = 5,
    expires_at: datetime | None = None,
) -> int:
    """`queue` for (chat id, message) pairs about one thing at one priority."""
    return await queue(session, [Outgoing(chat_id, message, priority, ref) for chat_id, message in messages],
                       now=now, expires_at=expires_at)


async def to_person(
    session: AsyncSession,
    hub: Hub,
    person: Person,
    compose: Callable[[str], Message],
    *,
    ref: Ref | None = None,
    dedupe_key: str | None = None,
    priority: int = 5,
    expires_at: datetime | None = None,
) -> bool:
    """Queue a private message composed in the person's language; False when they cannot be
    reached on Telegram. `compose` gets the language and returns the message."""
    if not reachable(person):
        return False
    assert person.telegram_id is not None
    await to_chat(
        session, hub, person.telegram_id, compose(language_of(hub, person)),
        ref=ref, dedupe_key=dedupe_key, priority=priority, expires_at=expires_at,
    )
    return True


async def tell(
    session: AsyncSession,
    hub: Hub,
    person: Person,
    key: str,
    *,
    dedupe_key: str | None = None,
    ref: Ref | None = None,
    priority: int = 5,
    **params: Any,
) -> bool:
    """Queue the message `key` to `person` in private; False when they cannot be reached."""
    return await to_person(
        session, hub, person, lambda lang: Message(hub.t(lang, key, **params)),
        ref=ref, dedupe_key=dedupe_key, priority=priority,
    )
