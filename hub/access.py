"""Who may do what where. Enforced here, in the service layer, whatever the transport.

A person's scope is their grid and everything below it; admins see the whole tree.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.errors import PermissionDenied
from hub.models import Grid, Person, Role


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


async def require(
    session: AsyncSession, actor: Person, minimum: Role, grid: Grid | None = None
) -> None:
    """Raise PermissionDenied unless `actor` holds `minimum` or more, over `grid` when given."""
    if not actor.active or actor.role.rank < minimum.rank:
        raise PermissionDenied("error.role_required", role=minimum.value)
    if grid is not None and not await in_scope(session, actor, grid):
        raise PermissionDenied("error.out_of_scope", grid=grid.code)
