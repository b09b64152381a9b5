"""How a question is asked, as opposed to what it is about: its phase, its purpose, its place.

Two questions with the same words may want different entries: what to do *during* an
earthquake and what to do *after* it; how to *use* an extinguisher and what *kinds* there are;
how to *recognise* heat stroke and the *first aid* for it. And a question may be about the
place rather than about safety: who maintains our building's hydrants, when the clinic opens,
when the gas company comes to read the meter. The words that say so are mostly the ones a
search drops as filler (时, 后, 前, 几点, 谁), so they are read here, from cue lists in
content/knowledge/_intents.yaml, on the question's folded text (NFKC, lower case, Simplified).

- `tags` are the phases and purposes a question names; an entry declares its own (`phase:`,
  `purpose:`), and the ranking favours an entry that agrees and disfavours one that names
  another value of the same kind (knowledge.search);
- `about_place` says the question asks a local fact — it asks who, when, where, what number,
  how much or whether open, of a local place, service or person — which no curated entry
  knows: the question goes to the grid's workers, whose promoted answers may answer it.

A cue is a word or phrase; `*` stands for a few characters (Chinese) or words (English) in
between, so 什么时候*来 finds 什么时候上门来 and when*coming finds "when is the gas company
coming".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from hub import content

INTENTS_FILE = "_intents.yaml"
Phase = Literal["before", "during", "after"]
Purpose = Literal["use", "kinds", "signs", "first-aid", "consequence"]
PHASES: tuple[str, ...] = get_args(Phase)
PURPOSES: tuple[str, ...] = get_args(Purpose)
# Purposes that exclude each other: asking one is evidence against an entry about the other.
EXCLUSIVE_PURPOSES = frozenset(
    {frozenset({"use", "kinds"}), frozenset({"signs", "first-aid"}), frozenset({"kinds", "signs"})}
)
_ZH_GAP = "[^，。？！,.?!]{0,8}?"
_EN_GAP = r"(?:[^,.?!]{0,40}?)"


class _Cues(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    zh: list[str] = Field(default_factory=list)
    en: list[str] = Field(default_factory=list)
    except_: list[str] = Field(default_factory=list, alias="except")  # words to ignore first


class _PlaceCues(BaseModel):
    model_config = ConfigDict(extra="forbid")

    asks: _Cues = Field(default_factory=_Cues)  # who / when / where / what number / how much
    places: _Cues = Field(default_factory=_Cues)  # a local place, service or person
    always: _Cues = Field(default_factory=_Cues)  # a local fact whatever else is said
    not_place: _Cues = Field(default_factory=_Cues)  # safety questions that look local


class _IntentFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phase: dict[str, _Cues] = Field(default_factory=dict)
    purpose: dict[str, _Cues] = Field(default_factory=dict)
    place: _PlaceCues = Field(default_factory=_PlaceCues)


def _pattern(cues: _Cues) -> re.Pattern[str] | None:
    alternatives = [
        _ZH_GAP.join(map(re.escape, cue.lower().split("*"))) for cue in cues.zh
    ] + [
        r"(?<![a-z])" + _EN_GAP.join(map(re.escape, cue.lower().split("*"))) + r"(?![a-z])"
        for cue in cues.en
    ]
    alternatives = [a for a in alternatives if a]
    return re.compile("|".join(sorted(alternatives, key=len, reverse=True))) if alternatives else None


@dataclass(frozen=True)
class _Kind:
    name: str
    pattern: re.Pattern[str]
    ignored: re.Pattern[str] | None

    def named_in(self, folded: str) -> bool:
        text = self.ignored.sub(" ", folded) if self.ignored else folded
        return bool(self.pattern.search(text))


def _ignored(cues: _Cues) -> re.Pattern[str] | None:
    words = sorted(map(re.escape, cues.except_), key=len, reverse=True)
    return re.compile("|".join(words)) if words else None


class Intents:
    """Cue patterns for phases, purposes and questions about the place; `Intents()` has none."""

    def __init__(self, data: _IntentFile | None = None) -> None:
        data = data or _IntentFile()
        self._tags = [
            _Kind(f"{group}:{name}", pattern, _ignored(found))
            for group, cues in (("phase", data.phase), ("purpose", data.purpose))
            for name, found in cues.items()
            if (pattern := _pattern(found)) is not None
        ]
        self._asks = _pattern(data.place.asks)
        self._places = _pattern(data.place.places)
        self._always = _pattern(data.place.always)
        self._not_place = _pattern(data.place.not_place)

    @classmethod
    def load(cls, directory: Path | None = None) -> Intents:
        """content/knowledge/_intents.yaml (a county's replaces it), or none when absent."""
        path = content.file(f"knowledge/{INTENTS_FILE}", directory)
        if not path.exists():
            return cls()
        doc = content.read(path)
        data = doc.validate(_IntentFile, doc.data or {}, label="-")
        for group, known, cues in (("phase", PHASES, data.phase), ("purpose", PURPOSES, data.purpose)):
            for name in cues:
                if name not in known:
                    raise doc.error(f"{group}.{name}", f"unknown {group} (known: {', '.join(known)})",
                                    group, name)
        return cls(data)

    def tags(self, folded: str) -> frozenset[str]:
        """The phases and purposes a question names ("phase:after", "purpose:use").

        Naming two phases at once (着火时开门前) names none: the question is about both.
        """
        found = {kind.name for kind in self._tags if kind.named_in(folded)}
        phases = {tag for tag in found if tag.startswith("phase:")}
        if len(phases) > 1:
            # A specific phase word beats the loose "during" of 时/的时候 (地震后回家时).
            specific = phases - {"phase:during"}
            found -= phases
            if len(specific) == 1:
                found |= specific
        return frozenset(found)

    def about_place(self, folded: str) -> bool:
        """Whether the question asks a local fact rather than a safety question."""
        if self._not_place is not None and self._not_place.search(folded):
            return False
        if self._always is not None and self._always.search(folded):
            return True
        return bool(
            self._asks is not None
            and self._places is not None
            and self._asks.search(folded)
            and self._places.search(folded)
        )


def fit(asked: Iterable[str], declared: frozenset[str]) -> int:
    """+1 per kind (phase, purpose) where the entry declares what the question asks, -1 where
    it declares only values the question excludes, 0 where either says nothing."""
    asked = set(asked)
    score = 0
    for group in ("phase", "purpose"):
        want = {t for t in asked if t.startswith(group + ":")}
        have = {t for t in declared if t.startswith(group + ":")}
        if not want or not have:
            continue
        if want & have:
            score += 1
        elif group == "phase" or any(
            frozenset({w.split(":")[1], h.split(":")[1]}) in EXCLUSIVE_PURPOSES
            for w in want
            for h in have
        ):
            score -= 1
    return score
