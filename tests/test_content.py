"""hub.content: a county's GRIDCAST_CONTENT_DIR adds to or replaces content/, and every mistake
names its file and line."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from audio.scripts import load_scripts
from broadcasts.warnings import ingest
from hazards import categories
from hub import content
from hub.errors import ContentError
from hub.i18n import Texts
from hub.settings import ConfigError, load_settings
from knowledge.base import KnowledgeBase


@pytest.fixture
def county(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A county's content folder, named by GRIDCAST_CONTENT_DIR as an operator would."""
    folder = tmp_path / "county"
    folder.mkdir()
    monkeypatch.setenv("GRIDCAST_CONTENT_DIR", str(folder))
    content.county_dir.cache_clear()
    yield folder.resolve()
    content.county_dir.cache_clear()


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def entry(entry_id: str, zh: tuple[str, str], en: tuple[str, str]) -> str:
    """A knowledge entry as a topic file lists it: (question, answer) in zh-Hans and en."""
    return (
        f"  - id: {entry_id}\n    questions:\n      zh-Hans: [{zh[0]}]\n      en: [{en[0]}]\n"
        f"    answer:\n      zh-Hans: {zh[1]}\n      en: {en[1]}\n"
    )


DRILL = entry(
    "county-drill",
    ("村里的消防演练什么时候", "每月第一个周六上午十点，在村委会门前。"),
    ("When is the village fire drill?", "The first Saturday of each month at 10:00, outside the village committee."),
)
OIL = entry(
    "kitchen-oil-fire",
    ("油锅着火了怎么办", "盖上锅盖，关火，打119。"),
    ("Pan of oil on fire?", "Put the lid on, turn off the heat, call 119."),
)
SCRIPT = "id: drill\ntitle: 演练\nmandarin: 今天上午十点进行消防演练，请大家听从指挥有序疏散。\nrepeat: 0\n"


def test_without_a_county_the_bundled_files_are_read() -> None:
    content.county_dir.cache_clear()
    assert content.county_dir() is None
    assert content.file("categories.yaml") == content.BUNDLED_DIR / "categories.yaml"
    assert content.files("scripts") == sorted((content.BUNDLED_DIR / "scripts").glob("*.yaml"))


def test_a_county_adds_a_knowledge_topic_and_replaces_an_entry(county: Path) -> None:
    bundled = KnowledgeBase.load(content.BUNDLED_DIR / "knowledge")
    write(county, "knowledge/village.yaml", "topic: village\nentries:\n" + DRILL + OIL)
    kb = KnowledgeBase.load()
    assert set(kb.entries) == set(bundled.entries) | {"county-drill"}
    assert kb.entries["kitchen-oil-fire"].answer["en"] == "Put the lid on, turn off the heat, call 119."
    assert kb.search("村里的消防演练什么时候").entry_id == "county-drill"


def test_a_county_replaces_the_categories_and_the_cap_rules(county: Path) -> None:
    write(
        county,
        "categories.yaml",
        "categories:\n"
        "  - {id: straw-burning, name: {zh-Hans: 焚烧秸秆, en: Straw burning}, deadline_hours: 4,\n"
        "     emergency_number: '119', danger_question: {zh-Hans: 火大吗, en: Is it spreading}}\n"
        "  - {id: other, name: {zh-Hans: 其他, en: Other}, deadline_hours: 72,\n"
        "     emergency_number: '110', danger_question: {zh-Hans: 有危险吗, en: In danger}}\n",
    )
    assert categories.load_categories().ids == ["straw-burning", "other"]
    assert ingest.load_rules().decide("台风", "Moderate") == ("meteorological-moderate", "publish")
    write(county, "cap_rules.yaml", "default: publish\nrules: []\n")
    assert ingest.load_rules().decide("台风", "Moderate") == ("default", "publish")
    assert ingest.load_rules().rules == []


def test_a_county_adds_a_script_and_replaces_a_template_key(county: Path) -> None:
    write(county, "scripts/drill.yaml", SCRIPT.replace("repeat: 0", "repeat: 2"))
    scripts = load_scripts()
    assert scripts["drill"].repeat == 2
    assert {"typhoon", "fire-day-119"} <= set(scripts)
    write(county, "templates/zh-Hans/village.yaml", "lang:\n  set: 好嘞，以后说普通话。\n")
    texts = Texts()
    assert texts.get("zh-Hans", "lang.set") == "好嘞，以后说普通话。"
    assert texts.get("en", "lang.set") == Texts(content.BUNDLED_DIR / "templates").get("en", "lang.set")


def test_an_id_defined_twice_names_both_files_and_lines(county: Path) -> None:
    write(county, "knowledge/a.yaml", "topic: village\nentries:\n" + DRILL)
    write(county, "knowledge/b.yaml", "topic: village\n\nentries:\n" + DRILL)
    with pytest.raises(ContentError) as caught:
        KnowledgeBase.load()
    message = str(caught.value)
    assert message.startswith(f"{county / 'knowledge' / 'b.yaml'}: county-drill: duplicate id")
    assert "(also in a.yaml)" in message
    assert "line 4 here, line 3 there" in message


def test_a_county_file_replaces_a_bundled_file_of_its_name(county: Path) -> None:
    """Replacing fire_home.yaml drops its entries: the county's copy stands in for the file."""
    write(county, "knowledge/fire_home.yaml", "topic: home-fire\nentries:\n" + OIL)
    kb = KnowledgeBase.load()
    assert kb.entries["kitchen-oil-fire"].answer["en"] == "Put the lid on, turn off the heat, call 119."
    assert "county-drill" not in kb.entries
    bundled = KnowledgeBase.load(content.BUNDLED_DIR / "knowledge")
    assert len(kb.entries) < len(bundled.entries)


def test_a_yaml_syntax_error_names_the_file_and_line(county: Path) -> None:
    path = write(county, "categories.yaml", "categories:\n  - id: other\n    name: [unclosed\n")
    with pytest.raises(ContentError) as caught:
        categories.load_categories()
    message = str(caught.value)
    assert message.startswith(f"{path}: -: cannot read: not valid YAML:")
    assert re.search(r"\(line 4, column \d+\)$", message)


@pytest.mark.parametrize(
    ("name", "text", "where", "line"),
    [
        ("scripts/drill.yaml", SCRIPT, "repeat", 4),
        (
            "knowledge/village.yaml",
            "topic: village\nentries:\n" + DRILL + DRILL.replace("county-drill", "Bad_Id"),
            "Bad_Id: id",
            10,
        ),
        ("knowledge/village.yaml", "topic: village\nentries:\n" + DRILL.replace("      en: The", "      fr: The"), "county-drill: answer.fr", 9),
        ("cap_rules.yaml", "default: approve\nrules:\n  - name: x\n    action: shout\n", "rules.0.action", 4),
    ],
)  # fmt: skip
def test_a_validation_error_names_the_file_field_and_line(
    county: Path, name: str, text: str, where: str, line: int
) -> None:
    path = write(county, name, text)
    load = {
        "scripts": load_scripts,
        "knowledge": KnowledgeBase.load,
        "cap_rules.yaml": ingest.load_rules,
    }[name.split("/")[0]]
    with pytest.raises(ContentError) as caught:
        load()
    message = str(caught.value)
    assert message.startswith(f"{path}: {where}: ")
    assert message.endswith(f"(line {line})")


def test_a_bundled_file_is_named_by_its_place_in_content() -> None:
    doc = content.read(content.BUNDLED_DIR / "categories.yaml")
    error = doc.error("categories.0.id", "example", "categories", 0, "id")
    assert str(error) == "content/categories.yaml: categories.0.id: example (line 10)"


@pytest.mark.parametrize("where", ["nowhere", "a-file"])
def test_a_content_dir_that_is_no_directory_is_a_configuration_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    (tmp_path / "a-file").write_text("", encoding="utf-8")
    monkeypatch.setenv("GRIDCAST_CONTENT_DIR", str(tmp_path / where))
    with pytest.raises(ConfigError, match=r"^GRIDCAST_CONTENT_DIR: not an existing directory: '.*"):
        load_settings(_env_file=None)
    content.county_dir.cache_clear()
    try:
        with pytest.raises(ConfigError, match="GRIDCAST_CONTENT_DIR"):
            categories.load_categories()
    finally:
        content.county_dir.cache_clear()


def test_a_category_id_given_twice_in_one_file_is_named(county: Path) -> None:
    category = (
        "  - {id: other, name: {zh-Hans: 其他, en: Other}, deadline_hours: 72,\n"
        "     emergency_number: '110', danger_question: {zh-Hans: 有危险吗, en: In danger}}\n"
    )
    path = write(county, "categories.yaml", "categories:\n" + category + category)
    with pytest.raises(ContentError) as caught:
        categories.load_categories()
    assert str(caught.value) == (
        f"{path}: other: duplicate category id (also in categories.yaml): "
        "defined twice (line 4 here, line 2 there)"
    )
