"""Issue 16: the asker's language, questions about the place, entries that differ by phase or
purpose, and what a resident asks first (the safety days, living in workplaces, every hazard
category). The same through the bot is in test_ask_bot.py."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
import yaml

from hazards.categories import load_categories
from hub.calendar import load_calendar, read_calendar
from knowledge import safety_days
from knowledge.base import KnowledgeBase
from knowledge.textnorm import question_language

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return KnowledgeBase.load()


# -- 1. the language of the question -------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "person", "expected"),
    [
        ("what should I do if my kitchen smells of gas", "zh-Hans", "en"),
        ("滅火器點樣用？", "zh-Hans", "zh-Hant"),
        ("滅火器點樣用？", "en", "zh-Hant"),
        ("灭火器怎么用", "en", "zh-Hans"),
        ("灭火器怎么用", "zh-Hant", "zh-Hans"),  # clearly Simplified
        ("中暑", "zh-Hant", "zh-Hant"),  # characters both scripts share: the person's script
        ("中暑", "en", "zh-Hans"),
        ("电动车 charge 在楼道 OK吗", "en", "zh-Hans"),  # Chinese outweighs the English words
        ("how do I use 灭火器", "zh-Hans", "en"),
        ("Comment utiliser un extincteur", "en", "en"),  # not one of ours: the person's
        ("Comment utiliser un extincteur", "zh-Hant", "zh-Hant"),
        ("119", "en", "en"),
        ("😀🔥", "zh-Hant", "zh-Hant"),
    ],
)
def test_the_language_of_a_question(question: str, person: str, expected: str) -> None:
    assert question_language(question, person) == expected


def test_answers_come_in_the_questions_language(kb: KnowledgeBase) -> None:
    english = kb.answer("how do I put out a pan of burning oil", "zh-Hans")
    assert english.lang == "en" and english.entry_id == "kitchen-oil-fire"
    assert english.answer == kb.entry_text("kitchen-oil-fire", "en")[1]
    assert all(question in kb.entries[i].questions["en"] for i, question in english.related)
    hant = kb.answer("油鍋著火了怎麼滅", "en")
    assert hant.lang == "zh-Hant" and hant.entry_id == "kitchen-oil-fire"
    assert hant.answer == kb.entry_text("kitchen-oil-fire", "zh-Hant")[1]
    typo = kb.answer("fire extinguiser expired still ok", "zh-Hans")  # English with typos
    assert typo.lang == "en" and typo.entry_id == "extinguisher-expiry"
    unknown = kb.answer("Comment utiliser un extincteur", "zh-Hant")
    assert unknown.lang == "zh-Hant"
    # asking for a language still answers in it
    assert kb.search("how do I put out a pan of burning oil", "zh-Hans").lang == "zh-Hans"


def test_english_finds_the_chinese_phrasings(kb: KnowledgeBase) -> None:
    """English words stand for the Chinese terms of the base, so an English question is not
    limited to the two or three English phrasings an entry has."""
    assert kb.normaliser.en_concepts["extinguish"] == ("灭火器", "灭火")
    for question, expected in [
        ("my e-bike battery puffed up", "ebike-battery-warning-signs"),
        ("grandpa slipped in the shower, how do we stop it happening again", "elderly-falls"),
        ("is it ok to burn charcoal in the bedroom to keep warm", "charcoal-indoors"),
    ]:
        assert kb.answer(question).entry_id == expected, question


def test_cli_ask_follows_the_question_without_lang(cli, capsys) -> None:
    assert cli("ask", "--json", "what should I do if oil in a pan catches fire") == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["entry_id"] == "kitchen-oil-fire" and "lid" in printed["answer"].lower()
    assert cli("ask", "油鍋著火了怎麼滅") == 0
    assert "鍋" in capsys.readouterr().out
    assert cli("ask", "--lang", "zh", "what should I do if oil in a pan catches fire") == 0
    assert "锅" in capsys.readouterr().out


# -- 2. questions about the place ----------------------------------------------------------


@pytest.mark.parametrize(
    "question",
    [
        "我们单元的灭火器是哪个公司负责更换的",
        "社区卫生站星期天开不开门",
        "燃气公司这个月几号来抄表",
        "离我们小区最近的派出所在哪",
        "村委会的电话是多少",
        "who looks after the hydrants in our estate",
        "what time does the clinic on our street open",
        "社區診所幾點開門",
    ],
)
def test_questions_about_the_place_are_handed_over(kb: KnowledgeBase, question: str) -> None:
    answer = kb.answer(question)
    assert not answer.answered and answer.reason == "place", question
    assert answer.answer == "" and answer.related == []


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("我们小区消防车道老被车堵住怎么办", "fire-lane-parking"),
        ("楼道应急灯坏了谁负责修", "emergency-lighting"),
        ("森林防火期是什么时候", "fire-season-rules"),
        ("停电了打什么电话", "gas-and-power-hotlines"),
        ("燃气公司上门检查要开门吗", "gas-company-inspection"),
    ],
)
def test_safety_questions_that_mention_the_place_are_answered(
    kb: KnowledgeBase, question: str, expected: str
) -> None:
    assert kb.answer(question).entry_id == expected


def test_a_promoted_answer_may_answer_a_question_about_the_place(kb: KnowledgeBase) -> None:
    base = KnowledgeBase(kb.normaliser, kb.tokeniser, kb.entries.values(), kb.intents)
    question = "小区的微型消防站钥匙在谁那里"
    assert base.answer(question).reason == "place"
    promoted = base.add_promoted("promoted-9", "community", question, "在3号楼物业值班室。", "zh-Hans")
    assert promoted.local
    assert base.answer("小区微型消防站的钥匙在谁手里").entry_id == "promoted-9"


# -- 3. entries that differ by phase or by purpose -----------------------------------------


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("地震正晃得厉害 人在卧室里怎么办", "quake-indoors"),
        ("地震结束以后可以回屋里拿东西吗", "quake-after"),
        ("平常家里怎么做防震准备", "quake-prepare"),
        ("台风快来了家里要提前做什么", "typhoon-prepare"),
        ("台风正刮着 我们待在屋里要注意啥", "typhoon-at-home"),
        ("台风过后可以马上出门吗 要当心啥", "typhoon-after"),
        ("洪水退了以后家里要怎么清理消毒", "after-flood-hygiene"),
        ("家里刚着过火 火灭了以后要做什么", "after-house-fire"),
        ("灭火器的使用方法和步骤", "extinguisher-how-to-use"),
        ("灭火器分几种 各有什么区别", "extinguisher-types"),
        ("怎么判断家里人是不是一氧化碳中毒了", "co-poisoning-symptoms"),
        ("家人一氧化碳中毒晕倒了怎么急救", "co-poisoning-first-aid"),
        ("中暑前会有什么表现", "heat-stroke-symptoms"),
        ("同事中暑晕倒了怎么急救", "heat-stroke-first-aid"),
        ("怎么看出一个人快要溺水了", "drowning-signs"),
    ],
)
def test_phase_and_purpose_pick_the_entry(kb: KnowledgeBase, question: str, expected: str) -> None:
    assert kb.answer(question).entry_id == expected, question


def test_phases_and_purposes_are_read_from_the_question(kb: KnowledgeBase) -> None:
    tags = kb.probe("地震过后能回家吗").tags
    assert "phase:after" in tags
    assert "phase:during" in kb.probe("打雷的时候能洗澡吗").tags
    assert "phase:during" not in kb.probe("电动车要充几个小时").tags  # 小时 is not 时
    assert "phase:before" in kb.probe("台风来之前要准备什么").tags
    assert "purpose:kinds" in kb.probe("灭火器有哪几种").tags
    assert "purpose:use" in kb.probe("how do I use a fire blanket").tags
    assert "phase:after" in kb.probe("地震后回家时要注意什么").tags  # a specific phase wins
    assert not any(t.startswith("phase:") for t in kb.probe("台风来之前和过后都要注意什么").tags)
    declared = {e.id: e.tags for e in kb.entries.values()}
    assert declared["quake-after"] == {"phase:after"}
    assert declared["extinguisher-types"] == {"purpose:kinds"}


def test_an_unknown_phase_in_the_intents_file_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "topic: t\nentries:\n  - id: a\n    questions: {zh-Hans: [问], en: [q]}\n"
        "    answer: {zh-Hans: 答, en: a}\n", encoding="utf-8")
    (tmp_path / "_intents.yaml").write_text("phase:\n  someday: {zh: [某天]}\n", encoding="utf-8")
    with pytest.raises(Exception, match=r"_intents\.yaml: phase\.someday: unknown phase"):
        KnowledgeBase.load(tmp_path)


# -- 4. what a resident asks first ---------------------------------------------------------


def test_every_hazard_category_has_an_entry(kb: KnowledgeBase) -> None:
    categories = {c.id for c in load_categories().categories}
    named = {c for e in kb.entries.values() for c in e.categories}
    assert named <= categories, named - categories
    assert categories <= named, categories - named


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("店里晚上可以睡人吗", {"shop-with-living-quarters", "three-in-one", "workshop-sleeping-quarters"}),
        ("工人住在车间里面有什么问题", {"workshop-sleeping-quarters", "three-in-one"}),
        ("作坊楼上住人楼下干活算三合一吗", {"three-in-one"}),
        ("发现了安全隐患在这里怎么报", {"report-a-hazard"}),
        ("楼道的灭火器被人偷了", {"building-extinguisher-missing"}),
    ],
)
def test_living_in_workplaces_and_other_first_questions(
    kb: KnowledgeBase, question: str, expected: set[str]
) -> None:
    assert kb.answer(question).entry_id in expected, question


def test_every_national_safety_day_has_an_entry(kb: KnowledgeBase) -> None:
    national = {o.id for o in load_calendar().national_days(2030)}
    named = {i for e in kb.entries.values() for i in e.calendar}
    assert national <= named, national - named


@pytest.mark.parametrize("year", [2026, 2027, 2031])
def test_safety_day_answers_agree_with_the_calendar(year: int) -> None:
    """The answers are rendered from the campaigns' calendar: the days they name are the
    calendar's days of that year, in every language."""
    kb = KnowledgeBase.load(today=date(year, 1, 1))
    calendar = load_calendar()
    for entry in (e for e in kb.entries.values() if e.calendar):
        for calendar_id in entry.calendar:
            first = calendar.spans(calendar_id, date(year, 1, 1), date(year, 12, 31))[0].start
            zh, en = kb.entry_text(entry.id, "zh-Hans")[1], kb.entry_text(entry.id, "en")[1]
            assert calendar.entry(calendar_id).name.get("zh-Hans") in zh, (entry.id, calendar_id)
            if f"{calendar_id.replace('-', '_')}.this_year" in _template(entry.id, "zh-Hans"):
                assert f"{first.month}月{first.day}日" in zh, (entry.id, year)
                assert f"{first.day} " in en, (entry.id, year)
            assert "{{" not in zh and "{{" not in en
    school = calendar.spans("school-safety-day", date(year, 1, 1), date(year, 12, 31))[0].start
    assert f"{year}年{school.month}月{school.day}日" in kb.entry_text("school-safety-day", "zh-Hans")[1]
    assert "11月9日" in kb.answer("119消防日是几月几号").answer


def _template(entry_id: str, lang: str) -> str:
    data = yaml.safe_load((ROOT / "content" / "knowledge" / "safety_days.yaml").read_text("utf-8"))
    return next(e for e in data["entries"] if e["id"] == entry_id)["answer"][lang]


def test_a_changed_calendar_changes_the_answer(tmp_path: Path) -> None:
    """A county that moves a day in its calendar moves the knowledge base's answer with it."""
    text = (ROOT / "content" / "calendar.yaml").read_text("utf-8")
    moved = tmp_path / "calendar.yaml"
    moved.write_text(text.replace("date: '11-09'", "date: '11-10'"), encoding="utf-8")
    calendar = read_calendar(moved)
    answers = {"zh-Hans": "{{ fire_day.name }}是{{ fire_day.when }}", "en": "{{ fire_day.when }}"}
    rendered = safety_days.render(answers, calendar, ["fire-day"], date(2026, 1, 1))
    assert rendered == {"zh-Hans": "全国消防日是每年11月10日", "en": "10 November every year"}
    with pytest.raises(KeyError):
        safety_days.render(answers, calendar, ["no-such-day"], date(2026, 1, 1))


def test_a_safety_day_entry_naming_an_unknown_day_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "topic: t\nentries:\n  - id: a\n    calendar: [no-such-day]\n"
        "    questions: {zh-Hans: [问], en: [q]}\n    answer: {zh-Hans: 答, en: a}\n",
        encoding="utf-8")
    with pytest.raises(Exception, match=r"a\.yaml: a: calendar: .*no-such-day"):
        KnowledgeBase.load(tmp_path)
