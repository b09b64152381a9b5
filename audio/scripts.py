"""Announcement scripts (content/scripts/*.yaml) and the dialect registry (content/dialects.yaml).

Both are edited by staff, not developers, so they are validated when loaded and a mistake
is reported as one line naming the file and the field, instead of a clip that silently
lacks its dialect part on the day of a typhoon.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from audio.tts import LANGUAGES
from hub.errors import ContentError

CONTENT_DIR = Path(__file__).resolve().parent.parent / "content"
SCRIPTS_DIR = CONTENT_DIR / "scripts"
DIALECTS_FILE = CONTENT_DIR / "dialects.yaml"
CHIMES_DIR = CONTENT_DIR / "chimes"

_ID = r"^[a-z][a-z0-9-]{1,59}$"


class DialectName(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid", frozen=True)

    zh_hans: str = Field(alias="zh-Hans", min_length=1)
    en: str = Field(min_length=1)


class Dialect(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=_ID)
    name: DialectName
    # A language audio.tts can speak (e.g. "yue"); None: only a recording can carry it.
    voice: str | None = None
    fallback: Literal["mandarin"] = "mandarin"

    @model_validator(mode="after")
    def _voice_known(self) -> Dialect:
        if self.voice is not None and self.voice not in LANGUAGES:
            raise ValueError(f"voice {self.voice!r} is not one of {', '.join(LANGUAGES)}")
        return self


class DialectText(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str | None = Field(default=None, min_length=1)  # for a speech engine
    reading: str | None = Field(default=None, min_length=1)  # shown to whoever records

    @model_validator(mode="after")
    def _something(self) -> DialectText:
        if self.text is None and self.reading is None:
            raise ValueError("give a text, a reading, or both")
        return self


class Script(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=_ID)
    title: str = Field(min_length=1)
    mandarin: str = Field(min_length=1)
    repeat: int = Field(default=1, ge=1, le=5)
    pause_ms: int | None = Field(default=None, ge=0, le=10_000)
    chime_in: str | None = "ding-dong-in"
    chime_out: str | None = "ding-dong-out"
    dialects: dict[str, DialectText] = Field(default_factory=dict)

    def reading_for(self, dialect: str) -> str:
        """What a person recording `dialect` is shown: its reading, else the Mandarin text."""
        entry = self.dialects.get(dialect)
        return entry.reading if entry is not None and entry.reading else self.mandarin

    def speech_text_for(self, dialect: str) -> str | None:
        entry = self.dialects.get(dialect)
        return entry.text if entry is not None else None


class _DialectFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    dialects: tuple[Dialect, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> _DialectFile:
        ids = [d.id for d in self.dialects]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ValueError(f"dialect ids defined twice: {repeated}")
        return self


def _where(error: ValidationError) -> str:
    first = error.errors()[0]
    field = ".".join(str(part) for part in first.get("loc", ())) or "top level"
    message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
    return f"{field}: {message}"


def read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ContentError(f"{path}: cannot read: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise ContentError(f"{path}: not valid YAML: {error}") from None


def load_dialects(path: Path | None = None) -> dict[str, Dialect]:
    path = path or DIALECTS_FILE
    try:
        parsed = _DialectFile.model_validate(read_yaml(path))
    except ValidationError as error:
        raise ContentError(f"{path}: {_where(error)}") from None
    return {d.id: d for d in parsed.dialects}


def load_script(path: Path, dialects: Mapping[str, Dialect], chimes: set[str]) -> Script:
    try:
        script = Script.model_validate(read_yaml(path))
    except ValidationError as error:
        raise ContentError(f"{path}: {_where(error)}") from None
    if script.id != path.stem:
        raise ContentError(f"{path}: id: {script.id!r} differs from the file name {path.stem!r}")
    for dialect in script.dialects:
        if dialect not in dialects:
            raise ContentError(
                f"{path}: dialects.{dialect}: unknown dialect (known: {', '.join(sorted(dialects))})"
            )
    for field, chime in (("chime_in", script.chime_in), ("chime_out", script.chime_out)):
        if chime is not None and chime not in chimes:
            raise ContentError(
                f"{path}: {field}: no chime {chime!r} in content/chimes (known: {', '.join(sorted(chimes))})"
            )
    return script


def load_scripts(
    directory: Path | None = None, dialects: Mapping[str, Dialect] | None = None
) -> dict[str, Script]:
    """Every script in `directory` (content/scripts by default), by id."""
    directory = directory or SCRIPTS_DIR
    dialects = dialects if dialects is not None else load_dialects()
    chimes = {p.stem for p in CHIMES_DIR.glob("*.yaml")}
    return {
        path.stem: load_script(path, dialects, chimes) for path in sorted(directory.glob("*.yaml"))
    }
