"""Staff publish, pause and resume a campaign for their subtree.

One service for the CLI, the bot and the dashboard: staff over the grid (or the operator)
only, checked through hub.access; each change writes an audit row. The state set at a grid
governs its whole subtree — states set below it before are replaced — so "pause for my
street" pauses every village in it. The scheduler notices the change at its next pass:
posts still in their window go out, slots are added or withdrawn.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from broadcasts.campaigns.files import Catalogue
from broadcasts.campaigns.models import AUDIT_ENTITY, CampaignState, PublishState
from broadcasts.campaigns.regions import Region
from hub import access, audit, grids
from hub.errors import Conflict, NotFound
from hub.models import Grid, Person, Role

Actor = Person | str


@dataclass(frozen=True)
class Change:
    campaign_id: str
    grids: tuple[str, ...]  # codes the state was set at
    state: PublishState


async def _where(session: AsyncSession, actor: Actor, grid_code: str | None) -> list[Grid]:
    """The grids to act at: the one named, else the actor's own (an admin's, or the operator's:
    every root of the tree)."""
    if grid_code is not None:
        grid = await grids.get(session, grid_code)
        if isinstance(actor, Person):
            await access.require(session, actor, Role.STAFF, grid)
        return [grid]
    if isinstance(actor, Person) and actor.grid_id is not None:
        return [await access.home_grid(session, actor, Role.STAFF)]
    if isinstance(actor, Person):
        await access.require(session, actor, Role.ADMIN)
    roots = list(await session.scalars(select(Grid).where(Grid.parent_id.is_(None)).order_by(Grid.path)))
    if not roots:
        raise NotFound("campaigns.no_grids")
    return roots


async def states_of(session: AsyncSession, campaign_id: str) -> dict[str, PublishState]:
    """Grid path -> state, for every grid a state of this campaign is set at."""
    rows = await session.execute(
        select(Grid.path, CampaignState.state).join(Grid, Grid.id == CampaignState.grid_id)
        .where(CampaignState.campaign_id == campaign_id)
    )
    return {path: PublishState(state) for path, state in rows.tuples()}


async def _set(
    session: AsyncSession, catalogue: Catalogue, actor: Actor, campaign_id: str, grid_code: str | None,
    action: str, state: PublishState, allowed: PublishState | None, now: datetime,
) -> Change:
    if catalogue.get(campaign_id) is None:
        raise NotFound("campaigns.unknown", id=campaign_id)
    if isinstance(actor, Person):
        await access.require(session, actor, Role.STAFF)
    targets = await _where(session, actor, grid_code)
    region = Region(None, await states_of(session, campaign_id))
    for grid in targets:
        current = region.state(grid.path)
        if current is not allowed:
            raise Conflict(_REFUSALS[current], id=campaign_id, grid=grid.code)
    for grid in targets:
        below = list(await session.execute(
            select(CampaignState, Grid.code).join(Grid, Grid.id == CampaignState.grid_id)
            .where(CampaignState.campaign_id == campaign_id, Grid.path.startswith(grid.path))
        ))
        before: dict[str, Any] = {code: row.state.value for row, code in below}
        await session.execute(delete(CampaignState).where(
            CampaignState.campaign_id == campaign_id,
            CampaignState.grid_id.in_([row.grid_id for row, _ in below if row.grid_id != grid.id]),
        ))
        row = next((r for r, _ in below if r.grid_id == grid.id), None)
        if row is None:
            row = CampaignState(campaign_id=campaign_id, grid_id=grid.id)
            session.add(row)
        row.state = state
        row.updated_by = audit.actor_label(actor)[:100]
        row.updated_at = now
        audit.record(session, at=now, actor=actor, entity=AUDIT_ENTITY, entity_id=campaign_id,
                     action=action, before={"grid": grid.code, "states": before},
                     after={"grid": grid.code, "state": state.value})
    return Change(campaign_id, tuple(g.code for g in targets), state)


# A refusal says how the campaign stands at the grid, whatever was asked.
_REFUSALS = {
    PublishState.PUBLISHED: "campaigns.already_running",
    PublishState.PAUSED: "campaigns.is_paused",
    None: "campaigns.not_published",
}


async def publish(session: AsyncSession, catalogue: Catalogue, actor: Actor, campaign_id: str,
                  grid_code: str | None = None, *, now: datetime) -> Change:
    """Run a campaign in a subtree where it does not run (a paused one is resumed instead)."""
    return await _set(session, catalogue, actor, campaign_id, grid_code, "publish",
                      PublishState.PUBLISHED, None, now)


async def pause(session: AsyncSession, catalogue: Catalogue, actor: Actor, campaign_id: str,
                grid_code: str | None = None, *, now: datetime) -> Change:
    """Stop a running campaign in a subtree: nothing more is posted, its slots are withdrawn."""
    return await _set(session, catalogue, actor, campaign_id, grid_code, "pause",
                      PublishState.PAUSED, PublishState.PUBLISHED, now)


async def resume(session: AsyncSession, catalogue: Catalogue, actor: Actor, campaign_id: str,
                 grid_code: str | None = None, *, now: datetime) -> Change:
    """Run a paused campaign again: what is still in its window goes out."""
    return await _set(session, catalogue, actor, campaign_id, grid_code, "resume",
                      PublishState.PUBLISHED, PublishState.PAUSED, now)

