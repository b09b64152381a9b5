"""People: residents who register themselves, and workers and staff who are appointed."""

from __future__ import annotations

import contextlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub import audit, grids
from hub.errors import InvalidInput, NotFound, PermissionDenied
from hub.i18n import LANGUAGES
from hub.models import AuditEntry, Grid, Person, Role

_hasher = PasswordHasher()
MIN_PASSWORD = 10


def _state(person: Person, grid_code: str | None = None) -> dict[str, Any]:
    return {
        "name": person.name,
        "role": person.role.value,
        "grid": grid_code,
        "language": person.language,
        "active": person.active,
    }


# Every update looks its sender up: the statement is built once, with a bound parameter.
_BY_TELEGRAM_ID = select(Person).where(Person.telegram_id == bindparam("telegram_id"))


async def by_telegram_id(session: AsyncSession, telegram_id: int) -> Person | None:
    return await session.scalar(_BY_TELEGRAM_ID, {"telegram_id": telegram_id})


async def get(session: AsyncSession, telegram_id: int) -> Person:
    person = await by_telegram_id(session, telegram_id)
    if person is None:
        raise NotFound("error.person_unknown", telegram_id=telegram_id)
    return person


async def _grid_code(session: AsyncSession, grid_id: int | None) -> str | None:
    if grid_id is None:
        return None
    return await session.scalar(select(Grid.code).where(Grid.id == grid_id))


async def appoint(
    session: AsyncSession,
    *,
    telegram_id: int,
    name: str,
    role: Role,
    grid_code: str | None,
    language: str | None = None,
    actor: Person | str,
    now: datetime,
) -> Person:
    """Add a person or change their role and grid; the appointment is audited."""
    if not name.strip():
        raise InvalidInput("error.person_name")
    if language is not None and language not in LANGUAGES:
        raise InvalidInput("error.language", language=language)
    if role is not Role.ADMIN and role is not Role.RESIDENT and grid_code is None:
        raise InvalidInput("error.person_needs_grid", role=role.value)
    grid = await grids.get(session, grid_code) if grid_code else None
    person = await by_telegram_id(session, telegram_id)
    before = None
    if person is None:
        person = Person(telegram_id=telegram_id, created_at=now, active=True)
    else:
        before = _state(person, await _grid_code(session, person.grid_id))
    person.name = name.strip()
    person.role = role
    person.grid_id = grid.id if grid else person.grid_id
    person.language = language or person.language
    person.updated_at = now
    await audit.change(session, person, at=now, actor=actor, entity="person",
                       action="appoint" if before else "create", before=before,
                       after=_state(person, grid.code if grid else None))
    return person


@dataclass(frozen=True)
class Newcomer:
    """Who a Telegram update says its sender is."""

    telegram_id: int
    name: str
    username: str | None = None
    telegram_language: str | None = None
    grid_id: int | None = None  # the grid of the bound group they spoke in


_BY_TELEGRAM_IDS = select(Person).where(Person.telegram_id.in_(bindparam("telegram_ids", expanding=True)))


async def register(
    session: AsyncSession,
    *,
    telegram_id: int,
    name: str,
    username: str | None,
    telegram_language: str | None,
    grid_id: int | None,
    now: datetime,
) -> Person:
    """Find or create the person behind a Telegram user; a newcomer joins as a resident."""
    (person,) = await register_many(
        session, [Newcomer(telegram_id, name, username, telegram_language, grid_id)], now=now
    )
    return person


async def register_many(session: AsyncSession, senders: list[Newcomer], *, now: datetime) -> list[Person]:
    """Find or create the people behind several Telegram users, in one read and one flush.

    A resident without a grid takes the grid of the bound group they first speak in. The
    same user twice in `senders` is one person.
    """
    ids = {sender.telegram_id for sender in senders}
    if len(ids) == 1:
        found = await session.scalars(_BY_TELEGRAM_ID, {"telegram_id": senders[0].telegram_id})
    else:
        found = await session.scalars(_BY_TELEGRAM_IDS, {"telegram_ids": sorted(ids)})
    people: dict[int, Person] = {p.telegram_id: p for p in found if p.telegram_id is not None}
    newcomers: list[Person] = []
    for sender in senders:
        person = people.get(sender.telegram_id)
        if person is None:
            person = people[sender.telegram_id] = Person(
                telegram_id=sender.telegram_id,
                name=sender.name or str(sender.telegram_id),
                username=sender.username,
                telegram_language=sender.telegram_language,
                role=Role.RESIDENT,
                grid_id=sender.grid_id,
                active=True,
                created_at=now,
                updated_at=now,
            )
            newcomers.append(person)
        else:
            _refresh(person, sender, now)
    if newcomers:
        session.add_all(newcomers)
        await session.flush()
        for person in newcomers:  # flushed together above: no further round trip each
            await audit.change(session, person, at=now, actor=person, entity="person",
                               action="register", after=_state(person))
    return [people[sender.telegram_id] for sender in senders]


def _refresh(person: Person, sender: Newcomer, now: datetime) -> None:
    """What Telegram says of a known person that may have changed since."""
    changed = False
    for field, value in (("username", sender.username), ("telegram_language", sender.telegram_language)):
        if value and getattr(person, field) != value:
            setattr(person, field, value)
            changed = True
    if person.grid_id is None and sender.grid_id is not None and person.role is Role.RESIDENT:
        person.grid_id = sender.grid_id
        changed = True
    if changed:
        person.updated_at = now


async def set_language(
    session: AsyncSession, person: Person, language: str, *, now: datetime
) -> Person:
    if language not in LANGUAGES:
        raise InvalidInput("error.language", language=language)
    before = {"language": person.language}
    person.language = language
    person.updated_at = now
    await audit.change(session, person, at=now, actor=person, entity="person",
                       action="language", before=before, after={"language": language})
    return person


async def set_password(
    session: AsyncSession, telegram_id: int, password: str, *, actor: Person | str, now: datetime
) -> Person:
    """Give a worker or staff member a dashboard password (stored as an argon2 hash)."""
    person = await get(session, telegram_id)
    if person.role is Role.RESIDENT:
        raise InvalidInput("error.password_resident")
    if len(password) < MIN_PASSWORD:
        raise InvalidInput("error.password_short", minimum=MIN_PASSWORD)
    person.password_hash = _hasher.hash(password)
    person.updated_at = now
    await audit.change(session, person, at=now, actor=actor, entity="person", action="password")
    return person


SIGN_IN_ENTITY = "sign-in"
SIGN_IN_WINDOW = timedelta(minutes=15)
# Failures in the window, then refused until it passes: few per name (someone guessing one
# person's password), more per address (a street office's staff share one address).
SIGN_IN_FAILURES = {"name": 5, "address": 20}


async def _throttled(session: AsyncSession, keys: dict[str, str], since: datetime) -> bool:
    rows = await session.execute(
        select(AuditEntry.entity_id, func.count()).where(
            AuditEntry.entity == SIGN_IN_ENTITY, AuditEntry.entity_id.in_(keys.values()),
            AuditEntry.action == "failed", AuditEntry.at >= since,
        ).group_by(AuditEntry.entity_id)
    )
    counts = dict(rows.tuples().all())
    return any(counts.get(key, 0) >= SIGN_IN_FAILURES[kind] for kind, key in keys.items())


async def sign_in(
    session: AsyncSession, who: str, password: str, *, address: str, now: datetime
) -> Person | None:
    """The worker or staff member named `who` (Telegram id or name), if `password` is theirs;
    None otherwise (the caller says "error.sign_in_failed", after this unit of work commits).

    Failures are audit rows under the name tried and under the address it came from, so the
    throttle holds across every web process and a restart, and staff can see who was tried.
    One refusal for every kind of failure, taking as long: it never tells which names exist.
    """
    who = who.strip()[:100]
    keys = {"name": f"name:{who.casefold()}", "address": f"address:{address}"}
    if await _throttled(session, keys, now - SIGN_IN_WINDOW):
        raise PermissionDenied("error.sign_in_throttled", minutes=int(SIGN_IN_WINDOW.total_seconds() // 60))
    query = select(Person).where(Person.active.is_(True), Person.role != Role.RESIDENT)
    query = query.where(Person.telegram_id == int(who)) if who.isascii() and who.isdigit() and len(who) < 19 \
        else query.where(Person.name == who)
    candidates = list(await session.scalars(query.limit(2)))
    person = candidates[0] if len(candidates) == 1 else None
    if person is None or not check_password(person, password):
        if person is None:
            _spend_a_check(password)
        for key in keys.values():
            audit.record(session, at=now, actor=f"web:{address}", entity=SIGN_IN_ENTITY,
                         entity_id=key, action="failed")
        return None
    audit.record(session, at=now, actor=person, entity=SIGN_IN_ENTITY, entity_id=f"person:{person.id}",
                 action="ok", after={"address": address})
    return person


@cache
def _decoy() -> str:
    return _hasher.hash(secrets.token_hex(16))


def _spend_a_check(password: str) -> None:
    """Verify against a hash nobody has, so an unknown name costs what a wrong password does."""
    with contextlib.suppress(VerificationError, InvalidHashError):
        _hasher.verify(_decoy(), password)


def check_password(person: Person, password: str) -> bool:
    if not person.password_hash:
        return False
    try:
        return _hasher.verify(person.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def list_people(
    session: AsyncSession, *, grid_code: str | None = None, role: Role | None = None
) -> list[tuple[Person, str | None]]:
    query = select(Person, Grid.code).outerjoin(Grid, Person.grid_id == Grid.id).order_by(Person.id)
    if grid_code:
        root = await grids.get(session, grid_code)
        query = query.where(Grid.path.startswith(root.path))
    if role:
        query = query.where(Person.role == role)
    return [(p, code) for p, code in (await session.execute(query)).all()]
