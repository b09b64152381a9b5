"""The rectification ledger (整改台账): open hazards for workers, the filtered ledger and what
staff export of it (written by hazards/export.py).

Workers look at the open hazards of their grid, overdue first; staff page through the whole
ledger of their subtree with filters and export exactly what they filtered, in Chinese by
default because that is the form it is filed in. Every query is scoped here, through
hub.access, whatever the transport.

A page of the ledger is a keyset page (newest ticket first, `id < before`): what it costs
depends on the page size and the filters, not on how many hazards the hub has ever had.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Index, Row, Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from hazards.export import (  # noqa: F401 (the ledger's export, where its callers find it)
    COLUMNS,
    export_csv,
    export_xlsx,
    headers,
    write_xlsx,
)
from hazards.models import OPEN_STATES, OVERDUE_STATES, Hazard, HazardState
from hub import access, grids
from hub.errors import PermissionDenied
from hub.models import Grid, Person, Role

PAGE_SIZE = 50
MAX_SEARCH = 100
# Only workers and staff see the ledger, and only of their own grids.
REFUSALS = access.Refusals(
    role="hazard.refused_not_worker_ledger", scope="hazard.refused_out_of_scope_ledger"
)

# What the dashboard's ledger and overview filter on, beside the indexes hazards/models.py
# declares: the date filters and the 12-week trend read a range of reported_at / closed_at,
# the category filter walks its own index in ticket order, the overview's open counts read the
# open hazards of the last days and no others. (Migration 0010 creates them.)
Index("ix_hazards_reported_at", Hazard.reported_at)
Index("ix_hazards_closed_at", Hazard.closed_at)
Index("ix_hazards_category", Hazard.category)
Index("ix_hazards_state_reported", Hazard.state, Hazard.reported_at)


@dataclass(frozen=True)
class LedgerRow:
    id: int
    grid_code: str
    grid_name: str
    category: str
    state: HazardState
    urgent: bool
    text: str
    reported_at: datetime
    deadline_at: datetime
    assignee: str | None
    rectified_at: datetime | None
    closed_at: datetime | None
    days_overdue: int
    overdue: bool  # still waiting on the grid and past its deadline now
    address: str | None = None
    lat: float | None = None
    lon: float | None = None

    @property
    def place(self) -> str:
        """Where it is: the address given, else the position sent, else nothing."""
        if self.address:
            return self.address
        if self.lat is not None and self.lon is not None:
            return f"{self.lat:.5f}, {self.lon:.5f}"
        return ""

    def params(self) -> dict[str, Any]:
        """For the "hazard.ledger.item" template (hazards.notices.render localises them)."""
        return {
            "id": self.id,
            "grid_name": self.grid_name,
            "grid_code": self.grid_code,
            "category": self.category,
            "state": self.state.value,
            "urgent": self.urgent,
            "text": self.text if len(self.text) <= 60 else self.text[:59] + "…",
            "reported_at": self.reported_at,
            "deadline": self.deadline_at,
            "assignee": self.assignee,
            "days_overdue": self.days_overdue,
            "overdue": self.overdue,
        }


def days_overdue(hazard: Hazard, now: datetime) -> int:
    """Whole days (rounded up) by which rectification missed or is missing its deadline.

    Measured to the rectification when there was one, else to now while the hazard is still
    open; rejected and duplicate reports were never the grid's to fix.
    """
    return _days_late(hazard.state, hazard.rectified_at, hazard.deadline_at, now)


def _days_late(state: HazardState, rectified_at: datetime | None, deadline_at: datetime, now: datetime) -> int:
    if state in (HazardState.REJECTED, HazardState.DUPLICATE):
        return 0
    late = (rectified_at or now) - deadline_at
    return math.ceil(late / timedelta(days=1)) if late > timedelta(0) else 0


async def _scope(session: AsyncSession, actor: Person | None, grid_code: str | None) -> str:
    """The grid path prefix the rows come from; refuses anyone below grid worker."""
    if actor is not None:
        await access.require(session, actor, Role.WORKER, refusals=REFUSALS)
    if grid_code:
        grid = await grids.get(session, grid_code)
        if actor is not None:
            await access.require(session, actor, Role.WORKER, grid, refusals=REFUSALS)
        return grid.path
    if actor is None:
        return ""
    scope = await access.scope_path(session, actor)
    if scope is None:
        raise PermissionDenied(REFUSALS.role)
    return scope


# A subtree holding at least this share of the grids is filtered while walking the tickets
# newest first: a page fills within about 51/share tickets, however long the ledger. A smaller
# one is read through the grid index and sorted: its own history, under 5% of the ledger.
WALK_SHARE = 0.05


@dataclass(frozen=True)
class Scope:
    """The grids rows may come from: `grid_ids` None is every grid of the hub."""

    grid_ids: list[int] | None
    share: float = 1.0  # of all the hub's grids

    def condition(self, *, walk: bool | None = None) -> ColumnElement[bool] | None:
        """The filter on hazards; `walk` keeps the grid index out of the plan (None: decide by
        the share), for a query that an index on time or ticket order serves better."""
        if self.grid_ids is None:
            return None
        if walk if walk is not None else self.share >= WALK_SHARE:
            return (Hazard.grid_id + 0).in_(self.grid_ids)  # "+ 0": the planner walks, not seeks
        return Hazard.grid_id.in_(self.grid_ids)

    def holds(self, grid_id: int) -> bool:
        return self.grid_ids is None or grid_id in self.grid_ids


async def scope_of(session: AsyncSession, actor: Person | None, grid_code: str | None = None) -> Scope:
    """The grids the rows may come from, for the actor (refused below grid worker).

    Grids are few (hundreds) and hazards many: filtering hazards by a list of grid ids keeps
    the hazards' own indexes in charge of the query, where a join on the grids' paths would
    let the planner start from the grids and sort everything they hold.
    """
    prefix = await _scope(session, actor, grid_code)
    if not prefix:
        return Scope(None)
    ids = list(await session.scalars(select(Grid.id).where(Grid.path.startswith(prefix))))
    total = await session.scalar(select(func.count()).select_from(Grid)) or 1
    return Scope(None) if len(ids) == total else Scope(ids, len(ids) / total)


async def grids_in_scope(session: AsyncSession, actor: Person) -> list[Grid]:
    """The grids a worker or staff member may filter the ledger by: their subtree, in order."""
    prefix = await _scope(session, actor, None)
    return list(await session.scalars(
        select(Grid).where(Grid.path.startswith(prefix)).order_by(Grid.path)
    ))


@dataclass(frozen=True)
class Filter:
    """What a ledger page or export shows. Dates are instants (the caller turns a local day
    into its start and end); `search` looks in the description and the place."""

    grid: str | None = None
    category: str | None = None
    states: frozenset[HazardState] = field(default_factory=frozenset)
    overdue: bool = False
    reported_from: datetime | None = None
    reported_to: datetime | None = None
    search: str = ""

    def conditions(self, now: datetime) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = []
        if self.category:
            where.append(Hazard.category == self.category)
        if self.states:
            where.append(Hazard.state.in_(sorted(self.states)))
        if self.overdue:
            where += [Hazard.state.in_(sorted(OVERDUE_STATES)), Hazard.deadline_at < now]
        if self.reported_from is not None:
            where.append(Hazard.reported_at >= self.reported_from)
        if self.reported_to is not None:
            where.append(Hazard.reported_at < self.reported_to)
        words = self.search.strip()[:MAX_SEARCH]
        if words:
            where.append(or_(Hazard.text.icontains(words, autoescape=True),
                             Hazard.address.icontains(words, autoescape=True)))
        return where


_ASSIGNEE = aliased(Person)
# The columns a ledger row is made of: plain values, not ORM objects, so a 100,000-row export
# does not build (and track) 100,000 objects it only reads once.
_COLUMNS = (
    Hazard.id, Hazard.category, Hazard.state, Hazard.urgent, Hazard.text, Hazard.reported_at,
    Hazard.deadline_at, Hazard.rectified_at, Hazard.closed_at, Hazard.address, Hazard.lat, Hazard.lon,
    Grid.code.label("grid_code"), Grid.name.label("grid_name"), _ASSIGNEE.name.label("assignee"),
)


def _select(scope: Scope, where: Iterable[ColumnElement[bool]]) -> Select[Any]:
    query = (
        select(*_COLUMNS)
        .join(Grid, Hazard.grid_id == Grid.id)
        .outerjoin(_ASSIGNEE, Hazard.assignee_id == _ASSIGNEE.id)
    )
    in_scope = scope.condition()
    if in_scope is not None:
        query = query.where(in_scope)
    return query.where(*where)


def _row(found: Row[Any], now: datetime) -> LedgerRow:
    return LedgerRow(
        id=found.id,
        grid_code=found.grid_code,
        grid_name=found.grid_name,
        category=found.category,
        state=found.state,
        urgent=found.urgent,
        text=found.text,
        reported_at=found.reported_at,
        deadline_at=found.deadline_at,
        assignee=found.assignee,
        rectified_at=found.rectified_at,
        closed_at=found.closed_at,
        days_overdue=_days_late(found.state, found.rectified_at, found.deadline_at, now),
        overdue=found.state in OVERDUE_STATES and now > found.deadline_at,
        address=found.address,
        lat=found.lat,
        lon=found.lon,
    )


async def ledger_rows(
    session: AsyncSession,
    actor: Person | None,
    grid_code: str | None = None,
    states: Iterable[HazardState] | None = None,
    *,
    now: datetime,
) -> list[LedgerRow]:
    """Hazards of a grid's subtree in ticket order; `actor` None is the CLI or the system."""
    chosen = Filter(grid=grid_code, states=frozenset(states) if states is not None else frozenset())
    if states is not None and not chosen.states:
        return []
    return await filtered_rows(session, actor, chosen, now=now)


async def filtered_rows(
    session: AsyncSession, actor: Person | None, chosen: Filter, *, now: datetime
) -> list[LedgerRow]:
    """Every hazard the filter selects, in ticket order: what an export writes."""
    query = _select(await scope_of(session, actor, chosen.grid), chosen.conditions(now)).order_by(Hazard.id)
    return [_row(found, now) for found in await session.execute(query)]


@dataclass(frozen=True)
class Page:
    """One page of the ledger, newest first; `older`/`newer` are the keys of the next pages
    (None at either end)."""

    rows: list[LedgerRow]
    older: int | None
    newer: int | None


async def ledger_page(
    session: AsyncSession,
    actor: Person,
    chosen: Filter,
    *,
    now: datetime,
    before: int | None = None,
    after: int | None = None,
    size: int = PAGE_SIZE,
) -> Page:
    """A page of the filtered ledger for a worker or staff member, newest ticket first.

    `before` continues to older tickets, `after` goes back to newer ones.
    """
    scope = await scope_of(session, actor, chosen.grid)
    where = chosen.conditions(now)
    if after is not None:
        query = _select(scope, [*where, Hazard.id > after]).order_by(Hazard.id.asc())
    else:
        keyed = [*where, Hazard.id < before] if before is not None else where
        query = _select(scope, keyed).order_by(Hazard.id.desc())
    found = (await session.execute(query.limit(size + 1))).all()
    more = len(found) > size
    rows = [_row(row, now) for row in found[:size]]
    if after is not None:
        rows.reverse()
        older = rows[-1].id if rows else None
        newer = rows[0].id if more and rows else None
    else:
        older = rows[-1].id if more and rows else None
        newer = rows[0].id if before is not None and rows else None
    return Page(rows, older, newer)


async def open_ledger(
    session: AsyncSession, actor: Person, grid_code: str | None = None, *, now: datetime
) -> list[LedgerRow]:
    """Open hazards (reported, accepted, rectified): overdue first, then by deadline."""
    rows = await ledger_rows(session, actor, grid_code, OPEN_STATES, now=now)
    return sorted(rows, key=lambda r: (not r.overdue, r.deadline_at, r.id))
