"""What the bot is waiting for from a person: the next step of a guided report, the reply to
an edit or recording prompt, a worker's evidence photo or the original's number.

It is kept in the database (hub.conversations), never in one process's memory: a restart
mid-flow continues where the person was, and of two bot processes taking turns at one
person's updates (webhook mode behind a balancer), each knows what the other asked.

Why not python-telegram-bot's persistence: `BasePersistence` reads user_data once when the
bot starts and writes what changed on a timer (`update_interval`) from each process's own
cache, so a step taken in one process is unknown to the other until a flush, and is then
overwritten by the other's stale copy; its `refresh_user_data` hook runs only once a handler's
filter has already matched. Here a step is written when it is taken, and read per update.

Reading: `load` runs before the features, for each update that could answer something (a
private message, a reply, a button), and reads the sender's live state in one statement into
a snapshot that `current` and the `Awaiting`/`Replying` filters consult (filters cannot wait
for the database). So a handler claims a message only while its feature waits on that person,
plain text reaches /ask otherwise, and a pending flow never swallows a command.
Writing: `put`, `wait_for`, `clear` and `take`, each its own unit of work, committed before the bot's
next message goes out, so the person's answer finds it wherever it lands.
"""

from __future__ import annotations

import contextlib
import time
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Message, Update
from telegram.ext import Application, TypeHandler, filters

from bot.context import Context, hub_of
from hub import conversations
from hub.conversations import ANY_CHAT

# Flows of the person wherever they write (ANY_CHAT); one of them at a time.
REPORT_FLOW = "report"  # the next step of a guided /report (bot.report.Flow)
EVIDENCE_PHOTO = "hazard_evidence"  # a worker pressed "fixed": the hazard id awaiting a photo
ORIGINAL_NUMBER = "hazard_original"  # a worker pressed "dup": the hazard id awaiting a number
WORKER_WAITS = (EVIDENCE_PHOTO, ORIGINAL_NUMBER)
EXCLUSIVE = (REPORT_FLOW, *WORKER_WAITS)

# Prompts answered by replying to them: "<kind>:<prompt message id>" in the prompt's chat.
WARN_EDIT = "warn_edit"  # the warning id whose new text the reply is
RECORD_TAKE = "record"  # the recording request the reply is a take of

LOAD_GROUP = -1  # before the features (group 0), after bot.report's wait for a filing
SWEEP_SECONDS = 3600.0  # how often a process deletes everyone's expired state
_SNAPSHOT = "pending"  # bot_data: Telegram user id -> {(chat id, flow): state}
_SWEPT = "pending_swept"  # bot_data: monotonic time of the last sweep

Snapshot = dict[tuple[int, str], Any]


def prompt_flow(kind: str, message_id: int) -> str:
    return f"{kind}:{message_id}"


def _snapshots(app: Application) -> dict[int, Snapshot]:
    found: dict[int, Snapshot] = app.bot_data.setdefault(_SNAPSHOT, {})
    return found


def snapshot(app: Application, user_id: int) -> Snapshot:
    """The person's state as read for the update in hand (empty when none was read)."""
    return _snapshots(app).get(user_id, {})


def _may_answer(update: Update) -> bool:
    """Whether an update could be the answer to something we wait for."""
    if update.callback_query is not None:
        return True
    message = update.message
    return message is not None and (
        message.chat.type == message.chat.PRIVATE or message.reply_to_message is not None
    )


async def load(update: Update, context: Context) -> None:
    """Read the sender's live state, fresh for this update: whatever process wrote it last."""
    user = update.effective_user
    if user is None:
        return
    snapshots = _snapshots(context.application)
    if not _may_answer(update):
        snapshots.pop(user.id, None)
        return
    hub = hub_of(context)
    async with hub.db.session() as session:
        entries = await conversations.of_user(session, user.id, now=hub.now())
        last = context.bot_data.get(_SWEPT)
        if last is None or time.monotonic() - last > SWEEP_SECONDS:
            context.bot_data[_SWEPT] = time.monotonic()
            await conversations.sweep(session, now=hub.now())
    if entries:
        snapshots[user.id] = {(e.chat_id, e.flow): e.state for e in entries}
    else:
        snapshots.pop(user.id, None)


def _user_id(update: Update) -> int:
    user = update.effective_user
    assert user is not None  # every update that starts or answers a flow has a sender
    return user.id


def current(update: Update, context: Context, flow: str, *, chat: int = ANY_CHAT) -> Any | None:
    """The state of a flow as read for this update, or None."""
    return snapshot(context.application, _user_id(update)).get((chat, flow))


async def put(
    update: Update, context: Context, flow: str, state: Any, *, chat: int = ANY_CHAT,
    ttl: timedelta = conversations.DEFAULT_TTL, session: AsyncSession | None = None,
) -> None:
    """Write the sender's state of a flow (JSON), to live `ttl` from now; in `session` when
    the handler is inside a unit of work already (one connection, not two at once)."""
    await _write(update, context, {(chat, flow): state}, (), ttl, session=session)


async def wait_for(update: Update, context: Context, flow: str, state: Any) -> None:
    """Start one of the EXCLUSIVE flows: whatever else of them the person was in ends."""
    await _write(update, context, {(ANY_CHAT, flow): state}, [f for f in EXCLUSIVE if f != flow], None)


async def clear(update: Update, context: Context, *flows: str, chat: int = ANY_CHAT) -> None:
    await _write(update, context, {}, flows, None, chat=chat)


async def take(update: Update, context: Context, flow: str, *, chat: int = ANY_CHAT) -> Any | None:
    """End a flow and return its state, or None when it had ended already (a second press,
    here or in another process): of two takers only one gets it."""
    hub = hub_of(context)
    user_id = _user_id(update)
    async with hub.db.session() as session:
        state = await conversations.take(session, user_id, flow, now=hub.now(), chat_id=chat)
    snapshot(context.application, user_id).pop((chat, flow), None)
    return state


async def _write(
    update: Update, context: Context, states: dict[tuple[int, str], Any], cleared: Any,
    ttl: timedelta | None, *, chat: int = ANY_CHAT, session: AsyncSession | None = None,
) -> None:
    hub = hub_of(context)
    user_id = _user_id(update)
    async with contextlib.AsyncExitStack() as stack:
        if session is None:
            session = await stack.enter_async_context(hub.db.session())
        await conversations.clear(session, user_id, cleared, chat_id=chat)
        for (chat_id, flow), state in states.items():
            await conversations.put(
                session, user_id, flow, state, now=hub.now(), chat_id=chat_id,
                ttl=ttl or conversations.DEFAULT_TTL,
            )
    mine = _snapshots(context.application).setdefault(user_id, {})
    for flow in cleared:
        mine.pop((chat, flow), None)
    mine.update(states)


class Awaiting(filters.MessageFilter):
    """Messages from someone whose state holds `flow` (of the person, in any chat)."""

    def __init__(self, app: Application, flow: str) -> None:
        super().__init__(name=f"Awaiting({flow})")
        self._app = app
        self._flow = flow

    def filter(self, message: Message) -> bool:
        user = message.from_user
        return user is not None and (ANY_CHAT, self._flow) in snapshot(self._app, user.id)


def replied(app: Application, message: Message, kind: str) -> Any | None:
    """The state of the prompt of `kind` this message replies to, if its sender was asked it."""
    reply, user = message.reply_to_message, message.from_user
    if reply is None or user is None:
        return None
    return snapshot(app, user.id).get((message.chat.id, prompt_flow(kind, reply.message_id)))


class Replying(filters.MessageFilter):
    """A reply to one of our prompts of `kind` by the person it asked (and nothing else)."""

    def __init__(self, app: Application, kind: str) -> None:
        super().__init__(name=f"Replying({kind})")
        self._app = app
        self._kind = kind

    def filter(self, message: Message) -> bool:
        return replied(self._app, message, self._kind) is not None


def install(app: Application) -> None:
    """Read state before the features; each feature that waits on people calls this (once
    is enough, more are harmless)."""
    if _SNAPSHOT in app.bot_data:
        return
    app.bot_data[_SNAPSHOT] = {}
    app.add_handler(TypeHandler(Update, load), group=LOAD_GROUP)
