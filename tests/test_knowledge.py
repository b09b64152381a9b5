"""The safety-knowledge base: content rules, retrieval quality, bad input, live updates."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from opencc import OpenCC
from rapidfuzz import fuzz, process

from bench.qa_eval import load_dev_set, run, score
from knowledge.base import ContentError, Entry, KnowledgeBase, calibrated

REQUIRED_TOPICS = {
    "home-fire", "high-rise", "extinguishers", "fire-doors-exits", "e-bikes", "electricity",
    "gas", "lightning", "rain-flood", "typhoon", "earthquake", "drowning", "heat", "wildfire",
    "fireworks", "chemicals", "small-premises", "self-built-houses", "work-at-height",
    "first-aid", "emergency-numbers", "children-elderly", "winter-heating",
}  # fmt: skip


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return KnowledgeBase.load()


def entry(entry_id: str, zh: str, en: str, answer: str = "答案。") -> Entry:
    return Entry(
        id=entry_id,
        topic="test",
        questions={"zh-Hans": [zh], "en": [en]},
        answer={"zh-Hans": answer, "en": "Answer."},
    )


# -- content -------------------------------------------------------------------------------


def test_base_has_every_topic_in_both_languages(kb: KnowledgeBase) -> None:
    assert len(kb.entries) >= 200
    assert {e.topic for e in kb.entries.values()} >= REQUIRED_TOPICS
    for e in kb.entries.values():
        assert len(e.questions["zh-Hans"]) >= 3, e.id
        assert len(e.questions["en"]) >= 2, e.id
        assert e.answer["zh-Hans"] and e.answer["en"], e.id


def test_regulations_cited_are_the_ones_the_brief_names(kb: KnowledgeBase) -> None:
    corridor = kb.entries["ebike-corridor-parking"]
    assert "应急管理部令第5号" in (corridor.basis or "")
    assert "第三十七条" in (corridor.basis or "")
    assert "GB 17761-2024" in (kb.entries["ebike-new-standard"].basis or "")
    numbers = kb.entries["emergency-numbers-overview"].answer["zh-Hans"]
    for number in ("119", "110", "120", "122"):
        assert number in numbers


def test_dev_set_is_big_enough_and_not_copied_from_the_base(kb: KnowledgeBase) -> None:
    dev = load_dev_set()
    cases = [c for split in dev.values() for c in split]
    assert sum(1 for c in cases if c.expect) >= 150
    assert sum(1 for c in cases if not c.expect) >= 20
    assert any(c.expect for c in dev["heldout"]) and any(not c.expect for c in dev["heldout"])
    variants = [
        kb.normaliser(v) for e in kb.entries.values() for vs in e.questions.values() for v in vs
    ]
    for case in cases:
        assert case.expect is None or case.expect in kb.entries, case.expect
        closest, similarity, _ = process.extractOne(
            kb.normaliser(case.question), variants, scorer=fuzz.ratio
        )
        assert similarity < 90, (case.question, closest)


# -- retrieval quality ---------------------------------------------------------------------


@pytest.mark.parametrize("split", ["tune", "heldout"])
def test_dev_set_accuracy_and_out_of_domain_rejection(kb: KnowledgeBase, split: str) -> None:
    result = score(run(kb, load_dev_set()[split]))
    assert result.top1 >= 0.90
    assert result.ood_rejected >= 0.90


def test_simplified_traditional_and_synonyms_find_the_same_entry(kb: KnowledgeBase) -> None:
    for question in (
        "电动车可以在楼道里充电吗",
        "電動車可以在樓道裡充電嗎",
        "电瓶车能停楼梯间充电不",
        "小电驴放走廊充电行吗",
    ):
        assert kb.search(question).entry_id == "ebike-corridor-parking", question
    for question in ("煤气漏了怎么办", "天然气泄露了咋办", "瓦斯外洩怎麼辦"):
        assert kb.search(question).entry_id == "gas-leak-what-to-do", question


def test_typos_and_homophones(kb: KnowledgeBase) -> None:
    assert kb.search("燃汽泄露了怎么办").entry_id == "gas-leak-what-to-do"
    assert kb.search("灭火气怎么使用").entry_id == "extinguisher-how-to-use"
    assert kb.search("how to use a fire extinguiser").entry_id == "extinguisher-how-to-use"


def test_answers_in_the_askers_language(kb: KnowledgeBase) -> None:
    hans = kb.search("油锅着火了怎么办", "zh-Hans")
    hant = kb.search("油锅着火了怎么办", "zh-Hant")
    english = kb.search("油锅着火了怎么办", "en")
    assert hans.entry_id == hant.entry_id == english.entry_id == "kitchen-oil-fire"
    assert hant.answer == OpenCC("s2tw").convert(hans.answer) != hans.answer
    assert "鍋" in hant.question and "锅" not in hant.question
    assert english.answer.startswith("Never pour water")
    assert english.question in kb.entries["kitchen-oil-fire"].questions["en"]
    for entry_id, question in english.related:
        assert entry_id != "kitchen-oil-fire"
        assert question in kb.entries[entry_id].questions["en"]


def test_out_of_domain_questions_are_declined(kb: KnowledgeBase) -> None:
    for question in ("how do I reset my password", "红烧肉怎么做", "今天股票涨了吗", "你好"):
        answer = kb.search(question)
        assert not answer.answered, question
        assert answer.answer == "" and answer.entry_id is None and answer.basis is None
        assert answer.reason in {"unknown", "no_text"}
        assert 0.0 <= answer.score < 0.5


def test_answered_questions_carry_score_variant_and_basis(kb: KnowledgeBase) -> None:
    answer = kb.search("邻居把电动车停在走廊里充电怎么办")
    assert answer.answered and answer.reason is None
    assert answer.entry_id == "ebike-corridor-parking"
    assert 0.5 < answer.score <= 1.0
    assert answer.question in kb.entries["ebike-corridor-parking"].questions["zh-Hans"]
    assert answer.basis == kb.entries["ebike-corridor-parking"].basis
    assert calibrated(0.1) < calibrated(0.3) < calibrated(0.5)


# -- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "reason"),
    [
        ("", "empty"),
        ("   \n\t ", "empty"),
        ("😀🔥🧯", "no_text"),
        ("？？？！！！...", "no_text"),
        ("怎么办啊？", "no_text"),
        ("\x00\x01", "no_text"),
        ("火" * 5000, "too_long"),
    ],
)
def test_bad_input_gets_a_reason(kb: KnowledgeBase, question: str, reason: str) -> None:
    started = time.perf_counter()
    answer = kb.search(question)
    assert time.perf_counter() - started < 0.2
    assert not answer.answered
    assert answer.reason == reason
    assert answer.answer == "" and answer.related == []


def test_mixed_scripts_and_long_questions_are_searched(kb: KnowledgeBase) -> None:
    assert kb.search("电动车 charge 在楼道 OK吗").entry_id == "ebike-corridor-parking"
    rambling = "我们小区的情况是这样的，" + "邻居把电动车停在楼道里充电，" * 40
    answer = kb.search(rambling)
    assert answer.reason is None and answer.entry_id == "ebike-corridor-parking"
    assert kb.search("lift", "fr").answer == kb.search("lift", "zh-Hans").answer


def test_searches_stay_fast(kb: KnowledgeBase) -> None:
    questions = [c.question for split in load_dev_set().values() for c in split]
    started = time.perf_counter()
    for question in questions:
        kb.search(question)
    assert (time.perf_counter() - started) / len(questions) < 0.01


# -- changing the base ---------------------------------------------------------------------


def test_entries_added_and_promoted_are_found_at_once(kb: KnowledgeBase) -> None:
    base = KnowledgeBase(kb.normaliser, kb.tokeniser, kb.entries.values())
    question = "村里的晒谷场能不能停拖拉机"
    assert not base.search(question).answered
    base.add_entry(entry("threshing-floor", "晒谷场能停拖拉机吗", "Can tractors park there?"))
    assert base.search(question).entry_id == "threshing-floor"
    base.add_entry(entry("threshing-floor", "晒谷场能停拖拉机吗", "Tractors?", "新的答案。"))
    assert base.search(question).answer == "新的答案。"
    base.remove_entry("threshing-floor")
    assert not base.search(question).answered

    promoted = base.add_promoted(
        "promoted-7", "community", "祠堂裡可以放鞭炮嗎", "不可以。", "zh-Hant"
    )
    assert promoted.questions == {"zh-Hant": ["祠堂裡可以放鞭炮嗎"]}
    found = base.search("祠堂里能放鞭炮吗", "zh-Hans")
    assert found.entry_id == "promoted-7" and found.answer == "不可以。"
    assert base.entry_text("promoted-7", "zh-Hans") == ("祠堂里可以放鞭炮吗", "不可以。")
    assert base.entry_text("promoted-7", "en") == ("祠堂裡可以放鞭炮嗎", "不可以。")
    assert "promoted-7" not in kb.entries
    with pytest.raises(ContentError, match="promoted: bad id!"):
        base.add_promoted("bad id!", "community", "问题", "答案", "zh-Hans")


# -- broken content ------------------------------------------------------------------------

GOOD_ENTRY = """
  - id: good-entry
    questions:
      zh-Hans: [灭火器怎么用]
      en: [How do I use an extinguisher?]
    answer:
      zh-Hans: 提、拔、握、压。
      en: Pull, aim, squeeze, sweep.
"""


def write(directory: Path, name: str, text: str) -> None:
    (directory / name).write_text(text, encoding="utf-8")


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"a.yaml": "topic: t\nentries: [\n"}, r"a\.yaml: -: cannot read"),
        ({"a.yaml": "- just a list\n"}, r"a\.yaml: -: .*dictionary"),
        (
            {"a.yaml": "topic: t\nentries:\n  - id: no-english\n    questions: {zh-Hans: [问]}\n"
             "    answer: {zh-Hans: 答}\n"},
            r"a\.yaml: no-english: no en question and answer",
        ),
        (
            {"a.yaml": "topic: t\nentries:\n  - id: Bad_Id\n    questions: {en: [q]}\n"
             "    answer: {en: a}\n"},
            r"a\.yaml: Bad_Id: id: String should match pattern",
        ),
        (
            {"a.yaml": "topic: t\nentries:\n  - id: half\n    questions: {en: [q], zh-Hans: [问]}\n"
             "    answer: {en: a}\n"},
            r"a\.yaml: half: .*questions in .* but answers in",
        ),
        (
            {"a.yaml": "topic: t\nentries:" + GOOD_ENTRY, "b.yaml": "topic: t\nentries:" + GOOD_ENTRY},
            r"b\.yaml: good-entry: duplicate id \(also in a\.yaml\)",
        ),
        (
            {"a.yaml": "topic: t\nentries:" + GOOD_ENTRY, "_synonyms.yaml": "zh: {甲: [乙], 丙: [乙]}\n"},
            r"_synonyms\.yaml: zh\.丙: '乙' is also in 甲",
        ),
        ({"_synonyms.yaml": "zh: {}\n"}, r"no knowledge entries"),
    ],
)  # fmt: skip
def test_broken_content_names_file_and_entry(
    tmp_path: Path, files: dict[str, str], message: str
) -> None:
    for name, text in files.items():
        write(tmp_path, name, text)
    with pytest.raises(ContentError, match=message):
        KnowledgeBase.load(tmp_path)


def test_no_two_entries_share_a_phrasing(kb: KnowledgeBase) -> None:
    """Two variants reducing to the same words would make their entries a coin toss."""
    owners: dict[frozenset[str], str] = {}
    for e in kb.entries.values():
        for variants in e.questions.values():
            normalised = [kb.normaliser(v) for v in variants]
            assert len(set(normalised)) == len(normalised), e.id
            for variant in variants:
                words = kb.tokeniser(kb.normaliser(variant)).words
                key = frozenset(w.text for w in words)
                assert owners.setdefault(key, e.id) == e.id, (variant, owners[key])


def test_a_small_directory_loads_with_its_synonyms(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "topic: extinguishers\nentries:" + GOOD_ENTRY)
    write(tmp_path, "_synonyms.yaml", "zh: {灭火器: [灭火筒]}\n")
    small = KnowledgeBase.load(tmp_path)
    assert list(small.entries) == ["good-entry"]
    assert small.entries["good-entry"].topic == "extinguishers"
    # One entry makes every word equally rare, so only the ranking is meaningful here.
    assert small.probe("灭火筒咋用").hits[0].key == "good-entry"
