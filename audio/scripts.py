"""Announcement scripts (content/scripts/*.yaml) and the dialect registry (content/dialects.yaml).

Both are edited by staff, not developers, so they are validated when loaded and a mistake
is reported as one line naming the file, the field and the line, instead of a clip that
silently lacks its dialect part on the day of a typhoon. A county's `GRIDCAST_CONTENT_DIR`
adds scripts (or replaces one of the same file name) and may replace the dialect registry
whole (see `hub.content`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from audio.tts import LANGUAGES
from hub import content

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


def load_dialects(path: Path | None = None) -> dict[str, Dialect]:
    """The dialect registry: content/dialects.yaml, the county's copy, or `path`."""
    doc = content.read(path or content.file("dialects.yaml"))
    parsed = doc.validate(_DialectFile)
    return content.by_id(
        ((d.id, d, doc.place("dialects", i)) for i, d in enumerate(parsed.dialects)),
        what="dialect id",
    )


def load_script(path: Path, dialects: Mapping[str, Dialect], chimes: set[str]) -> Script:
    doc = content.read(path)
    script = doc.validate(Script)
    if script.id != path.stem:
        raise doc.error("id", f"{script.id!r} differs from the file name {path.stem!r}", "id")
    for dialect in script.dialects:
        if dialect not in dialects:
            known = ", ".join(sorted(dialects))
            raise doc.error(
                f"dialects.{dialect}", f"unknown dialect (known: {known})", "dialects", dialect
            )
    for field, chime in (("chime_in", script.chime_in), ("chime_out", script.chime_out)):
        if chime is not None and chime not in chimes:
            known = ", ".join(sorted(chimes))
            raise doc.error(field, f"no chime {chime!r} in content/chimes (known: {known})", field)
    return script


def load_scripts(
    directory: Path | None = None, dialects: Mapping[str, Dialect] | None = None
) -> dict[str, Script]:
    """Every script, by id: content/scripts with the county's, or those in `directory`."""
    dialects = dialects if dialects is not None else load_dialects()
    chimes = {path.stem for path in content.files("chimes")}
    return {
        path.stem: load_script(path, dialects, chimes)
        for path in content.files("scripts", directory)
    }
