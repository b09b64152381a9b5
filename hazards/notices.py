"""Who hears about a hazard, and what they are told.

Services never send anything: they return `Notice`s and the bot renders and delivers them
(later through the outbox). Params stay language-neutral — ids, states, aware datetimes — so
one notice can be said in whatever language its recipient reads; `render_notice` does that.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hazards import categories
from hazards.models import OVERDUE_STATES, Hazard, actions_for
from hub import bindings
from hub.bindings import GridFacts
from hub.i18n import DEFAULT_LANGUAGE, Texts, language_for
from hub.models import Grid, Person, Role

TIME_FORMAT = "%Y-%m-%d %H:%M"
CARD_TEXT_LIMIT = 300


class NoticeKind(enum.StrEnum):
    MESSAGE = "message"  # plain text
    CARD = "card"  # the hazard card: one `hz:<hazard_id>:<action>` button per entry of `actions`
    FOLLOWUP = "followup"  # "is it fixed?": yes/no buttons, answered by hazards.lifecycle.answer_followup


@dataclass(frozen=True)
class Notice:
    """One message somebody must receive: a person in private, or a bound group chat.

    `lang` is the person's language when known; None means the hub's default.
    """

    key: str
    params: dict[str, Any]
    hazard_id: int
    telegram_id: int | None = None
    chat_id: int | None = None
    lang: str | None = None
    kind: NoticeKind = NoticeKind.MESSAGE
    actions: tuple[str, ...] = ()


def language(person: Person) -> str | None:
    return language_for(person.language, person.telegram_language, default="") or None


def private(
    person: Person,
    hazard: Hazard,
    key: str,
    params: dict[str, Any],
    kind: NoticeKind = NoticeKind.MESSAGE,
    actions: tuple[str, ...] = (),
) -> Notice | None:
    """A private message, or None for someone the bot cannot reach."""
    if person.telegram_id is None or not person.active:
        return None
    return Notice(
        key,
        params,
        hazard.id,
        telegram_id=person.telegram_id,
        lang=language(person),
        kind=kind,
        actions=actions,
    )


def recipients(notices: Iterable[Notice]) -> set[int]:
    """Telegram ids of the people the notices go to in private."""
    return {n.telegram_id for n in notices if n.telegram_id is not None}


def _excerpt(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def hazard_params(hazard: Hazard, grid: Grid | GridFacts, now: datetime | None = None) -> dict[str, Any]:
    """Language-neutral facts about a hazard for any template."""
    return {
        "id": hazard.id,
        "category": hazard.category,
        "state": hazard.state.value,
        "text": _excerpt(hazard.text, CARD_TEXT_LIMIT),
        "address": hazard.address,
        "location": f"{hazard.lat:.5f}, {hazard.lon:.5f}" if hazard.lat is not None else None,
        "grid_name": grid.name,
        "grid_code": grid.code,
        "reported_at": hazard.reported_at,
        "deadline": hazard.deadline_at,
        "urgent": hazard.urgent,
        "overdue": bool(now and hazard.state in OVERDUE_STATES and now > hazard.deadline_at),
        "has_photo": hazard.photo is not None,
    }


async def grid_of(session: AsyncSession, hazard: Hazard) -> Grid:
    grid = await session.get(Grid, hazard.grid_id)
    assert grid is not None  # grids are never deleted under hazards (ON DELETE RESTRICT)
    return grid


async def workers(session: AsyncSession, grid_id: int) -> list[Person]:
    query = (
        select(Person)
        .where(Person.grid_id == grid_id, Person.role == Role.WORKER, Person.active.is_(True))
        .order_by(Person.id)
    )
    return list(await session.scalars(query))


async def staff_above(session: AsyncSession, grid: Grid | GridFacts) -> list[Person]:
    """Staff whose grid is an ancestor of this one; the admins when there are none."""
    ancestors = grid.path.strip("/").split("/")[:-1]
    if ancestors:
        query = (
            select(Person)
            .join(Grid, Person.grid_id == Grid.id)
            .where(
                Grid.code.in_(ancestors),
                Person.role.in_([Role.STAFF, Role.ADMIN]),
                Person.active.is_(True),
            )
            .order_by(Person.id)
        )
        staff = list(await session.scalars(query))
        if staff:
            return staff
    admins = select(Person).where(Person.role == Role.ADMIN, Person.active.is_(True))
    return list(await session.scalars(admins.order_by(Person.id)))


async def reporters(session: AsyncSession, hazard: Hazard) -> list[Person]:
    """The reporter, and the reporters of reports merged into this one (they follow it)."""
    followers = await session.scalars(
        select(Hazard.reporter_id).where(
            Hazard.duplicate_of_id == hazard.id, Hazard.reporter_id.is_not(None)
        )
    )
    ordered = [hazard.reporter_id] if hazard.reporter_id is not None else []
    ordered += sorted({i for i in followers if i not in ordered})
    people = {p.id: p for p in await session.scalars(select(Person).where(Person.id.in_(ordered)))}
    return [people[i] for i in ordered if i in people]


async def tell_reporters(
    session: AsyncSession, hazard: Hazard, key: str, params: dict[str, Any]
) -> list[Notice]:
    notices = [private(p, hazard, key, params) for p in await reporters(session, hazard)]
    return [n for n in notices if n is not None]


async def cards(
    session: AsyncSession, hazard: Hazard, grid: Grid | GridFacts, now: datetime
) -> list[Notice]:
    """The card, new or refreshed, for every chat bound to the hazard's grid.

    In a group the reporter is named only if they chose to be. A grid with no bound chat
    gets the card in private — its workers', else the staff above — so no report goes unheard;
    those may see who reported, to follow it up with them.
    """
    params = hazard_params(hazard, grid, now)
    buttons = tuple(a.value for a in actions_for(hazard.state))
    chats = await bindings.chats_of(session, grid.id)
    reporter = await session.get(Person, hazard.reporter_id) if hazard.reporter_id else None
    if chats:
        shown = reporter.name if reporter is not None and hazard.reporter_named else None
        return [
            Notice(
                "hazard.card",
                {**params, "reporter": shown},
                hazard.id,
                chat_id=chat_id,
                kind=NoticeKind.CARD,
                actions=buttons,
            )
            for chat_id in chats
        ]
    named = {**params, "reporter": reporter.name if reporter is not None else None}
    people = await workers(session, grid.id) or await staff_above(session, grid)
    notices = [private(p, hazard, "hazard.card", named, NoticeKind.CARD, buttons) for p in people]
    return [n for n in notices if n is not None]


def localise(params: Mapping[str, Any], lang: str, tz: ZoneInfo, texts: Texts) -> dict[str, Any]:
    """Params ready for a template in `lang`: local times, category and state names."""
    ready = {
        key: value.astimezone(tz).strftime(TIME_FORMAT) if isinstance(value, datetime) else value
        for key, value in params.items()
    }
    if isinstance(params.get("category"), str):
        ready["category_name"] = categories.get_or_other(params["category"]).label(lang)
    if isinstance(params.get("state"), str):
        ready["state_name"] = texts.get(lang, f"hazard.state.{params['state']}")
    return ready


def render(texts: Texts, lang: str, key: str, params: Mapping[str, Any], tz: ZoneInfo) -> str:
    return texts.get(lang, key, **localise(params, lang, tz, texts))


def render_notice(
    texts: Texts, notice: Notice, tz: ZoneInfo, default_lang: str = DEFAULT_LANGUAGE
) -> str:
    return render(texts, notice.lang or default_lang, notice.key, notice.params, tz)
