"""The grid tree (district → street → community → grid) and the chats bound to it."""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from hub import access, audit, bindings
from hub.errors import Conflict, InvalidInput, NotFound
from hub.i18n import LANGUAGES
from hub.models import Chat, ChatKind, Grid, GridLevel, Person, Role

_REBIND_REFUSALS = access.Refusals(scope="bind.taken")
CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
LEVELS = list(GridLevel)


@dataclass(frozen=True)
class GridSpec:
    code: str
    name: str
    parent: str | None = None
    level: GridLevel | None = None
    boundary: dict[str, Any] | None = None
    geocode: str | None = None


def _grid_state(grid: Grid) -> dict[str, Any]:
    return {"code": grid.code, "name": grid.name, "level": grid.level.value, "path": grid.path}


async def get(session: AsyncSession, code: str) -> Grid:
    grid = await session.scalar(select(Grid).where(Grid.code == code))
    if grid is None:
        raise NotFound("error.grid_unknown", code=code)
    return grid


async def list_grids(session: AsyncSession, under: str | None = None) -> list[Grid]:
    query = select(Grid).order_by(Grid.path)
    if under:
        root = await get(session, under)
        query = query.where(Grid.path.startswith(root.path))
    return list(await session.scalars(query))


def _child_level(parent: Grid | None) -> GridLevel:
    if parent is None:
        return GridLevel.DISTRICT
    index = LEVELS.index(parent.level)
    if index + 1 >= len(LEVELS):
        raise InvalidInput("error.grid_too_deep", parent=parent.code)
    return LEVELS[index + 1]


async def upsert(
    session: AsyncSession, spec: GridSpec, *, actor: Person | str, now: datetime
) -> Grid:
    """Create a grid, or update the name and boundary of an existing one (never its place)."""
    if not CODE_RE.match(spec.code):
        raise InvalidInput("error.grid_code", code=spec.code)
    if not spec.name.strip():
        raise InvalidInput("error.grid_name", code=spec.code)
    parent = await get(session, spec.parent) if spec.parent else None
    existing = await session.scalar(select(Grid).where(Grid.code == spec.code))
    if existing is not None:
        if (parent.id if parent else None) != existing.parent_id:
            raise Conflict("error.grid_moved", code=spec.code)
        before = _grid_state(existing)
        bindings.invalidate(session)  # a cached binding holds the grid's name
        existing.name = spec.name.strip()
        if spec.boundary is not None:
            existing.boundary = spec.boundary
        if spec.geocode is not None:
            existing.geocode = spec.geocode
        await audit.change(
            session, existing, at=now, actor=actor, entity="grid", entity_id=spec.code,
            action="update", before=before, after=_grid_state(existing),
        )
        return existing
    level = spec.level or _child_level(parent)
    grid = Grid(
        code=spec.code,
        name=spec.name.strip(),
        level=level,
        parent_id=parent.id if parent else None,
        path=f"{parent.path if parent else '/'}{spec.code}/",
        boundary=spec.boundary,
        geocode=spec.geocode,
        created_at=now,
    )
    await audit.change(
        session, grid, at=now, actor=actor, entity="grid", entity_id=spec.code,
        action="create", after=_grid_state(grid),
    )
    return grid


def _ordered(specs: Sequence[GridSpec], known: set[str]) -> list[GridSpec]:
    """Parents before children, whatever order the file lists them in."""
    repeated = [code for code, n in Counter(s.code for s in specs).items() if n > 1]
    if repeated:
        raise InvalidInput("error.grid_duplicate", code=repeated[0])
    pending = {s.code: s for s in specs}
    ordered: list[GridSpec] = []
    placed = set(known)
    while pending:
        ready = [s for s in pending.values() if s.parent is None or s.parent in placed]
        if not ready:
            code = next(iter(pending))
            raise InvalidInput("error.grid_parent_unknown", code=code, parent=pending[code].parent)
        for spec in ready:
            ordered.append(spec)
            placed.add(spec.code)
            del pending[spec.code]
    return ordered


def _level(value: Any) -> GridLevel | None:
    if value in (None, ""):
        return None
    try:
        return GridLevel(str(value).strip().lower())
    except ValueError:
        raise InvalidInput("error.grid_level", level=value) from None


def _spec(row: dict[str, Any], where: str) -> GridSpec:
    code = str(row.get("code") or "").strip()
    name = str(row.get("name") or "").strip()
    if not code or not name:
        raise InvalidInput("error.grid_row", where=where)
    parent = str(row.get("parent") or "").strip() or None
    geocode = str(row.get("geocode") or "").strip() or None
    if geocode is not None and not geocode.isdigit():
        raise InvalidInput("error.grid_geocode", where=where, geocode=geocode)
    return GridSpec(code, name, parent, _level(row.get("level")), row.get("boundary"), geocode)


def parse_grid_file(name: str, data: bytes) -> list[GridSpec]:
    """Read grids from CSV (code,name,parent[,level]), YAML (a list of those), or GeoJSON."""
    suffix = Path(name).suffix.lower()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("error.grid_file_encoding", file=name) from None
    if suffix == ".csv":
        rows = list(csv.DictReader(io.StringIO(text)))
        return [_spec(row, f"{name}:{i + 2}") for i, row in enumerate(rows)]
    if suffix in {".yaml", ".yml"}:
        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise InvalidInput("error.grid_file_syntax", file=name, detail=str(error)) from None
        items = loaded.get("grids") if isinstance(loaded, dict) else loaded
        if not isinstance(items, list):
            raise InvalidInput("error.grid_file_syntax", file=name, detail="expected a list")
        return [_spec(item if isinstance(item, dict) else {}, f"{name}#{i + 1}") for i, item in enumerate(items)]
    if suffix in {".geojson", ".json"}:
        try:
            loaded = json.loads(text)
        except json.JSONDecodeError as error:
            raise InvalidInput("error.grid_file_syntax", file=name, detail=str(error)) from None
        features = loaded.get("features") if isinstance(loaded, dict) else None
        if not isinstance(features, list):
            raise InvalidInput("error.grid_file_syntax", file=name, detail="no features")
        specs = []
        for i, feature in enumerate(features):
            props = dict(feature.get("properties") or {})
            props["boundary"] = feature.get("geometry")
            specs.append(_spec(props, f"{name}#{i + 1}"))
        return specs
    raise InvalidInput("error.grid_file_type", file=name)


async def import_specs(
    session: AsyncSession, specs: Iterable[GridSpec], *, actor: Person | str, now: datetime
) -> list[Grid]:
    specs = list(specs)
    known = set(await session.scalars(select(Grid.code)))
    return [await upsert(session, s, actor=actor, now=now) for s in _ordered(specs, known)]


async def bind_chat(
    session: AsyncSession,
    *,
    actor: Person,
    telegram_chat_id: int,
    title: str | None,
    code: str,
    kind: ChatKind = ChatKind.GROUP,
    now: datetime,
) -> Chat:
    """Bind a group chat to a grid. Only a worker or staff member of that grid may.

    A chat still bound to another grid is that grid's channel for warnings and cards, so
    taking it needs scope over that grid too: otherwise a worker of one grid could silence
    another's group.
    """
    await access.require(session, actor, Role.WORKER)
    grid = await get(session, code)
    await access.require(session, actor, Role.WORKER, grid)
    chat = await session.scalar(select(Chat).where(Chat.telegram_chat_id == telegram_chat_id))
    before = None
    if chat is None:
        chat = Chat(telegram_chat_id=telegram_chat_id, created_at=now)
    else:
        before = {"grid_id": chat.grid_id, "kind": chat.kind.value, "active": chat.active}
        current = await session.get(Grid, chat.grid_id)
        if chat.active and current is not None and current.id != grid.id:
            await access.require(session, actor, Role.WORKER, current, refusals=_REBIND_REFUSALS)
    chat.grid_id = grid.id
    chat.kind = kind
    chat.title = title
    chat.bound_by_id = actor.id
    chat.active = True
    bindings.invalidate(session)
    await audit.change(
        session, chat, at=now, actor=actor, entity="chat", entity_id=telegram_chat_id,
        action="bind", before=before, after={"grid": grid.code, "kind": kind.value},
    )
    return chat


async def set_chat_language(
    session: AsyncSession, *, actor: Person, telegram_chat_id: int, language: str, now: datetime
) -> Chat:
    """Set the language of what the hub posts to a bound group as a whole (never set: the hub's).
    A worker or staff member of the group's grid may, checked now: a group of English-speaking
    residents reads the season's campaign in English, each person's own replies unchanged."""
    if language not in LANGUAGES:
        raise InvalidInput("error.language", language=language)
    chat = await chat_binding(session, telegram_chat_id)
    if chat is None:
        raise NotFound("bind.not_bound")
    await access.require(session, actor, Role.WORKER, chat.grid)
    before = {"language": chat.language}
    chat.language = language
    await audit.change(session, chat, at=now, actor=actor, entity="chat", entity_id=telegram_chat_id,
                       action="language", before=before, after={"language": language})
    return chat


async def chat_binding(session: AsyncSession, telegram_chat_id: int) -> Chat | None:
    """The active binding of a chat, with its grid loaded in the same query: whoever asks
    about the chat asks about its grid next, and `session.get(Grid, …)` then costs no query.
    """
    return await session.scalar(
        select(Chat)
        .options(joinedload(Chat.grid))
        .where(Chat.telegram_chat_id == telegram_chat_id, Chat.active.is_(True))
    )
