"""Who may do what where. Enforced here, in the service layer, whatever the transport.

A person's scope is their grid and everything below it; admins see the whole tree. Every role
and scope check of the domain goes through this module, so one rule decides them all; a
service that words its refusals its own way passes its `Refusals`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.errors import NotFound, PermissionDenied
from hub.models import Grid, Person, Role


@dataclass(frozen=True)
class Refusals:
    """The message keys a refused check is worded with."""

    role: str = "error.role_required"  # below the role needed, or deactivated
    scope: str = "error.out_of_scope"  # the grid is outside the person's scope


GENERIC = Refusals()


def has_role(person: Person, minimum: Role) -> bool:
    """Whether the person's role is `minimum` or above, active or not (see `holds`)."""
    return person.role.rank >= minimum.rank


def holds(person: Person, minimum: Role) -> bool:
    """Whether the person may act with `minimum`'s rights anywhere in their scope."""
    return person.active and has_role(person, minimum)


async def scope_path(session: AsyncSession, person: Person) -> str | None:
    """The grid path that bounds what this person may act on ("" = everything)."""
    if person.role is Role.ADMIN:
        return ""
    if person.grid_id is None:
        return None
    return await session.scalar(select(Grid.path).where(Grid.id == person.grid_id))


async def in_scope(session: AsyncSession, person: Person, grid: Grid) -> bool:
    scope = await scope_path(session, person)
    return scope is not None and grid.path.startswith(scope)


async def may_act(
    session: AsyncSession, person: Person, grid: Grid, minimum: Role = Role.WORKER
) -> bool:
    """Whether `person` holds `minimum` or more over `grid`: `require` as a yes or no."""
    return holds(person, minimum) and await in_scope(session, person, grid)


async def require(
    session: AsyncSession,
    actor: Person,
    minimum: Role,
    grid: Grid | None = None,
    *,
    refusals: Refusals = GENERIC,
    **params: Any,
) -> None:
    """Raise PermissionDenied unless `actor` holds `minimum` or more, over `grid` when given.

    `params` go with the refusal, for its message (a hazard's refusal names the hazard).
    """
    if not holds(actor, minimum):
        raise PermissionDenied(refusals.role, **{"role": minimum.value, **params})
    if grid is not None and not await in_scope(session, actor, grid):
        raise PermissionDenied(refusals.scope, **{"grid": grid.code, **params})


async def grids_named(session: AsyncSession, codes: list[str]) -> list[Grid]:
    """The grids with these codes; NotFound names the first unknown one."""
    found = list(await session.scalars(select(Grid).where(Grid.code.in_(codes))))
    missing = set(codes) - {g.code for g in found}
    if missing:
        raise NotFound("error.grid_unknown", code=sorted(missing)[0])
    return found


async def require_over(
    session: AsyncSession, actor: Person, minimum: Role, codes: list[str]
) -> list[Grid]:
    """`require` over every grid named: the role first, then that each grid exists, then
    that each is in the actor's scope. Returns the grids."""
    await require(session, actor, minimum)
    grids = await grids_named(session, codes)
    for grid in grids:
        await require(session, actor, minimum, grid)
    return grids


async def home_grid(session: AsyncSession, actor: Person, minimum: Role) -> Grid:
    """The actor's own grid, for acting there with `minimum`; someone without one is refused
    as if below the role."""
    await require(session, actor, minimum)
    grid = await session.get(Grid, actor.grid_id) if actor.grid_id is not None else None
    if grid is None:
        raise PermissionDenied("error.role_required", role=minimum.value)
    return grid


async def require_at(session: AsyncSession, actor: Person, minimum: Role, grid_id: int | None) -> None:
    """`require` over the grid with this id; without one (or if it is gone), the role alone."""
    grid = await session.get(Grid, grid_id) if grid_id is not None else None
    await require(session, actor, minimum, grid)
