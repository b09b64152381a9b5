"""Where a campaign runs: its target grids, cut to where staff published and did not pause it.

Grids are known by their paths ("/D1/S1/C1/"), so "is this grid inside that one" is a prefix
test and a grid's ancestors are the prefixes of its path. Pure: the release and the preview
hand in the rows they read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from broadcasts.campaigns.models import PublishState


@dataclass(frozen=True)
class GridRow:
    id: int
    code: str
    path: str
    level: str
    name: str = ""


@lru_cache(maxsize=1 << 16)
def prefixes(path: str) -> tuple[str, ...]:
    """The paths of a grid and its ancestors, root first: "/D1/S1/" -> ("/D1/", "/D1/S1/")."""
    parts = [p for p in path.split("/") if p]
    return tuple("/" + "/".join(parts[: i + 1]) + "/" for i in range(len(parts)))


@dataclass(frozen=True)
class Region:
    """The grids a campaign runs in: targeted, and published at the deepest state above them."""

    targets: frozenset[str] | None  # paths of the target grids; None for every grid
    states: Mapping[str, PublishState]  # grid path -> state set there

    def state(self, path: str) -> PublishState | None:
        """The state that governs a grid: the one set at it or at its nearest ancestor."""
        for prefix in reversed(prefixes(path)):
            found = self.states.get(prefix)
            if found is not None:
                return found
        return None

    def targeted(self, path: str) -> bool:
        return self.targets is None or any(p in self.targets for p in prefixes(path))

    def runs(self, path: str) -> bool:
        return self.targeted(path) and self.state(path) is PublishState.PUBLISHED


def cover(grids: Sequence[GridRow], inside: Region) -> list[GridRow]:
    """The fewest grids whose subtrees together are exactly where the campaign runs: a grid
    whose whole subtree runs it stands for all of it; a paused grid below splits its parent
    into the parent's other children."""
    by_path = {g.path: g for g in grids}
    children: dict[str, list[str]] = {}
    for path in by_path:
        parents = prefixes(path)
        if len(parents) > 1:
            children.setdefault(parents[-2], []).append(path)
    whole: dict[str, bool] = {}
    for path in sorted(by_path, key=lambda p: p.count("/"), reverse=True):  # leaves first
        whole[path] = inside.runs(path) and all(whole[c] for c in children.get(path, ()))
    found = []
    for path, grid in by_path.items():
        parents = prefixes(path)
        parent = parents[-2] if len(parents) > 1 else None
        if whole[path] and not (parent is not None and whole.get(parent, False)):
            found.append(grid)
    return sorted(found, key=lambda g: g.path)
