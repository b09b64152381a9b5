"""Campaign files (content/campaigns/*.yaml): what a seasonal campaign is, validated on load.

Staff at a street office write these, so every mistake is refused with the file and the line
(see `hub.content`): a wrong field, an impossible date (02-30, lunar month 13), an unknown solar
term, calendar entry, script or dialect, a template that does not compile or names a value
that does not exist. A county's `GRIDCAST_CONTENT_DIR/campaigns/` adds campaigns, and a file
named like a bundled one (its id) replaces it.

A campaign's windows are rules of the safety calendar (`hub.calendar`), or a named entry of it,
each widened by `before`/`after` days. Chat posts are jinja2 templates written in zh-Hans and
en; zh-Hant is converted with OpenCC unless given. Loudspeaker slots name a script of
content/scripts and the dialects wanted: a speaker plays its area's dialect (Mandarin until an
approved recording exists), and each wanted dialect without one is asked of a grid's workers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, ClassVar, Literal

from jinja2 import Environment, StrictUndefined, Template, TemplateSyntaxError, meta, nodes
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from audio.scripts import Dialect, Script, load_dialects, load_scripts
from broadcasts.speakers import timing
from hub import content
from hub.calendar import WEEKDAYS, Calendar, Names, Rule, Span, load_calendar
from hub.i18n import LANGUAGES, to_traditional
from hub.models import GridLevel

_ID = r"^[a-z][a-z0-9-]{1,59}$"
# What a post's template may use; `start`, `end` and `day` are written in the chat's language.
VARIABLES = frozenset({"grid", "title", "start", "end", "day", "year"})
MARK = "\x00grid\x00"  # stands for the grid's name in a post rendered once for many grids
MAX_POST_DAY = 400


def _time(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("write a time of day as HH:MM in quotes, e.g. '09:00'")
    timing.parse_time(value)
    return value


class Target(BaseModel):
    """The grids a campaign reaches (each with everything below it): some by code, or every
    grid of a level ("community": every village and neighbourhood)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    codes: tuple[str, ...] | None = Field(default=None, min_length=1)
    level: GridLevel | None = None

    @model_validator(mode="after")
    def _one(self) -> Target:
        if (self.codes is None) == (self.level is None):
            raise ValueError("give `codes` or `level` (or write `grids: all`)")
        return self


class Window(Rule):
    """A rule of the calendar, or `calendar: <entry id>` (that entry's days), ± days."""

    CHOICES: ClassVar[str] = "calendar, date, nth_weekday, lunar, solar_term, month, fu or from/to"

    calendar: str | None = Field(default=None, pattern=_ID)

    def kinds(self) -> list[str]:
        return super().kinds() + (["calendar"] if self.calendar is not None else [])

    def spans(self, first: date, last: date, calendar: Calendar | None = None) -> list[Span]:
        if self.calendar is None:
            return super().spans(first, last)
        entry = (calendar or load_calendar()).entry(self.calendar)
        widened = [s.shifted(self.before, self.after) for s in entry.spans(
            first - timedelta(days=self.after), last + timedelta(days=self.before))]
        return sorted(s for s in set(widened) if s.overlaps(first, last))


class Texts(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    zh_hans: str = Field(alias="zh-Hans", min_length=1)
    zh_hant: str | None = Field(default=None, alias="zh-Hant", min_length=1)
    en: str = Field(min_length=1)

    def sources(self) -> dict[str, str]:
        return {"zh-Hans": self.zh_hans, "zh-Hant": self.zh_hant or to_traditional(self.zh_hans), "en": self.en}


class Post(BaseModel):
    """A chat post: on `day` of each window (0 its first day, -1 its last) at `at`; with
    `window`, only in that one (0 the first listed)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    window: int | None = Field(default=None, ge=0)
    day: int = Field(default=0, ge=-MAX_POST_DAY, le=MAX_POST_DAY)
    at: str = "09:00"
    text: Texts

    @field_validator("at", mode="before")
    @classmethod
    def _at(cls, value: object) -> str:
        return _time(value)

    @property
    def minute(self) -> int:
        return timing.parse_time(self.at)

    def date_in(self, span: Span) -> date | None:
        """The day this post goes out in a window; None when the window is too short."""
        day = span.start + timedelta(days=self.day) if self.day >= 0 else span.end + timedelta(days=self.day + 1)
        return day if day in span else None


class SpeakerSlot(BaseModel):
    """A loudspeaker slot: a script at times of day on some weekdays, through each window."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    window: int | None = Field(default=None, ge=0)  # only in that window; else in all
    script: str = Field(pattern=_ID)
    dialects: tuple[str, ...] = ()
    times: tuple[str, ...] = Field(min_length=1, max_length=48)
    days: Literal["every"] | tuple[Literal["monday", "tuesday", "wednesday", "thursday", "friday",
                                           "saturday", "sunday"], ...] = "every"

    @field_validator("times", mode="before")
    @classmethod
    def _times(cls, value: object) -> object:
        return [_time(t) for t in value] if isinstance(value, list | tuple) else value

    @property
    def minutes(self) -> list[int]:
        return sorted({timing.parse_time(t) for t in self.times})

    @property
    def weekdays(self) -> list[int]:
        return [] if self.days == "every" else sorted({WEEKDAYS.index(d) + 1 for d in self.days})


class Campaign(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=_ID)
    title: Names
    priority: int = Field(default=50, ge=0, le=100)
    grids: Literal["all"] | Target = "all"
    windows: tuple[Window, ...] = Field(min_length=1)
    posts: tuple[Post, ...] = ()
    speakers: tuple[SpeakerSlot, ...] = ()

    @model_validator(mode="after")
    def _something(self) -> Campaign:
        if not self.posts and not self.speakers:
            raise ValueError("a campaign needs posts, speakers, or both")
        return self

    @field_validator("posts", "speakers")
    @classmethod
    def _windows(cls, parts: tuple[Post | SpeakerSlot, ...], info: Any) -> tuple[Post | SpeakerSlot, ...]:
        windows = info.data.get("windows")
        for part in parts:
            if windows is not None and part.window is not None and part.window >= len(windows):
                raise ValueError(f"window {part.window}: the campaign has windows 0 to {len(windows) - 1}")
        return parts


@dataclass(frozen=True, eq=False)  # one per file: compared and hashed by identity
class Loaded:
    """A campaign with its templates compiled, per post and language."""

    campaign: Campaign
    path: Path
    templates: tuple[Mapping[str, Template], ...] = field(default=())
    # Per post, the languages whose template only prints the grid's name (see `renderer`).
    plain: tuple[frozenset[str], ...] = field(default=())

    @property
    def id(self) -> str:
        return self.campaign.id

    def title(self, lang: str) -> str:
        return self.campaign.title.get(lang)

    def render(self, post: int, lang: str, **values: Any) -> str:
        chosen = self.templates[post]
        return chosen.get(lang, chosen["zh-Hans"]).render(**values).strip()

    def renderer(self, post: int, lang: str, **values: Any) -> Callable[[str], str]:
        """The post's text as a function of the grid's name. A template that only prints the
        name (never tests, filters or computes with it) is rendered once for every grid, the
        name put in after: the same text, a thousand grids for the price of one render."""
        if lang in self.plain[post]:
            text = self.render(post, lang, **values, grid=MARK)
            return lambda grid: text.replace(MARK, grid)
        return lambda grid: self.render(post, lang, **values, grid=grid)


@dataclass(frozen=True)
class Catalogue:
    """Every campaign, by id, with the calendar, scripts and dialects they were checked against."""

    campaigns: dict[str, Loaded]
    calendar: Calendar
    scripts: dict[str, Script]
    dialects: dict[str, Dialect]

    def get(self, campaign_id: str) -> Loaded | None:
        return self.campaigns.get(campaign_id)


_ENV = Environment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)


def _prints_only(parsed: nodes.Template, name: str) -> bool:
    """Whether `name` is used only as a printed value (`{{ grid }}`)."""
    used = sum(1 for node in parsed.find_all(nodes.Name) if node.name == name)
    printed = sum(1 for output in parsed.find_all(nodes.Output) for node in output.nodes
                  if isinstance(node, nodes.Name) and node.name == name)
    return used == printed


def _compile(doc: content.Document, index: int, post: Post) -> tuple[dict[str, Template], frozenset[str]]:
    compiled = {}
    plain = set()
    for lang, source in post.text.sources().items():
        loc = ("posts", index, "text", lang)
        where = f"posts.{index}.text.{lang}"
        try:
            parsed = _ENV.parse(source)
        except TemplateSyntaxError as error:
            raise doc.error(where, f"template error: {error.message} (template line {error.lineno})", *loc) from None
        unknown = meta.find_undeclared_variables(parsed) - VARIABLES
        if unknown:
            raise doc.error(where, f"template names {', '.join(sorted(unknown))}, which posts do not have "
                                   f"(they have: {', '.join(sorted(VARIABLES))})", *loc)
        compiled[lang] = _ENV.from_string(source)
        if _prints_only(parsed, "grid"):
            plain.add(lang)
    assert set(compiled) == set(LANGUAGES)
    return compiled, frozenset(plain)


def load_campaign(path: Path, calendar: Calendar, scripts: Mapping[str, Script],
                  dialects: Mapping[str, Dialect]) -> Loaded:
    doc = content.read(path)
    campaign = doc.validate(Campaign)
    if campaign.id != path.stem:
        raise doc.error("id", f"{campaign.id!r} differs from the file name {path.stem!r}", "id")
    for index, window in enumerate(campaign.windows):
        if window.calendar is not None and window.calendar not in calendar.entries:
            raise doc.error(f"windows.{index}.calendar", f"no entry {window.calendar!r} in the safety calendar "
                            f"({content.shown(calendar.source)})", "windows", index, "calendar")
    for index, slot in enumerate(campaign.speakers):
        if slot.script not in scripts:
            raise doc.error(f"speakers.{index}.script", f"no script {slot.script!r} in content/scripts",
                            "speakers", index, "script")
        for n, dialect in enumerate(slot.dialects):
            if dialect not in dialects:
                raise doc.error(f"speakers.{index}.dialects", f"unknown dialect {dialect!r} (known: "
                                f"{', '.join(sorted(dialects))})", "speakers", index, "dialects", n)
    compiled = [_compile(doc, i, post) for i, post in enumerate(campaign.posts)]
    return Loaded(campaign, path, tuple(c for c, _ in compiled), tuple(p for _, p in compiled))


def load_campaigns(directory: Path | None = None, calendar: Calendar | None = None) -> Catalogue:
    """content/campaigns with the county's (or the files in `directory`), checked against the
    calendar, the scripts and the dialects."""
    calendar = calendar or load_calendar()
    dialects = load_dialects()
    scripts = load_scripts(dialects=dialects)
    # A campaign's id is its file's name, so a county's file of that name replaces it.
    found = {path.stem: load_campaign(path, calendar, scripts, dialects)
             for path in content.files("campaigns", directory)}
    return Catalogue(found, calendar, scripts, dialects)
