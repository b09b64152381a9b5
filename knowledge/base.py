"""The safety-knowledge base: curated answers to residents' questions, and finding the right one.

Entries live in content/knowledge/*.yaml, one file per topic (a county's
`GRIDCAST_CONTENT_DIR/knowledge/` adds topics, and its entries replace bundled ones of the same
id: see `hub.content`), written in Simplified Chinese and English; Traditional Chinese is converted on the way out (OpenCC s2tw: Taiwan-standard
characters, which Hong Kong readers read as easily, without s2twp's swap of mainland terms
such as 电动自行车 that the regulations use). Workers' answers promoted from the question
queue join the base at run time through `add_promoted`.

A question is answered in the language it is written in when that is clearly one of ours
(English; Traditional characters), else in the asker's (`KnowledgeBase.answer`). A question
about the place rather than about safety (when the clinic opens, who maintains our hydrants:
knowledge.intents) is never answered from a curated entry, which knows no local facts; only a
worker's promoted answer, which is one, may answer it.

A question gets an answer only when the calibrated score of the best entry clears the
operating point; otherwise the asker is told "I don't know" and the question goes to a
person. A wrong answer about safety costs more than a referral to a grid worker, so the
operating point sits where no more than about one question in ten, in or out of the domain,
is handled wrongly on the dev set.

Searches run off the event loop (`asyncio.to_thread`) while a promotion may add an entry, so
the index is only touched under one lock; the work is pure Python, so the lock costs nothing
the GIL would not.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from opencc import OpenCC
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from hub import content
from hub.errors import ContentError
from knowledge.intents import Intents, Phase, Purpose
from knowledge.search import Hit, SearchIndex
from knowledge.textnorm import Normaliser, Tokeniser, question_language

__all__ = [
    "Answer",
    "ContentError",
    "Entry",
    "KnowledgeBase",
    "Probe",
    "calibrated",
]

LANGUAGES = ("zh-Hans", "zh-Hant", "en")
DEFAULT_LANGUAGE = "zh-Hans"
MAX_QUESTION_CHARS = 1000  # longer is a pasted article, not a question: said "too_long"
SEARCHED_CHARS = 300  # a long question is searched on its first part only: bounded cost

# Platt scaling of a hit's relevance into the probability that it is the right entry,
# fitted with `bench/qa_eval.py --fit` on the tune split of tests/data/qa_dev.yaml (the
# held-out split is reported, never fitted on). Refit after large changes to the base.
CALIBRATION_SLOPE = 29.23
CALIBRATION_OFFSET = -7.80
ANSWER_THRESHOLD = 0.52  # operating point fitted with the calibration (see above)
RELATED_THRESHOLD = 0.25  # offer other entries as "related" above this

SourceLanguage = Literal["zh-Hans", "zh-Hant", "en"]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
EntryId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", max_length=100)]
SYNONYMS_FILE = "_synonyms.yaml"


class Entry(BaseModel):
    """One question residents ask, its phrasings, and the answer to give."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: EntryId
    topic: Text
    questions: dict[SourceLanguage, list[Text]]
    answer: dict[SourceLanguage, Text]
    basis: Text | None = None  # the law, regulation or standard the answer rests on
    keywords: list[Text] = Field(default_factory=list)
    phase: list[Phase] = Field(default_factory=list)  # before / during / after an event
    purpose: list[Purpose] = Field(default_factory=list)  # use, kinds, signs, first-aid...
    categories: list[Text] = Field(default_factory=list)  # hazard categories it speaks to
    local: bool = False  # a fact of the place (a worker's answer): may answer such questions
    calendar: list[Text] = Field(default_factory=list)  # safety-calendar days its answer names

    @property
    def tags(self) -> frozenset[str]:
        return frozenset([*(f"phase:{p}" for p in self.phase), *(f"purpose:{p}" for p in self.purpose)])

    @model_validator(mode="after")
    def _languages_agree(self) -> Entry:
        asked = {lang for lang, variants in self.questions.items() if variants}
        if not asked:
            raise ValueError("no question variants")
        if asked != set(self.answer):
            raise ValueError(f"questions in {sorted(asked)} but answers in {sorted(self.answer)}")
        return self


class _TopicFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    topic: Text | None = None
    entries: list[dict[str, Any]]


class _SynonymFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    zh: dict[Text, list[Text]] = Field(default_factory=dict)
    en: dict[Text, list[Text]] = Field(default_factory=dict)
    en_zh: dict[Text, list[Text]] = Field(default_factory=dict)  # Chinese term: English words


@dataclass(frozen=True)
class Answer:
    answered: bool
    answer: str  # empty when not answered
    entry_id: str | None
    score: float  # 0..1, calibrated: the probability that entry_id is the right entry
    question: str  # the matched question variant, in the asker's language
    related: list[tuple[str, str]] = field(default_factory=list)  # (entry_id, question)
    basis: str | None = None
    # when not answered: "empty" | "too_long" | "no_text" | "unknown" | "place" (a local fact)
    reason: str | None = None
    lang: str = DEFAULT_LANGUAGE  # the language of the answer (and of the related questions)


@dataclass(frozen=True)
class Probe:
    """What the base saw in a question: for calibration and for explaining a miss."""

    normalised: str
    words: list[str]
    hits: list[Hit]
    tags: frozenset[str] = frozenset()
    about_place: bool = False


def calibrated(relevance: float) -> float:
    """The probability that a hit of this relevance is the entry the resident asked about."""
    return 1.0 / (1.0 + math.exp(-(CALIBRATION_SLOPE * relevance + CALIBRATION_OFFSET)))


@lru_cache(maxsize=4)
def _converter(config: str) -> OpenCC:
    return OpenCC(config)


@lru_cache(maxsize=4096)
def _convert(config: str, text: str) -> str:
    return _converter(config).convert(text)


def _in_language(texts: dict[str, Any], lang: str) -> Any:
    """A text (or list of texts) in `lang`, converting between scripts or falling back."""
    if lang in texts:
        return texts[lang]
    convert = {"zh-Hant": ("zh-Hans", "s2tw"), "zh-Hans": ("zh-Hant", "tw2s")}.get(lang)
    if convert and convert[0] in texts:
        source, config = convert
        value = texts[source]
        if isinstance(value, list):
            return [_convert(config, v) for v in value]
        return _convert(config, value)
    for other in ("zh-Hans", "zh-Hant", "en"):
        if other in texts:
            return texts[other]
    raise KeyError(lang)


class KnowledgeBase:
    """Entries by id and the index over them. Build one per process with `load` (about a
    second: the jieba dictionary) and share it; every method is safe from any thread."""

    def __init__(
        self,
        normaliser: Normaliser,
        tokeniser: Tokeniser,
        entries: Iterable[Entry] = (),
        intents: Intents | None = None,
    ) -> None:
        self.entries: dict[str, Entry] = {}
        self.normaliser = normaliser
        self.tokeniser = tokeniser
        self.intents = intents or Intents()
        self._index = SearchIndex(normaliser, tokeniser, self.intents)
        self._variants: dict[str, list[tuple[str, str]]] = {}  # id -> [(lang, text)]
        self._lock = threading.RLock()
        for entry in entries:
            self._index_entry(entry)
        self._index.refresh()

    @classmethod
    def load(cls, directory: Path | None = None, today: date | None = None) -> KnowledgeBase:
        """Read and validate every topic file of content/knowledge and the county's (or of
        `directory` alone); a broken one raises ContentError naming the file and the line.

        Answers naming safety-calendar days are rendered from the calendar for `today`'s
        year (knowledge.safety_days)."""
        synonyms = _load_synonyms(content.file(f"knowledge/{SYNONYMS_FILE}", directory))
        found = [
            item
            for path in content.files("knowledge", directory)
            if not path.name.startswith("_")
            for item in _load_topic_file(path, today or date.today())
        ]
        entries = content.by_id(found)
        if not entries:
            raise ContentError(f"{directory or 'content/knowledge'}: no knowledge entries")
        normaliser = Normaliser(synonyms.zh, synonyms.en, synonyms.en_zh)
        words = normaliser.canonical_words
        for entry in entries.values():
            words.update(normaliser(k) for k in entry.keywords)
        tokeniser = Tokeniser(words, normaliser.en_concepts)
        return cls(normaliser, tokeniser, entries.values(), Intents.load(directory))

    def add_entry(self, entry: Entry) -> None:
        """Add or replace an entry; it is searchable at once."""
        with self._lock:
            self._index_entry(entry)
            self._index.refresh()

    def _index_entry(self, entry: Entry) -> None:
        self.entries[entry.id] = entry
        self._variants[entry.id] = [
            (lang, text) for lang, texts in entry.questions.items() for text in texts
        ]
        self._index.add(
            entry.id,
            [text for _, text in self._variants[entry.id]],
            entry.keywords,
            list(entry.answer.values()),
            simplified="zh-Hant" not in entry.questions and "zh-Hant" not in entry.answer,
            tags=entry.tags,
        )

    def add_promoted(
        self, entry_id: str, topic: str, question: str, answer: str, lang: str
    ) -> Entry:
        """A worker's answer to one resident's question, promoted into the base: a fact of the
        place, so it may answer questions about the place too."""
        source = lang if lang in LANGUAGES else DEFAULT_LANGUAGE
        try:
            entry = Entry(
                id=entry_id, topic=topic, questions={source: [question]}, answer={source: answer},
                local=True,
            )
        except ValidationError as error:
            raise ContentError(f"promoted: {entry_id}: {_first_problem(error)}") from None
        self.add_entry(entry)
        return entry

    def remove_entry(self, entry_id: str) -> None:
        with self._lock:
            self.entries.pop(entry_id, None)
            self._variants.pop(entry_id, None)
            self._index.remove(entry_id)
            self._index.refresh()

    def entry_text(self, entry_id: str, lang: str) -> tuple[str, str]:
        """(question, answer) of an entry in zh-Hans, zh-Hant or en."""
        entry = self.entries[entry_id]
        lang = lang if lang in LANGUAGES else DEFAULT_LANGUAGE
        return _in_language(entry.questions, lang)[0], _in_language(entry.answer, lang)

    def probe(self, question: str, limit: int = 5) -> Probe:
        """The words the base found in a question and its best entries, unjudged."""
        with self._lock:
            query = self._index.analyse(question[:SEARCHED_CHARS])
            hits = self._index.search(query, limit) if query.words else []
        return Probe(
            query.normalised, [w.text for w in query.words], hits, query.tags, query.about_place
        )

    def reply_language(self, question: str, person_lang: str = DEFAULT_LANGUAGE) -> str:
        """The language to answer `question` in: its own when clearly one of ours (English,
        Traditional or Simplified characters), else the person's."""
        fallback = person_lang if person_lang in LANGUAGES else DEFAULT_LANGUAGE
        return question_language(question, fallback, self._knows_english)

    def _knows_english(self, stem: str) -> bool:
        with self._lock:
            return self._index.knows(stem)

    def answer(self, question: str, person_lang: str = DEFAULT_LANGUAGE) -> Answer:
        """A person's question answered in its own language when that is clearly one of ours,
        else in `person_lang` (see `search`)."""
        return self.search(question, self.reply_language(question, person_lang))

    def search(self, question: str, lang: str = DEFAULT_LANGUAGE, limit_related: int = 3) -> Answer:
        """The answer to a resident's question in `lang`, or why there is none.

        Blocking (about a millisecond): call it through `asyncio.to_thread` from async code.
        """
        lang = lang if lang in LANGUAGES else DEFAULT_LANGUAGE
        text = question.strip()
        if not text:
            return _declined("empty", lang)
        if len(text) > MAX_QUESTION_CHARS:
            return _declined("too_long", lang)
        probe = self.probe(text, limit=max(limit_related, 0) + 1)
        if not probe.words:
            return _declined("no_text", lang)
        if not probe.hits:
            return _declined("place" if probe.about_place else "unknown", lang)
        top, others = probe.hits[0], probe.hits[1:]
        score = calibrated(top.relevance)
        entry = self.entries[top.key]
        if probe.about_place and not entry.local:
            # A curated entry would answer a different question: hand it to a person.
            return Answer(False, "", None, score, "", [], None, "place", lang)
        related = [
            (hit.key, self.entry_text(hit.key, lang)[0])
            for hit in others
            if calibrated(hit.relevance) >= RELATED_THRESHOLD
        ][: max(limit_related, 0)]
        if score < ANSWER_THRESHOLD:
            return Answer(False, "", None, score, "", related, None, "unknown", lang)
        return Answer(
            answered=True,
            answer=self.entry_text(top.key, lang)[1],
            entry_id=top.key,
            score=score,
            question=self._matched_question(top, lang),
            related=related,
            basis=entry.basis,
            lang=lang,
        )

    def _matched_question(self, hit: Hit, lang: str) -> str:
        """The variant the question matched if it is in the asker's language, else the first."""
        variants = self._variants[hit.key]
        if hit.variant >= len(variants):  # matched the keywords, not a phrasing
            return self.entry_text(hit.key, lang)[0]
        variant_lang, text = variants[hit.variant]
        if variant_lang == lang:
            return text
        if variant_lang == "zh-Hans" and lang == "zh-Hant":
            return _convert("s2tw", text)
        return self.entry_text(hit.key, lang)[0]


def _declined(reason: str, lang: str = DEFAULT_LANGUAGE) -> Answer:
    return Answer(False, "", None, 0.0, "", [], None, reason, lang)


def _first_problem(error: ValidationError) -> str:
    problem = error.errors()[0]
    where = ".".join(str(part) for part in problem["loc"])
    return f"{where}: {problem['msg']}" if where else problem["msg"]


def _load_synonyms(path: Path) -> _SynonymFile:
    if not path.exists():
        return _SynonymFile()
    doc = content.read(path)
    synonyms = doc.validate(_SynonymFile, doc.data or {}, label="-")
    for language, groups in (("zh", synonyms.zh), ("en", synonyms.en)):
        owner: dict[str, str] = {}
        for canonical, variants in groups.items():
            for word in (canonical, *variants):
                if owner.setdefault(word.lower(), canonical) != canonical:
                    raise doc.error(
                        f"{language}.{canonical}",
                        f"'{word}' is also in {owner[word.lower()]}",
                        language,
                        canonical,
                    )
    return synonyms


def _load_topic_file(path: Path, today: date) -> list[tuple[str, Entry, content.Place]]:
    """(id, entry, where) of one topic file; every curated entry is in both zh-Hans and en.

    A county's own entries (outside the bundled content) are local facts unless they say
    `local: false`: they may answer questions about the place (when the village drill is).
    """
    doc = content.read(path)
    county = not path.resolve().is_relative_to(content.BUNDLED_DIR)
    data = doc.validate(_TopicFile, label="-")
    entries = []
    for position, raw in enumerate(data.entries):
        at = ("entries", position)
        entry_id = str(raw.get("id", f"#{position + 1}"))
        if data.topic and "topic" not in raw:
            raw = {**raw, "topic": data.topic}
        if county and "local" not in raw:
            raw = {**raw, "local": True}
        entry = doc.validate(Entry, raw, at=at, label=entry_id)
        for lang in ("zh-Hans", "en"):
            if lang not in entry.answer:
                raise doc.error(entry_id, f"no {lang} question and answer", *at)
        if entry.calendar:
            entry = _with_calendar_days(doc, entry, at, today)
        entries.append((entry.id, entry, doc.place(*at)))
    return entries


def _with_calendar_days(
    doc: content.Document, entry: Entry, at: tuple[str | int, ...], today: date
) -> Entry:
    """The entry with its answers rendered from the safety calendar (the campaigns' dates)."""
    from hub.calendar import load_calendar  # the calendar is read only when an entry names it
    from knowledge.safety_days import render

    try:
        answers = render(entry.answer, load_calendar(), entry.calendar, today)
    except KeyError as error:
        raise doc.error(entry.id, f"calendar: {error.args[0]}", *at, "calendar") from None
    except ValueError as error:
        raise doc.error(entry.id, str(error), *at, "answer") from None
    return entry.model_copy(update={"answer": answers})
