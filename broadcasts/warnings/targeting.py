"""Which grids an area covers, and which chats a set of grids reaches.

A warning's area is stored as grid codes, each standing for its whole subtree. CAP areas come
as shapes (polygons and circles, lat/lon in WGS 84) or as GB/T 2260 geocodes; they are turned
into grid codes once, when the alert is read, so delivery and reports never redo geometry.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from shapely import affinity
from shapely.geometry import Point, Polygon, shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.models import Chat, ChatKind, Grid

KM_PER_DEGREE = 111.32
# A shape that only brushes a grid's edge (a shared border, rounding) does not cover it.
MIN_OVERLAP_SHARE = 0.001


def _area_shapes(geometry: dict[str, Any]) -> list[BaseGeometry]:
    """CAP's "lat,lon" polygons and "lat,lon radius-km" circles as shapely shapes in lon/lat."""
    shapes: list[BaseGeometry] = []
    for ring in geometry.get("polygons", []):
        polygon = Polygon([(lon, lat) for lat, lon in ring])
        shapes.append(polygon if polygon.is_valid else polygon.buffer(0))
    for lat, lon, km in geometry.get("circles", []):
        # Degrees of longitude shrink with latitude; an ellipse in degrees is a circle on the ground.
        unit = Point(lon, lat).buffer(km / KM_PER_DEGREE, quad_segs=32)
        shapes.append(affinity.scale(unit, xfact=1 / max(math.cos(math.radians(lat)), 1e-6), yfact=1.0))
    return shapes


def _covers(area: BaseGeometry, boundary: BaseGeometry) -> bool:
    if not area.intersects(boundary):
        return False
    if boundary.area == 0:
        return True
    return area.intersection(boundary).area / boundary.area >= MIN_OVERLAP_SHARE


def _geocode_prefix(value: str) -> str:
    """GB/T 2260 codes are hierarchical: 350300 is a whole city, so it covers every 3503…."""
    code = value.strip()
    while len(code) > 2 and code.endswith("00"):
        code = code[:-2]
    return code


def _outermost(grids: Sequence[Grid]) -> list[str]:
    """Drop grids whose ancestor is already in the set: a code stands for its subtree."""
    paths = sorted({g.path for g in grids}, key=len)
    kept: list[str] = []
    for path in paths:
        if not any(path.startswith(k) for k in kept):
            kept.append(path)
    by_path = {g.path: g.code for g in grids}
    return sorted(by_path[p] for p in kept)


def _roll_up(covered: set[int], grids: Sequence[Grid]) -> set[int]:
    """A parent all of whose children are covered is covered as a whole (its own chats too)."""
    children: dict[int, set[int]] = {}
    for grid in grids:
        if grid.parent_id is not None:
            children.setdefault(grid.parent_id, set()).add(grid.id)
    changed = True
    while changed:
        changed = False
        for parent, kids in children.items():
            if parent not in covered and kids <= covered:
                covered.add(parent)
                changed = True
    return covered


async def grids_in_area(session: AsyncSession, geometry: dict[str, Any]) -> list[str]:
    """The grid codes a CAP area covers: by shape where grids have boundaries, and by geocode.

    A shape is judged against the smallest grids that have boundaries; a larger grid counts
    only when every grid below it is covered, so an alert for one street corner does not
    reach the whole district.
    """
    everything = list(await session.scalars(select(Grid)))
    covered: set[int] = set()
    shapes = _area_shapes(geometry)
    if shapes:
        parents_with_shapes = {g.parent_id for g in everything if g.boundary and g.parent_id}
        for grid in everything:
            if not grid.boundary or grid.id in parents_with_shapes:
                continue
            try:
                boundary = shape(grid.boundary)
            except (ValueError, TypeError, AttributeError, KeyError):
                continue
            if any(_covers(area, boundary) for area in shapes):
                covered.add(grid.id)
    prefixes = [_geocode_prefix(v) for _, v in geometry.get("geocodes", []) if v.strip().isdigit()]
    for grid in everything:
        if grid.geocode and any(grid.geocode.startswith(p) for p in prefixes):
            covered.add(grid.id)
    covered = _roll_up(covered, everything)
    return _outermost([g for g in everything if g.id in covered])


async def subtree_paths(session: AsyncSession, codes: Iterable[str]) -> list[str]:
    codes = list(codes)
    if not codes:
        return []
    return list(await session.scalars(select(Grid.path).where(Grid.code.in_(codes))))


async def chats_in_area(session: AsyncSession, codes: Iterable[str]) -> list[Chat]:
    """Every active chat bound to a grid in these grids' subtrees, residents' and workers' alike."""
    paths = await subtree_paths(session, codes)
    if not paths:
        return []
    query = (
        select(Chat)
        .join(Grid, Chat.grid_id == Grid.id)
        .where(Chat.active.is_(True), or_(*(Grid.path.startswith(p) for p in paths)))
        .order_by(Chat.kind != ChatKind.GROUP, Chat.telegram_chat_id)
    )
    return list(await session.scalars(query))


async def grids_under(session: AsyncSession, codes: Iterable[str]) -> list[Grid]:
    paths = await subtree_paths(session, codes)
    if not paths:
        return []
    return list(await session.scalars(select(Grid).where(or_(*(Grid.path.startswith(p) for p in paths)))))
