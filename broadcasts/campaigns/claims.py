"""Release keys: a release row is inserted or found taken, never both.

"On conflict do nothing" on the unique key (campaign, window, grid, item), returning the grids
whose row this statement inserted: only those may be sent to. Two passes racing for the same
key (a second scheduler, a retry) both run the insert; one of them gets the grid back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from broadcasts.campaigns.models import CampaignRelease
from broadcasts.campaigns.plan import Due

KEY = ["campaign_id", "window", "grid_id", "item"]


async def claim(session: AsyncSession, due: Due, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert release rows of `due`, one per entry of `rows` (grid_id and its values); return
    the grids whose row was new.

    One statement executed for many rows: SQLAlchemy sends them in pages of VALUES
    ("insertmanyvalues") and gathers what each page returned, so a thousand grids cost a few
    round trips and one compiled statement."""
    if not rows:
        return []
    insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    base = {"campaign_id": due.campaign_id, "window": due.occasion.key, "item": due.item}
    values = [{**base, "messages": 0, "slot_id": None, **row} for row in rows]
    result = await session.execute(
        insert(CampaignRelease).on_conflict_do_nothing(index_elements=KEY).returning(CampaignRelease.grid_id),
        values,
    )
    return list(result.scalars())
