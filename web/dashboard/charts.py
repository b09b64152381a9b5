"""The overview's 12-week trend as an inline SVG, drawn on the server: no chart library, no
script, readable at a desk and on a phone (the drawing scales with its viewBox).

This module only places shapes; the numbers come from hazards.views.weekly_trend.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from hazards.views import Week

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 36, 8, 12, 28


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    value: int
    label: str  # the week's Monday, "MM-DD"


@dataclass(frozen=True)
class Trend:
    width: int
    height: int
    bars: list[Bar]  # reported per week
    line: str  # closed per week, as SVG polyline points
    dots: list[tuple[float, float, int]]
    ticks: list[tuple[float, int]]  # (y, value) of the horizontal guides
    base: float  # y of the zero line
    left: int
    right: int


def _nice_top(value: int) -> int:
    """The axis's top: the first of 4, 8, 20, 40, 80, 200, 400… at or above the highest count,
    so its quarters (the guides) are whole numbers."""
    for power in itertools.count():
        for step in (4, 8, 20):
            if step * 10**power >= value:
                return step * 10**power
    raise AssertionError("unreachable")


def trend(weeks: Sequence[Week]) -> Trend:
    top = _nice_top(max([w.reported for w in weeks] + [w.closed for w in weeks] + [1]))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(weeks), 1)
    base = TOP + plot_h

    def y(value: int) -> float:
        return round(base - plot_h * value / top, 1)

    bars, dots = [], []
    for i, week in enumerate(weeks):
        x = LEFT + i * step
        bars.append(Bar(round(x + step * 0.15, 1), y(week.reported), round(step * 0.7, 1),
                        round(base - y(week.reported), 1), week.reported, week.start.strftime("%m-%d")))
        dots.append((round(x + step / 2, 1), y(week.closed), week.closed))
    line = " ".join(f"{cx},{cy}" for cx, cy, _ in dots)
    ticks = [(y(top * k // 4), top * k // 4) for k in range(5)]  # whole quarters of the top
    return Trend(WIDTH, HEIGHT, bars, line, dots, ticks, base, LEFT, WIDTH - RIGHT)
