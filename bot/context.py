"""What every handler needs: the hub, the sender as a Person, and their language."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update
from telegram.ext import Application, ContextTypes

from hub import bindings, people
from hub.bindings import Binding
from hub.core import Hub
from hub.i18n import language_for
from hub.models import Person

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


def sender_language(hub: Hub, update: object) -> str:
    """A best guess without the database, for when the database is what failed."""
    user = update.effective_user if isinstance(update, Update) else None
    return language_for(None, user.language_code if user else None, hub.settings.default_language)
