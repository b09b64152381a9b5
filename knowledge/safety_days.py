"""Answers about the national safety days, rendered from the safety calendar when the base loads.

The days are the campaigns' calendar (content/calendar.yaml, computed by hub.calendar): an
entry naming `calendar: [fire-day, ...]` has answers that are jinja2 templates over those
calendar entries, so the date a resident is told is the date the campaigns run on, and a
county that changes its calendar changes both. Each named entry is a variable (its id with
underscores) with `.name`, `.when` (its rule in words) and `.this_year` (its days in the year
of loading); `national` lists every national day, week and month of the calendar in order.

A rule is put in words when it is one a resident can remember (a date, the nth weekday of a
month, a month); any other is told by its days this year.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date

from jinja2 import Environment, StrictUndefined, TemplateError

from hub.calendar import Calendar, Span
from hub.calendar import Entry as CalendarEntry

_ZH_NUMBERS = "一二三四五"
_ZH_WEEKDAYS = "一二三四五六日"
_EN_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_EN_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
              "September", "October", "November", "December")
_EN_ORDINALS = ("first", "second", "third", "fourth", "fifth")
# The space a folded YAML line leaves between two Chinese characters or punctuation marks.
_CJK_GAP = re.compile(
    r"(?<=[\u3000-\u9fff\uff00-\uffef])\s+(?=[\u3000-\u9fff\uff00-\uffef0-9])"
    r"|(?<=[0-9])\s+(?=[\u3000-\u9fff\uff00-\uffef])"
)
_WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True)
class Day:
    """A calendar entry as an answer speaks of it, in one language."""

    id: str
    name: str
    when: str
    this_year: str

    def __str__(self) -> str:
        return self.name


def _zh_day(day: date, *, year: bool = True, weekday: bool = False) -> str:
    text = f"{day.year}年{day.month}月{day.day}日" if year else f"{day.month}月{day.day}日"
    return f"{text}，星期{_ZH_WEEKDAYS[day.weekday()]}" if weekday else text


def _en_day(day: date, *, year: bool = True, weekday: bool = False) -> str:
    text = f"{day.day} {_EN_MONTHS[day.month - 1]}" + (f" {day.year}" if year else "")
    return f"{_EN_WEEKDAYS[day.weekday()]} {text}" if weekday else text


def _this_year(span: Span | None, lang: str) -> str:
    if span is None:
        return "今年没有" if lang != "en" else "not this year"
    if lang == "en":
        if span.start == span.end:
            return _en_day(span.start, weekday=True)
        return f"{_en_day(span.start, year=False)} to {_en_day(span.end)}"
    if span.start == span.end:
        return _zh_day(span.start, weekday=True)
    end = _zh_day(span.end, year=span.end.year != span.start.year)
    return f"{_zh_day(span.start)}至{end}"


def _when(entry: CalendarEntry, lang: str) -> str | None:
    """The rule in words, or None when it is not one to say (a lunar date, a span)."""
    english = lang == "en"
    widened = bool(entry.before or entry.after)
    if entry.date is not None:
        month, day = (int(part) for part in entry.date.split("-"))
        if english:
            spoken = f"{day} {_EN_MONTHS[month - 1]}"
            return f"the days around {spoken} each year" if widened else f"{spoken} every year"
        return f"每年{month}月{day}日" + ("前后" if widened else "")
    if widened:
        return None
    if entry.nth_weekday is not None:
        rule = entry.nth_weekday
        weekday = _WEEKDAY_NAMES.index(rule.weekday)
        if english:
            which = "last" if rule.n == -1 else (
                _EN_ORDINALS[rule.n - 1] if rule.n > 0 else f"{_EN_ORDINALS[-rule.n - 1]} from last")
            return f"the {which} {_EN_WEEKDAYS[weekday]} of {_EN_MONTHS[rule.month - 1]} every year"
        which = "最后一个" if rule.n == -1 else (
            f"第{_ZH_NUMBERS[rule.n - 1]}个" if rule.n > 0 else f"倒数第{_ZH_NUMBERS[-rule.n - 1]}个")
        return f"每年{rule.month}月的{which}星期{_ZH_WEEKDAYS[weekday]}"
    if entry.month is not None and entry.from_ is None:
        return f"every {_EN_MONTHS[entry.month - 1]}" if english else f"每年{entry.month}月"
    return None


def describe(calendar: Calendar, entry_id: str, lang: str, year: int) -> Day:
    """A calendar entry's name, rule and days of `year`, in `lang` (zh-Hant: the caller
    converts the rendered zh-Hans answer)."""
    entry = calendar.entry(entry_id)
    spans = entry.spans(date(year, 1, 1), date(year, 12, 31))
    this_year = _this_year(spans[0] if spans else None, lang)
    name = entry.name.get("en" if lang == "en" else "zh-Hans")
    return Day(entry_id, name, _when(entry, lang) or this_year, this_year)


def render(
    answers: Mapping[str, str], calendar: Calendar, ids: list[str], today: date
) -> dict[str, str]:
    """Each answer (by language) rendered with the named calendar entries of `today`'s year.

    Raises KeyError for an entry the calendar lacks, ValueError for a broken template.
    """
    year = today.year
    environment = Environment(undefined=StrictUndefined, autoescape=False)
    national = [
        occurrence.id for occurrence in calendar.national_days(year)
    ]
    rendered = {}
    for lang, text in answers.items():
        speak: Callable[[str], Day] = lambda i, lang=lang: describe(calendar, i, lang, year)  # noqa: E731
        context = {i.replace("-", "_"): speak(i) for i in ids}
        context["national"] = [speak(i) for i in dict.fromkeys(national)]
        try:
            text = " ".join(environment.from_string(text).render(context).split())
            rendered[lang] = text if lang == "en" else _CJK_GAP.sub("", text)
        except TemplateError as error:
            raise ValueError(f"answer ({lang}): {error}") from None
    return rendered
