"""The safety calendar: national safety days, lunar festivals, solar terms and seasons, computed.

Nothing here is typed per year. `content/calendar.yaml` names each entry by a rule — a fixed
date, the nth weekday of a month, a lunar date, a solar term, a whole month, a 伏 period, or a
span from one of those to another — and the dates of any year come from `lunar-python`
(solar terms to the minute, in China's time). Campaign windows are written in the same rules
(broadcasts/campaigns), and the knowledge base reads the national safety days from here, so
the two never disagree.

The calendar is a single file: a county that sets its own seasons (flood season, typhoons,
forest-fire prevention, heating, fireworks) copies it into `GRIDCAST_CONTENT_DIR` and changes
them; its copy replaces the bundled one whole (see `hub.content`).

lunar-python counts years 1–9999 but reckons dates before 15 October 1582 in the Julian
calendar, which Python's dates do not; so this module answers for 1583–9999 and refuses any
other year loudly (`OutOfRange`) rather than return a date that is silently wrong.
"""

from __future__ import annotations

import calendar as _gregorian
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache, lru_cache
from pathlib import Path
from typing import ClassVar, Literal

from lunar_python import Lunar, LunarYear, Solar
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hub import content
from hub.i18n import to_traditional

MIN_YEAR, MAX_YEAR = 1583, 9999
SOLAR_TERMS = (
    "小寒", "大寒", "立春", "雨水", "惊蛰", "春分", "清明", "谷雨", "立夏", "小满", "芒种", "夏至",
    "小暑", "大暑", "立秋", "处暑", "白露", "秋分", "寒露", "霜降", "立冬", "小雪", "大雪", "冬至",
)
FU = ("三伏", "初伏", "中伏", "末伏")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MAX_OFFSET = 366  # days a span may reach before or after its rule
_ID = r"^[a-z][a-z0-9-]{1,59}$"


class OutOfRange(ValueError):
    """A year the calendar libraries cannot answer for correctly."""


def check_year(year: int) -> int:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise OutOfRange(
            f"the safety calendar computes years {MIN_YEAR}–{MAX_YEAR} (lunar-python's range in "
            f"the Gregorian calendar); {year} is outside it"
        )
    return year


@dataclass(frozen=True, order=True)
class Span:
    """Days from `start` to `end`, both included."""

    start: date
    end: date

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end

    def overlaps(self, first: date, last: date) -> bool:
        return self.start <= last and self.end >= first

    def shifted(self, before: int, after: int) -> Span:
        return Span(self.start - timedelta(days=before), self.end + timedelta(days=after))


# --- what the libraries compute -----------------------------------------------------------------


def _day(solar: Solar) -> date:
    return date(solar.getYear(), solar.getMonth(), solar.getDay())


@lru_cache(maxsize=512)
def solar_terms(year: int) -> dict[str, date]:
    """The 24 solar terms falling in Gregorian `year`, by name, as dates in China's time."""
    check_year(year)
    table = Lunar.fromYmd(year, 1, 1).getJieQiTable()
    # The table of lunar year `year` runs from 大雪 of the year before to 惊蛰 of the next; its
    # Chinese keys 小寒..大雪 fall in `year`, and that year's 冬至 is under its pinyin key.
    found = {name: _day(table[name]) for name in SOLAR_TERMS[:-1]}
    found["冬至"] = _day(table["DONG_ZHI"])
    if any(day.year != year for day in found.values()):  # a library change must not go unseen
        raise AssertionError(f"lunar-python's solar terms of {year} are not all in {year}")
    return found


def solar_term(name: str, year: int) -> date:
    if name not in SOLAR_TERMS:
        raise ValueError(f"unknown solar term {name!r}")
    return solar_terms(year)[name]


@lru_cache(maxsize=512)
def _lunar_months(lunar_year: int) -> dict[int, tuple[float, int]]:
    """Ordinary month -> (Julian day of its first day, its number of days), of a lunar year.

    Read from one LunarYear, kept here: lunar-python keeps only the last year it computed,
    and a calendar asks of two years in turn."""
    check_year(lunar_year)
    return {
        month.getMonth(): (month.getFirstJulianDay(), month.getDayCount())
        for month in LunarYear(lunar_year).getMonthsInYear()
        if month.getMonth() > 0  # a leap month is negative
    }


def lunar_month_days(lunar_year: int, month: int) -> int:
    """How many days (29 or 30) the ordinary (not leap) month has in that lunar year."""
    return _lunar_months(lunar_year)[month][1]


def lunar_date(lunar_year: int, month: int, day: int | Literal["last"]) -> date | None:
    """The Gregorian date of a lunar date; None when the month is too short for that day
    (the 30th of a 29-day month). "last" is the month's last day (除夕 is 12/last)."""
    first, days = _lunar_months(lunar_year)[month]
    wanted = days if day == "last" else day
    if wanted > days:
        return None
    return _day(Solar.fromJulianDay(first + wanted - 1))


def spring_festival(year: int) -> date:
    """春节, the first day of the lunar year that begins in Gregorian `year`."""
    found = lunar_date(year, 1, 1)
    assert found is not None
    return found


def _fu(day: date) -> str | None:
    fu = Solar.fromYmd(day.year, day.month, day.day).getLunar().getFu()
    return None if fu is None else fu.getName()


@lru_cache(maxsize=512)
def fu_periods(year: int) -> dict[str, Span]:
    """初伏, 中伏, 末伏 and the whole 三伏 of `year`, as lunar-python names the days.

    Each 伏 starts on a 庚 day and lasts ten days, 中伏 twenty when a fifth 庚 day comes
    before 立秋; so asking lunar-python of a dozen days finds them all."""
    start = solar_term("夏至", year) + timedelta(days=19)  # 初伏 starts 20–29 days after 夏至
    while _fu(start) is None:
        start += timedelta(days=1)
    middle = start + timedelta(days=10)
    last = middle + timedelta(days=20 if _fu(middle + timedelta(days=10)) == "中伏" else 10)
    end = last + timedelta(days=9)
    found = {"初伏": Span(start, middle - timedelta(days=1)), "中伏": Span(middle, last - timedelta(days=1)),
             "末伏": Span(last, end), "三伏": Span(start, end)}
    if (_fu(start), _fu(middle), _fu(last), _fu(end), _fu(end + timedelta(days=1))) != (
            "初伏", "中伏", "末伏", "末伏", None):
        raise AssertionError(f"lunar-python's 三伏 of {year} is not three runs of ten or twenty days")
    return found


def nth_weekday(year: int, month: int, weekday: int, n: int) -> date | None:
    """The nth (1..5, or -1..-5 from the end) ISO weekday (1 = Monday) of a month; None if the
    month has no such day (a fifth Monday)."""
    check_year(year)
    days = [date(year, month, d) for d in range(1, _gregorian.monthrange(year, month)[1] + 1)]
    matching = [d for d in days if d.isoweekday() == weekday]
    index = n - 1 if n > 0 else n
    return matching[index] if -len(matching) <= index < len(matching) else None


# --- rules, as content files write them --------------------------------------------------------


class NthWeekday(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    month: int = Field(ge=1, le=12)
    weekday: Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
    n: int = Field(ge=-5, le=5)  # 1 = the first, -1 = the last

    @field_validator("n")
    @classmethod
    def _not_zero(cls, value: int) -> int:
        if value == 0:
            raise ValueError("n counts from 1 (the first) or from -1 (the last), never 0")
        return value


class LunarDay(BaseModel):
    """A day of an ordinary lunar month; "last" is its last day (29th or 30th)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    month: int = Field(ge=1, le=12)
    day: int | Literal["last"]

    @field_validator("day")
    @classmethod
    def _day(cls, value: int | str) -> int | str:
        if isinstance(value, int) and not 1 <= value <= 30:
            raise ValueError(f"a lunar month has days 1 to 30 (or 'last'), not {value}")
        return value


def _month_day(text: object) -> tuple[int, int]:
    """"MM-DD" as (month, day); Feb 29 exists (in leap years), Feb 30 never."""
    if not isinstance(text, str):
        raise ValueError("write a day of the year as MM-DD, e.g. '04-15' (without the year)")
    parts = text.split("-")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise ValueError(f"write a day of the year as MM-DD, e.g. '04-15', not {text!r}")
    month, day = int(parts[0]), int(parts[1])
    if not 1 <= month <= 12:
        raise ValueError(f"no month {month} in {text!r}")
    if not 1 <= day <= _gregorian.monthrange(2000, month)[1]:  # 2000: a leap year
        raise ValueError(f"{text!r} is not a date: month {month} has no day {day}")
    return month, day


class Anchor(BaseModel):
    """One day a year: a date, the nth weekday of a month, a lunar date or a solar term."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    CHOICES: ClassVar[str] = "date, nth_weekday, lunar or solar_term"

    date: str | None = None  # "MM-DD"
    nth_weekday: NthWeekday | None = None
    lunar: LunarDay | None = None
    solar_term: str | None = None

    @field_validator("date", mode="before")
    @classmethod
    def _date(cls, value: object) -> object:
        if value is not None:
            _month_day(value)
        return value

    @field_validator("solar_term")
    @classmethod
    def _term(cls, value: str | None) -> str | None:
        if value is not None and value not in SOLAR_TERMS:
            raise ValueError(f"unknown solar term {value!r} (known: {'、'.join(SOLAR_TERMS)})")
        return value

    def kinds(self) -> list[str]:
        return [name for name in ("date", "nth_weekday", "lunar", "solar_term") if getattr(self, name) is not None]

    @model_validator(mode="after")
    def _exactly_one(self) -> Anchor:
        kinds = self.kinds()
        if not kinds:
            raise ValueError(f"give one of {self.CHOICES}")
        if len(kinds) > 1:
            raise ValueError(f"give only one of {self.CHOICES}, not {' and '.join(kinds)}")
        return self

    def days(self, first_year: int, last_year: int) -> list[date]:
        """Its days in Gregorian years first_year..last_year, in order."""
        return sorted(day for year in range(first_year, last_year + 1) for day in self._days_of(year))

    def _days_of(self, year: int) -> list[date]:
        if self.date is not None:
            month, day = _month_day(self.date)
            return [date(year, month, day)] if day <= _gregorian.monthrange(year, month)[1] else []
        if self.nth_weekday is not None:
            rule = self.nth_weekday
            found = nth_weekday(year, rule.month, WEEKDAYS.index(rule.weekday) + 1, rule.n)
            return [found] if found else []
        if self.lunar is not None:
            # A lunar date of Gregorian `year` belongs to that lunar year or the one before.
            days = []
            for lunar_year in (year - 1, year):
                if MIN_YEAR <= lunar_year <= MAX_YEAR:
                    try:
                        found = lunar_date(lunar_year, self.lunar.month, self.lunar.day)
                    except ValueError:  # past the end of Python's dates (lunar 9999's last months)
                        continue
                    if found is not None and found.year == year:
                        days.append(found)
            return days
        assert self.solar_term is not None
        return [solar_term(self.solar_term, year)]


class Rule(Anchor):
    """Days or a span each year: an anchor, a whole month, a 伏 period, or from one anchor to the
    next occurrence of another; then widened by `before` and `after` days."""

    CHOICES: ClassVar[str] = "date, nth_weekday, lunar, solar_term, month, fu or from/to"
    month: int | None = Field(default=None, ge=1, le=12)
    fu: Literal["三伏", "初伏", "中伏", "末伏"] | None = None
    from_: Anchor | None = Field(default=None, alias="from")
    to: Anchor | None = None
    before: int = Field(default=0, ge=0, le=MAX_OFFSET)
    after: int = Field(default=0, ge=0, le=MAX_OFFSET)

    def kinds(self) -> list[str]:
        found = super().kinds()
        found += [name for name in ("month", "fu") if getattr(self, name) is not None]
        if self.from_ is not None or self.to is not None:
            found.append("from/to")
        return found

    @model_validator(mode="after")
    def _from_needs_to(self) -> Rule:
        if (self.from_ is None) != (self.to is None):
            raise ValueError("a span needs both `from` and `to`")
        return self

    def base_spans(self, first_year: int, last_year: int) -> list[Span]:
        """Its spans (before `before`/`after`) that start in years first_year..last_year."""
        if self.month is not None:
            return [Span(date(y, self.month, 1), date(y, self.month, _gregorian.monthrange(y, self.month)[1]))
                    for y in range(first_year, last_year + 1)]
        if self.fu is not None:
            return [fu_periods(y)[self.fu] for y in range(first_year, last_year + 1)]
        if self.from_ is not None and self.to is not None:
            spans = []
            for start in self.from_.days(first_year, last_year):
                ends = [d for d in self.to.days(start.year, min(start.year + 1, MAX_YEAR)) if d >= start]
                if ends:
                    spans.append(Span(start, ends[0]))
            return spans
        return [Span(day, day) for day in self.days(first_year, last_year)]

    def spans(self, first: date, last: date) -> list[Span]:
        """Every span of this rule, widened, that overlaps [first, last], in order."""
        check_year(first.year)
        check_year(last.year)
        # A span may start up to a year (from/to) plus MAX_OFFSET days before what it reaches.
        low, high = max(MIN_YEAR, first.year - 2), min(MAX_YEAR, last.year + 2)
        found = {span.shifted(self.before, self.after) for span in self.base_spans(low, high)}
        return sorted(span for span in found if span.overlaps(first, last))


# --- the calendar file -----------------------------------------------------------------------


class Names(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    zh_hans: str = Field(alias="zh-Hans", min_length=1)
    zh_hant: str | None = Field(default=None, alias="zh-Hant", min_length=1)
    en: str = Field(min_length=1)

    def get(self, lang: str) -> str:
        if lang == "en":
            return self.en
        if lang == "zh-Hant":
            return self.zh_hant or to_traditional(self.zh_hans)
        return self.zh_hans


class Entry(Rule):
    """A named day, month, festival or season. `national`: a day, week or month the state
    proclaims (the knowledge base names these); `county`: a season each county sets for
    itself, the value here being the national default."""

    name: Names
    national: bool = False
    county: bool = False


class _CalendarFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    entries: dict[str, Entry]

    @field_validator("entries")
    @classmethod
    def _ids(cls, entries: dict[str, Entry]) -> dict[str, Entry]:
        for key in entries:
            if not re.match(_ID, key):
                raise ValueError(f"entry id {key!r}: lower-case letters, digits and '-'")
        return entries


@dataclass(frozen=True)
class Occurrence:
    """One entry on the calendar: which, and the days it covers that time."""

    id: str
    entry: Entry
    span: Span

    def name(self, lang: str) -> str:
        return self.entry.name.get(lang)


@dataclass(frozen=True)
class Calendar:
    entries: dict[str, Entry]
    source: Path

    def entry(self, entry_id: str) -> Entry:
        try:
            return self.entries[entry_id]
        except KeyError:
            raise KeyError(f"no entry {entry_id!r} in the safety calendar") from None

    def spans(self, entry_id: str, first: date, last: date) -> list[Span]:
        return self.entry(entry_id).spans(first, last)

    def between(self, first: date, last: date, ids: Iterable[str] | None = None) -> list[Occurrence]:
        """Every occurrence of the entries (all, or `ids`) overlapping [first, last], by start."""
        chosen = self.entries if ids is None else {i: self.entry(i) for i in ids}
        found = [Occurrence(i, e, s) for i, e in chosen.items() for s in e.spans(first, last)]
        return sorted(found, key=lambda o: (o.span, o.id))

    def on(self, day: date) -> list[Occurrence]:
        return self.between(day, day)

    def national_days(self, year: int) -> list[Occurrence]:
        """The national safety days, weeks and months of a year (what the knowledge base cites)."""
        national = [i for i, e in self.entries.items() if e.national]
        return self.between(date(year, 1, 1), date(year, 12, 31), national)

    def __iter__(self) -> Iterator[str]:
        return iter(self.entries)


def read_calendar(path: Path | None = None) -> Calendar:
    """content/calendar.yaml (or the county's copy, or `path`), validated; every mistake names
    the file and the line."""
    doc = content.read(path or content.file("calendar.yaml"))
    parsed = doc.validate(_CalendarFile)
    return Calendar(dict(parsed.entries), doc.path)


@cache
def load_calendar() -> Calendar:
    """The calendar, read once per process (content never changes while it runs)."""
    return read_calendar()
