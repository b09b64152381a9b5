"""User-visible text: jinja2 templates from content/templates/<language>/*.yaml.

One file per feature in each language folder; keys must be unique across a folder. A county's
`GRIDCAST_CONTENT_DIR/templates/<language>/` adds files, and its keys replace the bundled
ones (the rules of `hub.content`). zh-Hans and en are written by hand; zh-Hant is converted
from zh-Hans with OpenCC, and files in `zh-Hant/` may override single keys where the
conversion reads wrong. Every template is compiled when loaded, so a typo fails at start-up
and not in front of a resident.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, StrictUndefined, Template, TemplateSyntaxError, meta
from opencc import OpenCC

from hub import content
from hub.errors import ContentError

LANGUAGES = ("zh-Hans", "zh-Hant", "en")
LANGUAGE_NAMES = {"zh-Hans": "简体中文", "zh-Hant": "繁體中文", "en": "English"}
DEFAULT_LANGUAGE = "zh-Hans"
_TRADITIONAL_TAGS = ("zh-hant", "zh-tw", "zh-hk", "zh-mo")


def language_for(chosen: str | None, telegram_code: str | None, default: str = DEFAULT_LANGUAGE) -> str:
    """The language to answer in: the person's /lang choice, else Telegram's language_code."""
    if chosen in LANGUAGES:
        return chosen
    code = (telegram_code or "").lower().replace("_", "-")
    if code.startswith(_TRADITIONAL_TAGS):
        return "zh-Hant"
    if code.startswith("zh"):
        return "zh-Hans"
    if code.startswith("en"):
        return "en"
    return default


@cache
def to_traditional(text: str) -> str:
    return _converter().convert(text)


@cache
def _converter() -> OpenCC:
    return OpenCC("s2t")


def _flatten(
    doc: content.Document, data: Any, loc: tuple[str, ...] = ()
) -> Iterator[tuple[str, str, content.Place]]:
    """(key, text, where it is written) of every text, nested keys joined with dots."""
    if not isinstance(data, dict):
        raise doc.error(".".join(loc) or "-", "expected a mapping of keys to texts", *loc)
    for key, value in data.items():
        here = (*loc, str(key))
        if isinstance(value, dict):
            yield from _flatten(doc, value, here)
        elif isinstance(value, str):
            yield ".".join(here), value, doc.place(*here)
        else:
            raise doc.error(".".join(here), f"expected text, got {type(value).__name__}", *here)


def _read(lang: str, directory: Path | None) -> dict[str, tuple[str, content.Place]]:
    """A language's texts and where each is written: content/templates/<lang>, or `directory/<lang>`."""
    found = []
    for path in content.files(f"templates/{lang}", directory / lang if directory else None):
        doc = content.read(path)
        found.extend((key, (text, place), place) for key, text, place in _flatten(doc, doc.data or {}))
    return content.by_id(found, what="key")


class Texts:
    def __init__(self, directory: Path | None = None) -> None:
        """The shipped templates with the county's (see `hub.content`), or those in `directory`."""
        self._env = Environment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
        read = {lang: _read(lang, directory) for lang in ("zh-Hans", "en")}
        missing = set(read["zh-Hans"]) ^ set(read["en"])
        if missing:
            raise ContentError(f"templates: keys not in both zh-Hans and en: {sorted(missing)}")
        hant = {k: (to_traditional(text), place) for k, (text, place) in read["zh-Hans"].items()}
        extra = _read("zh-Hant", directory)
        unknown = set(extra) - set(hant)
        if unknown:
            raise ContentError(f"zh-Hant: keys unknown in zh-Hans: {sorted(unknown)}")
        hant.update(extra)
        read["zh-Hant"] = hant
        self._sources = {lang: {k: text for k, (text, _) in items.items()} for lang, items in read.items()}
        self._templates: dict[str, dict[str, Template]] = {}
        for lang, items in read.items():
            compiled = {}
            for key, (source, place) in items.items():
                try:
                    compiled[key] = self._env.from_string(source)
                except TemplateSyntaxError as error:
                    raise ContentError(f"{lang}: {key}: {error.message} ({place})") from None
            self._templates[lang] = compiled

    def names(self) -> set[str]:
        return set(self._templates[DEFAULT_LANGUAGE])

    def parameters(self, lang: str, key: str) -> set[str]:
        """The names a template expects, so tests can render every one of them."""
        return meta.find_undeclared_variables(self._env.parse(self._sources[lang][key]))

    def has(self, key: str) -> bool:
        return key in self._templates[DEFAULT_LANGUAGE]

    def get(self, lang: str, key: str, **params: Any) -> str:
        templates = self._templates.get(lang) or self._templates[DEFAULT_LANGUAGE]
        template = templates.get(key)
        if template is None:
            raise KeyError(f"no template {key!r}")
        return template.render(**params).strip()


@cache
def shipped_texts() -> Texts:
    """The templates shipped in content/, loaded once per process: they never change while it runs."""
    return Texts()
