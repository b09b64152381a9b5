"""The safety calendar: computed dates, cross-checked against a second calendar library, and
calendar files whose mistakes are named with file and line."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
import sxtwl

from hub import calendar as cal
from hub.calendar import OutOfRange, Rule, Span, read_calendar
from hub.errors import ContentError

# sxtwl numbers the terms from 冬至 (0); hub.calendar names them.
SXTWL_TERMS = ("冬至", "小寒", "大寒", "立春", "雨水", "惊蛰", "春分", "清明", "谷雨", "立夏", "小满", "芒种",
               "夏至", "小暑", "大暑", "立秋", "处暑", "白露", "秋分", "寒露", "霜降", "立冬", "小雪", "大雪")


def _sxtwl_terms(year: int) -> dict[str, date]:
    """The terms sxtwl puts in Gregorian `year` (its lists run from one 立春 to the next)."""
    found = {}
    for info in [*sxtwl.getJieQiByYear(year - 1), *sxtwl.getJieQiByYear(year)]:
        moment = sxtwl.JD2DD(info.jd)  # Beijing time
        day = date(int(moment.Y), int(moment.M), int(moment.D))
        if day.year == year:
            found[SXTWL_TERMS[info.jqIndex]] = day
    return found


def test_every_solar_term_and_spring_festival_2000_to_2100_agree_with_sxtwl():
    differences = []
    for year in range(2000, 2101):
        ours = cal.solar_terms(year)
        theirs = _sxtwl_terms(year)
        assert set(ours) == set(cal.SOLAR_TERMS)
        differences += [(year, name, ours[name], theirs.get(name)) for name in ours if ours[name] != theirs.get(name)]
        festival = sxtwl.fromLunar(year, 1, 1)
        expected = date(festival.getSolarYear(), festival.getSolarMonth(), festival.getSolarDay())
        if cal.spring_festival(year) != expected:
            differences.append((year, "春节", cal.spring_festival(year), expected))
    assert differences == []


def test_known_dates():
    assert cal.spring_festival(2027) == date(2027, 2, 6)
    assert cal.lunar_date(2026, 12, "last") == date(2027, 2, 5)  # 除夕
    assert cal.solar_term("清明", 2027) == date(2027, 4, 5)
    assert cal.nth_weekday(2027, 3, 1, -1) == date(2027, 3, 29)  # school safety day
    assert cal.nth_weekday(2027, 2, 1, 5) is None  # no fifth Monday in February 2027
    fu = cal.fu_periods(2024)
    assert fu["三伏"] == Span(date(2024, 7, 15), date(2024, 8, 23))  # 40 days: 中伏 of 20
    assert cal.fu_periods(2025)["三伏"] == Span(date(2025, 7, 20), date(2025, 8, 18))  # 30 days


def test_each_fu_starts_on_a_geng_day_counted_as_sxtwl_counts_them():
    """初伏 on the third 庚 day from 夏至, 末伏 on the first from 立秋 (庚 = heavenly stem 6)."""
    def geng(day: date) -> bool:
        return sxtwl.fromSolar(day.year, day.month, day.day).getDayGZ().tg == 6

    for year in range(2000, 2031):
        fu = cal.fu_periods(year)
        summer, autumn = cal.solar_term("夏至", year), cal.solar_term("立秋", year)
        gengs = [d for d in (summer + timedelta(days=i) for i in range(40)) if geng(d)]
        assert fu["初伏"].start == gengs[2]
        assert fu["末伏"].start == next(d for d in (autumn + timedelta(days=i) for i in range(10)) if geng(d))
        assert (fu["三伏"].end - fu["三伏"].start).days + 1 in (30, 40)


def test_a_year_outside_the_libraries_range_fails_loudly():
    for year in (1582, 1, 10_000):
        with pytest.raises(OutOfRange, match="1583–9999"):
            cal.solar_terms(year)
    with pytest.raises(OutOfRange):
        Rule(date="04-15").spans(date(1500, 1, 1), date(1500, 12, 31))
    with pytest.raises(OutOfRange):
        cal.lunar_date(1000, 1, 1)


def test_spans_cross_the_new_year_and_widen():
    rule = Rule.model_validate({"from": {"date": "10-01"}, "to": {"date": "04-30"}})
    assert rule.spans(date(2027, 1, 1), date(2027, 1, 1)) == [Span(date(2026, 10, 1), date(2027, 4, 30))]
    fireworks = Rule.model_validate({"from": {"lunar": {"month": 12, "day": "last"}},
                                     "to": {"lunar": {"month": 1, "day": 15}}, "before": 1})
    assert fireworks.spans(date(2027, 2, 1), date(2027, 2, 28)) == [Span(date(2027, 2, 4), date(2027, 2, 20))]
    leap = Rule(date="02-29")
    assert leap.spans(date(2027, 1, 1), date(2028, 12, 31)) == [Span(date(2028, 2, 29), date(2028, 2, 29))]


def test_the_shipped_calendar_names_the_national_days():
    calendar = read_calendar()
    found = {o.id: o.span for o in calendar.national_days(2027)}
    assert found["school-safety-day"] == Span(date(2027, 3, 29), date(2027, 3, 29))
    assert found["disaster-prevention-day"].start == date(2027, 5, 12)
    assert found["safety-production-month"] == Span(date(2027, 6, 1), date(2027, 6, 30))
    assert found["fire-day"].start == date(2027, 11, 9)
    assert "spring-festival" not in found and calendar.entry("spring-festival").county is False
    assert {o.id for o in calendar.on(date(2027, 2, 5))} >= {"chuxi", "fireworks-window", "forest-fire-season"}
    assert calendar.entry("flood-season").county
    assert calendar.entry("fire-day").name.get("zh-Hant") == "全國消防日"


def _calendar(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "calendar.yaml"
    path.write_text("entries:\n" + body, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("body", "line", "says"),
    [
        ("  a-day:\n    name: {zh-Hans: 日, en: day}\n    date: '02-30'\n", 4, "month 2 has no day 30"),
        ("  a-day:\n    name: {zh-Hans: 日, en: day}\n    lunar: {month: 13, day: 1}\n", 4, "less than or equal to 12"),
        ("  a-day:\n    name: {zh-Hans: 日, en: day}\n    solar_term: 清明节\n", 4, "unknown solar term '清明节'"),
        ("  a-day:\n    name: {zh-Hans: 日, en: day}\n    date: '04-01'\n    month: 4\n", 2, "only one of"),
        ("  a-day:\n    name: {zh-Hans: 日, en: day}\n    datum: '04-01'\n", 4, "Extra inputs"),
        ("  a-day:\n    name: {zh-Hans: 日, en: day}\n    from: {date: '04-01'}\n", 2, "both `from` and `to`"),
    ],
)
def test_a_broken_calendar_is_refused_with_file_and_line(tmp_path, body, line, says):
    with pytest.raises(ContentError) as caught:
        read_calendar(_calendar(tmp_path, body))
    message = str(caught.value)
    assert "calendar.yaml" in message and f"(line {line})" in message and says in message


def test_a_county_calendar_replaces_the_bundled_one(tmp_path, monkeypatch):
    from hub import content

    _calendar(tmp_path, "  flood-season:\n    name: {zh-Hans: 汛期, en: Flood season}\n"
                        "    from: {date: '04-01'}\n    to: {date: '10-15'}\n    county: true\n")
    monkeypatch.setenv("GRIDCAST_CONTENT_DIR", str(tmp_path))
    content.county_dir.cache_clear()
    try:
        calendar = read_calendar()
        assert list(calendar) == ["flood-season"]
        assert calendar.spans("flood-season", date(2027, 6, 1), date(2027, 6, 1)) == [
            Span(date(2027, 4, 1), date(2027, 10, 15))]
    finally:
        content.county_dir.cache_clear()
