"""Is this report one we already have? Offered to the reporter as "is this the same as #N?".

Two neighbours seeing the same blocked corridor should not make two tickets; asking before
filing keeps the ledger honest without refusing anyone's report.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from rapidfuzz import fuzz
from sqlalchemy import Select, and_, bindparam, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import ScalarSelect

from hub.hazard_models import OPEN_STATES, Hazard

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


def _candidates(
    grid_id: int, category: str | None, now: datetime
) -> Select[tuple[int, str, str, float | None, float | None, datetime]]:
    """Open reports of the grid worth comparing, newest first; only the columns compared.

    Loading every open hazard of a busy grid as an ORM object on each report was most of the
    cost of filing one.
    """
    return (
        select(Hazard.id, Hazard.category, Hazard.text, Hazard.lat, Hazard.lon, Hazard.reported_at)
        .where(
            Hazard.grid_id == grid_id,
            Hazard.state.in_(sorted(OPEN_STATES)),
            or_(
                Hazard.reported_at >= now - WINDOW,
                and_(Hazard.category == category, Hazard.lat.is_not(None)),
            ),
        )
        .order_by(Hazard.reported_at.desc(), Hazard.id.desc())
        .limit(MAX_CANDIDATES)
    )


async def _pick(
    session: AsyncSession,
    rows: Iterable[tuple[int, str, str, float | None, float | None, datetime]],
    *,
    category: str | None,
    text: str,
    lat: float | None,
    lon: float | None,
    now: datetime,
    limit: int,
) -> list[Hazard]:
    near: list[tuple[float, int]] = []
    alike: list[int] = []
    for hazard_id, h_category, h_text, h_lat, h_lon, reported_at in rows:
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
        if reported_at >= now - WINDOW and text and similar_text(text, h_text):
            alike.append(hazard_id)
    near.sort(key=lambda pair: pair[0])
    ids = ([i for _, i in near] + alike)[:limit]
    if not ids:
        return []
    found = {h.id: h for h in await session.scalars(select(Hazard).where(Hazard.id.in_(ids)))}
    return [found[i] for i in ids if i in found]


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

    Same category within 50 m when both are located, or very similar text within 7 days.
    Only open reports are offered: agreeing "it is the same" then follows a live ticket.
    """
    rows = (await session.execute(_candidates(grid_id, category, now))).tuples()
    return await _pick(
        session, rows, category=category, text=text, lat=lat, lon=lon, now=now, limit=limit
    )


@lru_cache(maxsize=8)
def _counted_candidates(count: ScalarSelect[int]) -> Select[tuple[Any, ...]]:
    """The statement of `count_and_find_similar`, built once per count statement.

    Built with bound parameters and kept: composing it and computing its cache key on every
    report cost more than running it.
    """
    counted = select(count.label("counted")).subquery()
    candidates = (
        select(Hazard.id, Hazard.category, Hazard.text, Hazard.lat, Hazard.lon, Hazard.reported_at)
        .where(
            Hazard.grid_id == bindparam("grid_id"),
            Hazard.state.in_(sorted(OPEN_STATES)),
            or_(
                Hazard.reported_at >= bindparam("week_ago"),
                and_(Hazard.category == bindparam("category"), Hazard.lat.is_not(None)),
            ),
        )
        .order_by(Hazard.reported_at.desc(), Hazard.id.desc())
        .limit(MAX_CANDIDATES)
        .subquery()
    )
    return (
        select(counted.c.counted, *candidates.c)
        .select_from(counted.outerjoin(candidates, true()))
        .order_by(candidates.c.reported_at.desc(), candidates.c.id.desc())
    )


async def count_and_find_similar(
    session: AsyncSession,
    count: ScalarSelect[int],
    count_params: dict[str, Any],
    *,
    grid_id: int,
    category: str | None,
    text: str,
    lat: float | None,
    lon: float | None,
    now: datetime,
    limit: int = 3,
) -> tuple[int, list[Hazard]]:
    """`count`'s value and `find_similar`, in one round trip to the database.

    The count (the reporter's recent reports, for the rate limit) is a one-row select that
    the candidates are outer-joined to, so it comes back even when no report is alike.
    `count` is a statement built once, with bound parameters given by `count_params`.
    """
    params = {**count_params, "grid_id": grid_id, "category": category, "week_ago": now - WINDOW}
    rows = (await session.execute(_counted_candidates(count), params)).tuples().all()
    found = await _pick(
        session, [row[1:] for row in rows if row[1] is not None],
        category=category, text=text, lat=lat, lon=lon, now=now, limit=limit,
    )
    return rows[0][0], found
