"""CAP's shapes as text: "lat,lon" points, polygons of them, and "lat,lon radius" circles.

Read the way real publishers write them: a space after a comma, an open polygon (closed here,
with a note), an empty or flat one (skipped, with a note, so the rest of the area counts), a
circle of radius 0 (a point). Refused with a reason: what is not a number or not a finite one,
what lies outside WGS 84, a polygon of more points than MAX_POLYGON_POINTS.

This runs in the CAP process (worker.py), never on the event loop's.
"""

from __future__ import annotations

import math
import re

MAX_POLYGON_POINTS = 50_000  # far above real publishers' few thousand
MAX_RADIUS_KM = 20_038.0  # half the Earth's circumference
_COMMA = re.compile(r"\s*,\s*")  # "25.4, 119.0" is read as "25.4,119.0"
_SPACED = (", ", " ,", ",\n", "\n,", ",\t", "\t,", ",\r", "\r,")


class ShapeError(ValueError):
    """A shape that cannot be read; `reason` says why (cap.py makes it the document's)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def show(text: str, limit: int = 60) -> str:
    """A stranger's text quoted in a reason, never more than a line of it."""
    return repr(text if len(text) <= limit else text[:limit] + "…")


def point(text: str, where: str) -> tuple[float, float]:
    try:
        lat_text, lon_text = text.split(",")
        lat, lon = float(lat_text), float(lon_text)
    except ValueError:
        raise ShapeError(f"<{where}> has a point {show(text)} that is not 'lat,lon'") from None
    if not (math.isfinite(lat) and math.isfinite(lon)):
        raise ShapeError(f"<{where}> has a point {show(text)} that is not a finite number")
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ShapeError(f"<{where}> has a point {show(text)} outside WGS 84 ranges")
    return lat, lon


def _distinct(points: list[tuple[float, float]], enough: int = 3) -> int:
    """How many different points there are, counted no further than `enough` (a set of
    20,000 points is one long call that holds the GIL; this stops at the third point)."""
    seen: list[tuple[float, float]] = []
    for each in points:
        if each not in seen:
            seen.append(each)
            if len(seen) == enough:
                break
    return len(seen)


def _flat(points: list[tuple[float, float]]) -> bool:
    """Whether every point lies on one line (or is one point): a ring that encloses nothing."""
    y0, x0 = points[0]
    other = next(((y, x) for y, x in points if (y, x) != (y0, x0)), None)
    if other is None:
        return True
    dy, dx = other[0] - y0, other[1] - x0
    return all(abs((y - y0) * dx - (x - x0) * dy) <= 1e-12 for y, x in points)


def pairs(text: str) -> list[str]:
    """The "lat,lon" items of a shape's text. The regular expression that mends spaces around
    commas runs only on text that has them (13 ms for a 400 KB polygon)."""
    if any(s in text for s in _SPACED):
        text = _COMMA.sub(",", text)
    return text.split()


def polygon(text: str, desc: str, notes: list[str]) -> list[tuple[float, float]] | None:
    """One ring of (lat, lon), or None for a polygon that covers nothing (said in `notes`)."""
    items = pairs(text)
    if not items:
        notes.append(f"area {show(desc)}: an empty <polygon> was skipped")
        return None
    if len(items) > MAX_POLYGON_POINTS:
        raise ShapeError(f"a <polygon> of area {show(desc)} has {len(items)} points, "
                         f"more than the {MAX_POLYGON_POINTS} read")
    points = [point(p, "polygon") for p in items]
    distinct = _distinct(points)
    if points[0] != points[-1] and distinct >= 3:
        points.append(points[0])
        notes.append(f"area {show(desc)}: an open <polygon> was closed")
    if distinct == 1 or (len(points) >= 4 and points[0] == points[-1] and _flat(points)):
        notes.append(f"area {show(desc)}: a <polygon> with no area (its points on one line) was skipped")
        return None
    if len(points) < 4 or points[0] != points[-1]:
        raise ShapeError("<polygon> needs at least four points, the first and last the same")
    return points


def circle(text: str) -> tuple[float, float, float]:
    try:
        centre, radius = pairs(text)
        km = float(radius)
    except ValueError:
        raise ShapeError(f"<circle> {show(text)} is not 'lat,lon radius'") from None
    if not math.isfinite(km):
        raise ShapeError(f"<circle> {show(text)} has a radius that is not a finite number")
    if km < 0:
        raise ShapeError("<circle> has a negative radius")
    if km > MAX_RADIUS_KM:
        raise ShapeError(f"<circle> has a radius of {km:g} km, more than half the Earth's circumference")
    return (*point(centre, "circle"), km)  # a radius of 0 is a point, and counts as one
