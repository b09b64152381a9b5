"""Is this report one we already have? Offered to the reporter as "is this the same as #N?".

Two neighbours seeing the same blocked corridor should not make two tickets; asking before
filing keeps the ledger honest without refusing anyone's report.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Collection, Iterable
from datetime import datetime, timedelta
from functools import lru_cache

from rapidfuzz import fuzz
from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from hazards.models import OPEN_STATES, Hazard

RADIUS_M = 50.0
WINDOW = timedelta(days=7)
SCORE = 70.0
PARTIAL_SCORE = 85.0
MAX_CANDIDATES = 500
_FILLERS = frozenset("的了里着过在有很好多个啊呀吧呢吗嘛哦")
_NUMBER_RE = re.compile(r"\d+")


@lru_cache(maxsize=4096)  # a grid's open reports are compared with every new one
def _normalise(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if ch.isalnum() and ch not in _FILLERS)


@lru_cache(maxsize=4096)
def _numbers(text: str) -> frozenset[str]:
    return frozenset(_NUMBER_RE.findall(unicodedata.normalize("NFKC", text)))


def similar_text(a: str, b: str) -> bool:
    """Whether two reports very likely describe the same thing.

    Character-level edit similarity after dropping punctuation and filler characters copes
    with Chinese without a word segmenter ("3号楼楼道堆满纸箱" ≈ "3号楼的楼道里堆了好多
    纸箱"); word-set similarity covers reordered English; different numbers (3号楼 vs 5号楼)
    mean different places, whatever else matches.
    """
    na, nb = _normalise(a), _normalise(b)
    if min(len(na), len(nb)) < 4:
        return False
    numbers_a, numbers_b = _numbers(a), _numbers(b)
    if numbers_a and numbers_b and numbers_a != numbers_b:
        return False
    if fuzz.ratio(na, nb) >= SCORE:
        return True
    if " " in a + b and fuzz.token_set_ratio(a.casefold(), b.casefold()) >= SCORE:
        return True
    return min(len(na), len(nb)) >= 6 and fuzz.partial_ratio(na, nb) >= PARTIAL_SCORE


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine; plenty for "within 50 m")."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_000 * math.asin(min(1.0, math.sqrt(h)))


CandidateRow = tuple[int, str, str, float | None, float | None, bool]  # id, category, text, lat, lon, recent

_hazards = Hazard.__table__.c
_ranked = (
    select(
        _hazards.grid_id, _hazards.id, _hazards.category, _hazards.text, _hazards.lat, _hazards.lon,
        (_hazards.reported_at >= bindparam("week_ago")).label("recent"),
        func.row_number()
        .over(partition_by=_hazards.grid_id, order_by=(_hazards.reported_at.desc(), _hazards.id.desc()))
        .label("rank"),
    )
    .where(
        _hazards.grid_id.in_(bindparam("grid_ids", expanding=True)),
        _hazards.state.in_(sorted(OPEN_STATES)),
        or_(_hazards.reported_at >= bindparam("week_ago"), _hazards.lat.is_not(None)),
    )
    .subquery()
)
# Open reports worth comparing, newest first, at most MAX_CANDIDATES in each grid asked about;
# only the columns compared, and whether each is within the window rather than its time (turning
# every time into an aware datetime was a good part of the cost). Built once with bound
# parameters: composing it and computing its cache key on every report cost more than running it.
# From the table's columns, not the mapped class: the ORM's loading of a few hundred plain rows
# per grid was a fifth of the CPU a report cost (bench/report_intake.py).
_CANDIDATES = (
    select(_ranked.c.grid_id, _ranked.c.id, _ranked.c.category, _ranked.c.text, _ranked.c.lat,
           _ranked.c.lon, _ranked.c.recent)
    .where(_ranked.c.rank <= MAX_CANDIDATES)
    .order_by(_ranked.c.grid_id, _ranked.c.rank)
)


async def candidates(
    session: AsyncSession, grid_ids: Collection[int], now: datetime
) -> dict[int, list[CandidateRow]]:
    """The open reports that new ones in these grids may repeat, by grid, in one statement.

    Located reports are kept however old, for the 50 m rule; the rest only within the window.
    Loading them as ORM objects on each report was most of the cost of filing one.
    """
    by_grid: dict[int, list[CandidateRow]] = {grid_id: [] for grid_id in grid_ids}
    if by_grid:
        params = {"grid_ids": sorted(by_grid), "week_ago": now - WINDOW}
        for grid_id, hazard_id, category, text, lat, lon, recent in (await session.execute(_CANDIDATES, params)).all():
            by_grid[grid_id].append((hazard_id, category, text, lat, lon, bool(recent)))
    return by_grid


def pick(
    rows: Iterable[CandidateRow],
    *,
    category: str | None,
    text: str,
    lat: float | None,
    lon: float | None,
    limit: int,
) -> list[int]:
    """Which of `rows` a new report may repeat: nearest first, then the most recent alike.

    Same category within 50 m when both are located, or very similar text within 7 days.
    """
    near: list[tuple[float, int]] = []
    alike: list[int] = []
    for hazard_id, h_category, h_text, h_lat, h_lon, recent in rows:
        if (
            lat is not None
            and lon is not None
            and h_lat is not None
            and h_lon is not None
            and h_category == category
        ):
            metres = distance_m(lat, lon, h_lat, h_lon)
            if metres <= RADIUS_M:
                near.append((metres, hazard_id))
                continue
        if recent and text and similar_text(text, h_text):
            alike.append(hazard_id)
    near.sort(key=lambda pair: pair[0])
    return ([i for _, i in near] + alike)[:limit]


async def load(session: AsyncSession, ids: list[int]) -> list[Hazard]:
    """The picked reports as objects, in the order picked."""
    if not ids:
        return []
    found = {h.id: h for h in await session.scalars(select(Hazard).where(Hazard.id.in_(ids)))}
    return [found[i] for i in ids if i in found]


async def root(session: AsyncSession, hazard_id: int) -> Hazard | None:
    """The report a ticket stands for: itself, or the original it was merged into."""
    seen: set[int] = set()
    hazard = await session.get(Hazard, hazard_id)
    while hazard is not None and hazard.duplicate_of_id is not None and hazard.id not in seen:
        seen.add(hazard.id)
        hazard = await session.get(Hazard, hazard.duplicate_of_id)
    return hazard


async def find_similar(
    session: AsyncSession,
    *,
    grid_id: int,
    category: str | None,
    text: str,
    lat: float | None,
    lon: float | None,
    now: datetime,
    limit: int = 3,
) -> list[Hazard]:
    """Open reports in the grid that this one may repeat, nearest or most alike first.

    Only open reports are offered: agreeing "it is the same" then follows a live ticket.
    """
    rows = (await candidates(session, [grid_id], now))[grid_id]
    ids = pick(rows, category=category, text=text, lat=lat, lon=lon, limit=limit)
    return await load(session, ids)
