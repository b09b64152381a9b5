"""Which grids an area covers, and which chats a set of grids reaches.

A warning's area is stored as grid codes, each standing for its whole subtree. CAP areas come
as shapes (polygons and circles, lat/lon in WGS 84) or as GB/T 2260 geocodes; they are turned
into grid codes once, when the alert is read, so delivery and reports never redo geometry.
The geometry runs in the CAP process (worker.py): a polygon of 20,000 points must not stall
the event loop.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import shapely
from shapely import STRtree, affinity
from shapely.geometry import Point, Polygon, shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from broadcasts.warnings import cap, worker
from hub.models import Chat, ChatKind, Grid

log = logging.getLogger(__name__)

KM_PER_DEGREE = 111.32
# A shape that only brushes a grid's edge (a shared border, rounding) does not cover it; one
# that overlaps a thousandth of the grid, or has a twentieth of itself inside it, does (so a
# small circle inside a large village grid still reaches it).
MIN_OVERLAP_SHARE = 0.001
MIN_SHAPE_SHARE = 0.05
MAX_STORED_POINTS = 1_000  # of a warning's polygons together (see stored())


def _polygon(ring: Sequence[Sequence[float]]) -> Polygon | None:
    """A (lat, lon) ring (an array as `cap.packed` gives it, or stored lists) as a shapely
    polygon in (lon, lat), built in C from the array."""
    try:
        coords = np.asarray(ring, dtype=np.float64).reshape(-1, 2)
        return shapely.polygons(coords[:, ::-1])
    except (ValueError, TypeError, shapely.errors.ShapelyError):
        log.warning("a polygon of %d points is not a ring; left out", len(ring))
        return None


def _area_shapes(geometry: dict[str, Any]) -> list[BaseGeometry]:
    """CAP's "lat,lon" polygons and "lat,lon radius-km" circles as shapely shapes in lon/lat.

    A circle of radius 0 is its centre point (OASIS's earthquake example is one); a polygon
    that shapely cannot make into an area is left out, and the rest of the shapes count.
    """
    shapes: list[BaseGeometry] = []
    for ring in geometry.get("polygons", []):
        polygon = _polygon(ring)
        if polygon is None:
            continue
        polygon = polygon if polygon.is_valid else polygon.buffer(0)
        if not polygon.is_empty:
            shapes.append(polygon)
    for lat, lon, km in geometry.get("circles", []):
        if km == 0:
            shapes.append(Point(lon, lat))
            continue
        # Degrees of longitude shrink with latitude; an ellipse in degrees is a circle on the ground.
        unit = Point(lon, lat).buffer(km / KM_PER_DEGREE, quad_segs=32)
        shapes.append(affinity.scale(unit, xfact=1 / max(math.cos(math.radians(lat)), 1e-6), yfact=1.0))
    return shapes


def _simplified(rings: list[Sequence[Sequence[float]]]) -> list[list[list[float]]]:
    """Rings simplified until all of them together have at most MAX_STORED_POINTS points:
    a ring of more than four times that many keeps every n-th point first, then
    Douglas-Peucker with a tolerance growing from 0.1 m does the rest."""
    shapes = []
    for ring in rings:
        polygon = _polygon(ring[::max(1, len(ring) // (4 * MAX_STORED_POINTS))])
        if polygon is not None and not polygon.is_empty:
            shapes.append(polygon)
    tolerance = 1e-6  # degrees: about 0.1 m
    while sum(int(n) for n in shapely.get_num_coordinates(shapes)) > MAX_STORED_POINTS and tolerance < 1:
        simplified = [polygon.simplify(tolerance, preserve_topology=True) for polygon in shapes]
        shapes = [s for s in simplified if isinstance(s, Polygon) and not s.is_empty]
        tolerance *= 2
    log.info("an area of %d points is stored as %d (tolerance up to %.1e degrees)",
             sum(len(ring) for ring in rings), sum(len(s.exterior.coords) for s in shapes), tolerance)
    return [np.asarray(s.exterior.coords)[:, ::-1].tolist() for s in shapes]


def stored(geometry: dict[str, Any]) -> dict[str, Any]:
    """The area as a warning keeps it, in plain lists; run in the CAP process. Polygons of
    more than MAX_STORED_POINTS points in all are simplified to that many.

    The grids are found with the full shapes first. What is stored is what the warning shows
    and republishes in CAP, and it is written and read as JSON on the event loop each time the
    warning is: 20,000 points cost tens of milliseconds there, every time, and the objects
    JSON makes of them lengthen every garbage collection of the process.
    """
    rings = geometry.get("polygons", [])
    if sum(len(ring) for ring in rings) > MAX_STORED_POINTS:
        return {**geometry, "polygons": _simplified(rings)}
    return {**geometry, "polygons": [np.asarray(ring, dtype=np.float64).tolist() for ring in rings]}


async def area_of(session: AsyncSession, info: cap.Info) -> tuple[list[str], dict[str, Any]]:
    """The grid codes an alert's area covers, found with its full shapes, and the area as its
    warning stores it (stored()); the geometry of both is worked out off the event loop."""
    geometry = {
        "polygons": [ring for area in info.areas for ring in area.polygons],
        "circles": [list(circle) for area in info.areas for circle in area.circles],
        "geocodes": [list(geocode) for area in info.areas for geocode in area.geocodes],
    }
    codes = await grids_in_area(session, geometry)
    return codes, await worker.run(stored, geometry)


def _covers(area: BaseGeometry, boundary: BaseGeometry) -> bool:
    """Whether a shape of the alert covers a grid (both prepared).

    The cheap answers come first: GEOS computes an intersection holding the GIL, 7 ms for a
    polygon of 20,000 points, and the event loop waits that long; where one shape lies inside
    the other, the prepared test answers in microseconds. Otherwise only the part of the
    shape within the grid's bounding box is intersected.
    """
    if not area.intersects(boundary):
        return False
    if boundary.area == 0 or area.area == 0:  # a point (a circle of radius 0) inside or on it
        return True
    if area.contains(boundary) or boundary.contains(area):
        return True
    try:
        overlap = shapely.clip_by_rect(area, *boundary.bounds).intersection(boundary).area
    except shapely.errors.ShapelyError:  # clipping may leave an invalid piece
        overlap = area.intersection(boundary).area
    return overlap / boundary.area >= MIN_OVERLAP_SHARE or overlap / area.area >= MIN_SHAPE_SHARE


def _covered_by_shapes(geometry: dict[str, Any], leaves: list[tuple[int, Any]]) -> set[int]:
    """The grids (id, GeoJSON boundary) the area's shapes cover; run in the CAP process."""
    shapes = _area_shapes(geometry)
    if not shapes:
        return set()
    shapely.prepare(shapes)
    tree = STRtree(shapes)
    covered = set()
    for grid_id, boundary_json in leaves:
        try:
            boundary = shape(boundary_json)
        except (ValueError, TypeError, AttributeError, KeyError, shapely.errors.ShapelyError):
            continue
        shapely.prepare(boundary)
        if any(_covers(shapes[i], boundary) for i in tree.query(boundary)):
            covered.add(grid_id)
    return covered


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
    if geometry.get("polygons") or geometry.get("circles"):
        parents_with_shapes = {g.parent_id for g in everything if g.boundary and g.parent_id}
        leaves = [(g.id, g.boundary) for g in everything if g.boundary and g.id not in parents_with_shapes]
        covered = await worker.run(_covered_by_shapes, geometry, leaves)
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
