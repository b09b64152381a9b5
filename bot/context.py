"""What every handler needs: the hub, the sender as a Person, and their language.

A handler gets them in one way: `async with acting(update, context) as act:` opens the
unit of work its service call runs in and identifies the sender in it (registering them on
first contact); `act` outlives the block, so the reply goes out after the commit.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update
from telegram.constants import ChatType
from telegram.ext import Application, ContextTypes

from hub import bindings, people
from hub.bindings import Binding
from hub.core import Hub
from hub.i18n import language_for
from hub.models import ChatKind, Person

Context = ContextTypes.DEFAULT_TYPE


def hub_of(context: Context) -> Hub:
    return context.application.bot_data["hub"]


def hub_of_app(app: Application) -> Hub:
    return app.bot_data["hub"]


@dataclass
class Sender:
    person: Person
    lang: str
    chat: Binding | None  # the chat's binding to a grid, in a bound group


def registered(hub: Hub) -> set[int]:
    """Telegram ids this process has seen registered: `identify` need not be repeated for them."""
    known: set[int] = hub.services.setdefault("registered", set())
    return known


async def identify(session: AsyncSession, hub: Hub, update: Update) -> Sender:
    """Register the sender on first contact and find the grid bound to this chat, if any."""
    (sender,) = await identify_many(session, hub, [update])
    return sender


async def identify_many(session: AsyncSession, hub: Hub, updates: list[Update]) -> list[Sender]:
    """`identify` for several updates in one unit of work, reading everyone in one statement.

    Registering here, in the handler's own unit of work, spares a first-time sender a
    session of their own; the sender counts as registered once that unit of work commits.
    """
    chats: list[Binding | None] = []
    newcomers: list[people.Newcomer] = []
    for update in updates:
        user = update.effective_user
        if user is None:
            raise ValueError("update without a sender")
        chat = update.effective_chat
        binding = None
        if chat is not None and chat.type != chat.PRIVATE:
            binding = await bindings.binding(session, chat.id)
        chats.append(binding)
        newcomers.append(people.Newcomer(
            user.id, user.full_name, user.username, user.language_code,
            binding.grid_id if binding else None,
        ))
    persons = await people.register_many(session, newcomers, now=hub.now())
    known = registered(hub)
    unknown = {n.telegram_id for n in newcomers} - known
    if unknown:
        event.listen(session.sync_session, "after_commit", lambda _: known.update(unknown), once=True)
    return [
        Sender(person, language_for(person.language, n.telegram_language, hub.settings.default_language), binding)
        for person, n, binding in zip(persons, newcomers, chats, strict=True)
    ]


@dataclass
class Acting:
    """A handler's hub, its unit of work, and who sent the update."""

    hub: Hub
    session: AsyncSession
    sender: Sender
    update: Update

    @property
    def person(self) -> Person:
        return self.sender.person

    @property
    def lang(self) -> str:
        return self.sender.lang

    @property
    def chat(self) -> Binding | None:
        return self.sender.chat

    def t(self, key: str, **params: object) -> str:
        """A text in the sender's language."""
        return self.hub.t(self.sender.lang, key, **params)

    async def in_private(self, *, or_workers_chat: bool = False) -> bool:
        """Whether the update came from a private chat (or, if allowed, a bound workers' chat);
        if not, the sender is told that this works only in private."""
        chat = self.update.effective_chat
        if chat is not None and chat.type == ChatType.PRIVATE:
            return True
        if or_workers_chat and self.sender.chat is not None and self.sender.chat.kind is ChatKind.WORKERS:
            return True
        if self.update.effective_message is not None:
            await self.update.effective_message.reply_text(self.t("bot.private_only"))
        return False


@contextlib.asynccontextmanager
async def acting(update: Update, context: Context) -> AsyncIterator[Acting]:
    """One unit of work for a handler, with its sender identified in it; committed when the
    block ends, rolled back if it raises."""
    hub = hub_of(context)
    async with hub.db.session() as session:
        yield Acting(hub, session, await identify(session, hub, update), update)


async def identified(update: Update, context: Context) -> Acting:
    """`acting` for a handler that only needs to know who is speaking (their language)."""
    async with acting(update, context) as act:
        return act


def sender_language(hub: Hub, update: object) -> str:
    """A best guess without the database, for when the database is what failed."""
    user = update.effective_user if isinstance(update, Update) else None
    return language_for(None, user.language_code if user else None, hub.settings.default_language)
