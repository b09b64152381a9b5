"""The one content loader: where content lives, reading its YAML, and naming its mistakes.

Content is the bundled `content/` package plus, when `GRIDCAST_CONTENT_DIR` is set, a
county's own folder laid out the same way, so a county changes what it needs without
forking. The county's files win by one of three rules, depending on the kind of content:

- a single file (`categories.yaml`, `dialects.yaml`, `cap_rules.yaml`,
  `knowledge/_synonyms.yaml`, the seasonal calendar): the county's copy, if there is one,
  replaces the bundled one whole (`file`);
- a folder of files (`knowledge/`, `scripts/`, `chimes/`, `templates/<language>/`,
  `campaigns/`): the county's files add to the bundled ones, and a county file with a
  bundled file's name replaces that file (`files`);
- entries with ids across a folder's files (knowledge entries, template keys): a county's
  entry replaces the bundled entry with its id, while an id given twice among the bundled
  files, or twice among the county's, is a mistake naming both files (`by_id`). Ids within
  one file (categories, dialects) go through `by_id` too, so a repeat is reported alike.

Staff at a street office edit these files, not developers, so every mistake is a
ContentError naming the file and the line: PyYAML's mark for a syntax error, and for a
pydantic validation error the line of the key or list item its location points at.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

import content as _bundled
from hub.errors import ContentError
from hub.settings import load_settings

BUNDLED_DIR = Path(_bundled.__file__).resolve().parent
M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C parser when PyYAML has it
_WHOLE: Any = object()
_DEEPEST = 64  # a self-referencing alias must not recurse for ever


@cache
def county_dir() -> Path | None:
    """`GRIDCAST_CONTENT_DIR`, read from the settings once per process.

    Content is loaded where no Hub is at hand (module-level caches, the CLI, worker threads),
    so this is the one way a loader learns of the county's folder. A test that sets the
    variable calls `county_dir.cache_clear()` before and after.
    """
    return load_settings().content_dir


def shown(path: Path) -> str:
    """A file as messages name it: `content/...` when bundled, else its full path."""
    if path.is_relative_to(BUNDLED_DIR):
        return f"content/{path.relative_to(BUNDLED_DIR).as_posix()}"
    return str(path)


def is_county(path: Path) -> bool:
    county = county_dir()
    return county is not None and path.is_relative_to(county)


def file(name: str, directory: Path | None = None) -> Path:
    """A single file, `name` inside content/ (e.g. "cap_rules.yaml"): the county's copy if it
    has one, else the bundled one; with `directory`, the file of that name there instead."""
    if directory is not None:
        return directory / Path(name).name
    county = county_dir()
    if county is not None and (county / name).is_file():
        return county / name
    return BUNDLED_DIR / name


def files(folder: str, directory: Path | None = None, pattern: str = "*.yaml") -> list[Path]:
    """A folder's files: the bundled ones the county does not replace, then the county's,
    each group by name; with `directory`, just the files there."""
    if directory is not None:
        return sorted(directory.glob(pattern))
    county = county_dir()
    theirs = sorted((county / folder).glob(pattern)) if county is not None else []
    replaced = {path.name for path in theirs}
    ours = [p for p in sorted((BUNDLED_DIR / folder).glob(pattern)) if p.name not in replaced]
    return ours + theirs


@dataclass(frozen=True)
class Place:
    """Where something was written: a file and a line."""

    path: Path
    line: int

    def __str__(self) -> str:
        return f"{shown(self.path)}, line {self.line}"


@dataclass(frozen=True)
class Document:
    """One YAML file's data, and the line each of its keys and list items starts on."""

    path: Path
    data: Any
    lines: Mapping[tuple[str, ...], int]

    def line(self, *loc: object) -> int:
        """The line of the deepest key or item along `loc` (e.g. a pydantic error's loc)."""
        parts = tuple(str(part) for part in loc)
        while parts and parts not in self.lines:
            parts = parts[:-1]
        return self.lines.get(parts, 1)

    def place(self, *loc: object) -> Place:
        return Place(self.path, self.line(*loc))

    def error(self, where: str, message: str, *loc: object) -> ContentError:
        """`<file>: <where>: <message> (line N)`, N being the line of `loc`."""
        return ContentError(f"{shown(self.path)}: {where}: {message} (line {self.line(*loc)})")

    def validate(
        self, model: type[M], data: Any = _WHOLE, *, at: tuple[object, ...] = (), label: str | None = None
    ) -> M:
        """The whole file, or `data` found at `at` in it, as a `model`.

        A validation error names the field (from `at` on when a `label`, such as an entry's
        id, leads it; "-" for the file as a whole) and its line.
        """
        try:
            return model.model_validate(self.data if data is _WHOLE else data)
        except ValidationError as error:
            first = error.errors()[0]
            loc = tuple(first.get("loc", ()))
            shown_loc = loc if label else (*at, *loc)
            field = ".".join(str(part) for part in shown_loc if part != "[key]")  # a bad key
            where = ": ".join(part for part in (label, field) if part) or "-"
            message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
            raise self.error(where, message, *at, *loc) from None


def read(path: Path) -> Document:
    """Parse one YAML file; a syntax error names the file, the line and the column."""
    name = shown(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ContentError(f"{name}: -: cannot read: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise ContentError(f"{name}: -: cannot read: not UTF-8 text") from None
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as error:
        problem = ": ".join(part for part in (error.context, error.problem) if part)
        mark = error.problem_mark or error.context_mark
        at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise ContentError(f"{name}: -: cannot read: not valid YAML: {problem}{at}") from None
    except yaml.YAMLError as error:
        raise ContentError(f"{name}: -: cannot read: not valid YAML: {error}") from None
    finally:
        loader.dispose()
    lines: dict[tuple[str, ...], int] = {}
    if node is not None:
        _record(node, (), lines)
    return Document(path, data, lines)


def _record(node: yaml.Node, loc: tuple[str, ...], lines: dict[tuple[str, ...], int]) -> None:
    """The line of every key (for a mapping's value) and list item, by its path."""
    lines.setdefault(loc, node.start_mark.line + 1)
    if len(loc) >= _DEEPEST:
        return
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            here = (*loc, str(key.value))
            lines[here] = key.start_mark.line + 1
            _record(value, here, lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _record(item, (*loc, str(index)), lines)


def load(path: Path, model: type[M]) -> M:
    """Read one file and validate it as a `model`."""
    return read(path).validate(model)


def by_id(items: Iterable[tuple[str, T, Place]], what: str = "id") -> dict[str, T]:
    """Entries by id, in the order first given (bundled files come before the county's).

    A county's entry replaces a bundled one with its id; any other id given twice is a
    ContentError naming both files and lines.
    """
    found: dict[str, tuple[T, Place]] = {}
    for key, value, place in items:
        if key in found:
            first = found[key][1]
            if not is_county(place.path) or is_county(first.path):
                raise ContentError(
                    f"{shown(place.path)}: {key}: duplicate {what} (also in {first.path.name}): "
                    f"defined twice (line {place.line} here, line {first.line} there)"
                )
        found[key] = (value, place)
    return {key: value for key, (value, _) in found.items()}
