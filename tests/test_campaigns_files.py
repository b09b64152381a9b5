"""Campaign files: the shipped ones are valid and cover the year; mistakes are refused with the
file and the line; a county's folder adds campaigns and replaces them by id."""

from __future__ import annotations

from datetime import date

import pytest

from broadcasts.campaigns.files import load_campaigns
from broadcasts.campaigns.plan import occasions
from hub import content
from hub.errors import ContentError
from tests.test_audio_content import _write

TOPICS = {
    "spring-festival", "qingming", "school-safety-day", "disaster-prevention", "safety-production-month",
    "drowning-prevention", "flood-season", "typhoon-season", "summer-heat", "straw-burning",
    "winter-heating", "fire-month", "ebike-charging", "gas-safety",
}


@pytest.fixture(scope="module")
def shipped():
    return load_campaigns()


def test_the_shipped_campaigns_cover_the_year(shipped):
    assert set(shipped.campaigns) >= TOPICS and len(shipped.campaigns) >= 12
    months = set()
    for occasion in occasions(shipped, date(2027, 1, 1), date(2027, 12, 31)):
        day = max(occasion.span.start, date(2027, 1, 1))
        while day <= min(occasion.span.end, date(2027, 12, 31)):
            months.add(day.month)
            day = date.fromordinal(day.toordinal() + 1)
    assert months == set(range(1, 13))
    for loaded in shipped.campaigns.values():
        text = loaded.path.read_text(encoding="utf-8")
        assert "Sources:" in text or "See spring-festival.yaml" in text, loaded.id
        assert "http" not in text  # sources are named, never linked from memory
        assert loaded.campaign.posts and loaded.campaign.speakers, loaded.id
        for index, _ in enumerate(loaded.campaign.posts):
            values = {"grid": "G", "title": "T", "start": "S", "end": "E", "day": "D", "year": 2027}
            assert loaded.render(index, "zh-Hans", **values) and loaded.render(index, "en", **values)
            hant = loaded.render(index, "zh-Hant", **values)
            assert hant != loaded.render(index, "zh-Hans", **values)  # converted by OpenCC


def test_the_windows_land_on_the_right_days(shipped):
    found = {(o.campaign.id, o.index): o.span for o in occasions(shipped, date(2027, 1, 1), date(2027, 12, 31))}
    assert found[("qingming", 0)].start == date(2027, 3, 29) and found[("qingming", 0)].end == date(2027, 4, 7)
    assert found[("spring-festival", 1)].start == date(2027, 2, 5)  # 除夕
    assert found[("school-safety-day", 0)].end == date(2027, 3, 29)  # the last Monday of March
    assert found[("fire-month", 0)].start == date(2027, 11, 1)
    assert found[("summer-heat", 0)].start == date(2027, 7, 20)  # 初伏


GOOD = """\
id: drill
title: {zh-Hans: 消防演练, en: Fire drill}
windows:
  - date: '11-09'
    before: 2
posts:
  - day: 0
    at: '09:00'
    text:
      zh-Hans: "{{ grid }}：{{ day }}消防演练"
      en: "{{ grid }}: fire drill on {{ day }}"
speakers:
  - script: fire-day-119
    dialects: [putian]
    times: ['09:00']
"""


def test_a_valid_campaign_in_another_folder_loads(tmp_path):
    _write(tmp_path, "drill.yaml", GOOD)
    found = load_campaigns(tmp_path)
    assert list(found.campaigns) == ["drill"]
    drill = found.campaigns["drill"]
    assert drill.render(0, "en", grid="T1", day="9 November", title="", start="", end="", year=2027) \
        == "T1: fire drill on 9 November"
    assert drill.render(0, "zh-Hant", grid="一網格", day="11月9日", title="", start="", end="", year=2027) \
        == "一網格：11月9日消防演練"


def test_a_post_rendered_once_for_many_grids_reads_as_if_rendered_for_each(tmp_path):
    _write(tmp_path, "drill.yaml", GOOD.replace('en: "{{ grid }}: fire drill on {{ day }}"',
                                                'en: "{{ grid|upper }}: fire drill on {{ day }}"'))
    drill = load_campaigns(tmp_path).campaigns["drill"]
    values = {"title": "", "start": "", "end": "", "day": "9 November", "year": 2027}
    assert drill.plain[0] == {"zh-Hans", "zh-Hant"}  # en filters the name: rendered per grid
    for lang in ("zh-Hans", "zh-Hant", "en"):
        text_for = drill.renderer(0, lang, **values)
        for grid in ("T1", "南苑社区第一网格", "{{ x }}"):
            assert text_for(grid) == drill.render(0, lang, grid=grid, **values)


@pytest.mark.parametrize(
    ("change", "line", "says"),
    [
        (("windows:", "prioritty: 5\nwindows:"), 3, "prioritty: Extra inputs are not permitted"),
        (("title:", "titel:"), 1, "title: Field required"),
        (("    before: 2", "    before: 2\n    colour: red"), 6, "windows.0.colour: Extra inputs"),
        (("  - date: '11-09'", "  - date: '02-30'"), 4, "month 2 has no day 30"),
        (("  - date: '11-09'", "  - lunar: {month: 13, day: 1}"), 4, "less than or equal to 12"),
        (("  - date: '11-09'", "  - solar_term: 清明节"), 4, "unknown solar term '清明节'"),
        (("  - date: '11-09'", "  - calendar: no-such-day"), 4, "no entry 'no-such-day'"),
        (("{{ grid }}：{{ day }}", "{{ grid }：{{ day }}"), 10, "template error"),
        (("fire drill on {{ day }}", "fire drill on {{ weather }}"), 11, "names weather"),
        (("at: '09:00'", "at: '25:00'"), 8, "not a time of day"),
        (("script: fire-day-119", "script: no-such-script"), 13, "no script 'no-such-script'"),
        (("dialects: [putian]", "dialects: [klingon]"), 14, "unknown dialect 'klingon'"),
        (("id: drill", "id: other"), 1, "differs from the file name"),
        (("    before: 2", "    before: 2\n    month: 3"), 4, "only one of"),
    ],
)
def test_a_broken_campaign_is_refused_with_file_and_line(tmp_path, change, line, says):
    old, new = change
    assert old in GOOD
    _write(tmp_path, "drill.yaml", GOOD.replace(old, new, 1))
    with pytest.raises(ContentError) as caught:
        load_campaigns(tmp_path)
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'drill.yaml'}: ")
    assert f"(line {line})" in message and says in message


def test_a_syntax_error_names_file_line_and_column(tmp_path):
    _write(tmp_path, "drill.yaml", GOOD.replace("windows:", "windows: [", 1))
    with pytest.raises(ContentError, match=r"drill.yaml: -: cannot read: not valid YAML: .*line \d+, column"):
        load_campaigns(tmp_path)


def test_a_county_adds_campaigns_and_replaces_one_by_id(tmp_path, monkeypatch, shipped):
    county = tmp_path / "county"
    _write(county / "campaigns", "drill.yaml", GOOD)
    _write(county / "campaigns", "typhoon-season.yaml",
           GOOD.replace("id: drill", "id: typhoon-season").replace("消防演练", "防台演练"))
    monkeypatch.setenv("GRIDCAST_CONTENT_DIR", str(county))
    content.county_dir.cache_clear()
    try:
        found = load_campaigns()
    finally:
        content.county_dir.cache_clear()
    assert set(found.campaigns) == set(shipped.campaigns) | {"drill"}
    assert found.campaigns["typhoon-season"].title("zh-Hans") == "防台演练"
    assert found.campaigns["typhoon-season"].path.is_relative_to(county)
