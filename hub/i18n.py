"""User-visible text: jinja2 templates from content/templates/<language>/*.yaml.

One file per feature in each language folder; keys must be unique across a folder.
zh-Hans and en are written by hand; zh-Hant is converted from zh-Hans with OpenCC, and files
in `zh-Hant/` may override single keys where the conversion reads wrong. Every template is
compiled when loaded, so a typo fails at start-up and not in front of a resident.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jinja2 import Environment, StrictUndefined, Template, TemplateSyntaxError, meta
from opencc import OpenCC

from hub.errors import ContentError

LANGUAGES = ("zh-Hans", "zh-Hant", "en")
LANGUAGE_NAMES = {"zh-Hans": "简体中文", "zh-Hant": "繁體中文", "en": "English"}
DEFAULT_LANGUAGE = "zh-Hans"
TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "content" / "templates"
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


def _flatten(data: Any, prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    if not isinstance(data, dict):
        raise ContentError(f"{prefix or 'top level'}: expected a mapping of keys to texts")
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        elif isinstance(value, str):
            flat[name] = value
        else:
            raise ContentError(f"{name}: expected text, got {type(value).__name__}")
    return flat


def _read_file(path: Path) -> dict[str, str]:
    name = f"{path.parent.name}/{path.name}"
    try:
        return _flatten(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    except yaml.YAMLError as error:
        raise ContentError(f"{name}: {error}") from None
    except ContentError as error:
        raise ContentError(f"{name}: {error}") from None


def _read(folder: Path) -> dict[str, str]:
    merged: dict[str, str] = {}
    for path in sorted(folder.glob("*.yaml")):
        items = _read_file(path)
        clash = set(items) & set(merged)
        if clash:
            raise ContentError(f"{folder.name}/{path.name}: keys defined twice: {sorted(clash)}")
        merged.update(items)
    return merged


class Texts:
    def __init__(self, directory: Path = TEMPLATES_DIR) -> None:
        self._env = Environment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
        sources = {lang: _read(directory / lang) for lang in ("zh-Hans", "en")}
        missing = set(sources["zh-Hans"]) ^ set(sources["en"])
        if missing:
            raise ContentError(f"templates: keys not in both zh-Hans and en: {sorted(missing)}")
        hant = {k: to_traditional(v) for k, v in sources["zh-Hans"].items()}
        extra = _read(directory / "zh-Hant")
        unknown = set(extra) - set(hant)
        if unknown:
            raise ContentError(f"zh-Hant: keys unknown in zh-Hans: {sorted(unknown)}")
        hant.update(extra)
        sources["zh-Hant"] = hant
        self._sources = sources
        self._templates: dict[str, dict[str, Template]] = {}
        for lang, items in sources.items():
            compiled = {}
            for key, source in items.items():
                try:
                    compiled[key] = self._env.from_string(source)
                except TemplateSyntaxError as error:
                    raise ContentError(f"{lang}: {key}: {error.message}") from None
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
