"""An in-memory inverted index that finds which document a short question is about.

Documents are knowledge entries: a handful of phrasings of one question (the variants) and
keywords, together the head, and a body (the answer). A question is a list of words, each
weighing its rarity (BM25's idf, counted on the heads, where questions are phrased) and each
matched through its best part: the word itself, a word inside it, or weakly a character. The
question is compared with a document in two ways:

- coverage: how much of the question's weight the document explains (found in its head, or
  more weakly in its body);
- closeness: how well the question matches one single variant (a weighted Dice overlap),
  which punishes a document that shares one word with the question but is about another
  aspect of the topic (the price of an extinguisher is not how to read its gauge).

Every question also carries a fixed prior weight that nothing explains, so a question with
little in it (one common word) cannot look like a confident match.

Only documents sharing a term with the question are touched, so a search costs the length of
a few posting lists, not the size of the base. Words the index has never seen are resolved
first: a Chinese word that no dictionary knows by its sound (a pinyin-input slip), an English
stem by edit distance to the known stems (a typo).

Words alone cannot tell "what to do during an earthquake" from "after" it, or "how to use an
extinguisher" from "what kinds there are": the words that differ are filler to a search. So a
question also carries the phases and purposes it names (knowledge.intents), a document those
its author declared, and a document that agrees gains a share of its relevance while one
that names only another phase or an excluded purpose loses a share.
"""

from __future__ import annotations

import heapq
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from knowledge.intents import Intents, fit
from knowledge.textnorm import (
    CONCEPT_WEIGHT,
    DOCUMENT_CHARACTER_WEIGHT,
    Normaliser,
    Tokeniser,
    Word,
    is_chinese,
    sound_keys,
)

BODY_WEIGHT = 0.6  # a question word found only in the answer counts this much
BODY_DF_SHARE = 0.5  # an answer containing a term makes it this much less rare
SOUND_ALIKE_WEIGHT = 0.85  # a word matched through its sound instead of its spelling
TYPO_WEIGHT = 0.8  # an English stem matched through a fuzzy look-up
UNSEEN_WEIGHT = 1.0  # share of the rarest idf that a never-seen word weighs in the question
UNSEEN_MINOR_SHARE = 0.3  # what an unknown number or single character weighs of that
TYPO_CUTOFF = 80.0  # rapidfuzz ratio an English stem needs to stand for an unseen one
PRIOR_MASS = 8.0  # idf mass added to every question: little evidence cannot score high
SUPPORT_SHARE = 0.3  # how much coverage depends on the words recurring across variants
CLOSENESS_SHARE = 0.5  # relevance = (1 - share) * coverage + share * closeness
CANDIDATES = 12  # documents returned by default
POOL = 16  # documents scored exactly after gathering candidates
FIT_BONUS = 0.15  # share of relevance gained per kind (phase, purpose) a document agrees on
FIT_PENALTY = 0.2  # and lost per kind where it names only another value


@dataclass(frozen=True)
class QueryWord:
    """One word of a question and the index terms that may stand for it."""

    text: str
    weight: float
    parts: tuple[tuple[str, float], ...]  # (index term, share of the word it stands for)
    alike: tuple[str, ...] = ()  # index words it was taken for: a slip or a typo of them
    meant: tuple[str, ...] = ()  # index terms an English word means (its Chinese terms)

    @property
    def known(self) -> bool:
        return bool(self.parts)


@dataclass(frozen=True)
class Query:
    normalised: str
    words: tuple[QueryWord, ...]
    masses: tuple[float, ...]  # how much each word weighs
    total: float  # the masses and the prior weight nothing explains
    tags: frozenset[str] = frozenset()  # phases and purposes the question names
    about_place: bool = False  # the question asks a local fact (knowledge.intents)


@dataclass(frozen=True)
class Hit:
    key: str
    coverage: float
    closeness: float
    variant: int  # the closest variant of the document (one past them: its keywords)
    fit: int = 0  # kinds the document agrees on with the question, less those it contradicts

    @property
    def relevance(self) -> float:
        base = (1 - CLOSENESS_SHARE) * self.coverage + CLOSENESS_SHARE * self.closeness
        if self.fit > 0:
            return base * (1 + FIT_BONUS) ** self.fit
        if self.fit < 0:
            return base * (1 - FIT_PENALTY) ** -self.fit
        return base


@dataclass(frozen=True)
class _Variant:
    roles: dict[str, float]  # term -> the share it stands for in this variant
    words: tuple[tuple[str, float], ...]  # (word, weight): what the variant weighs


@dataclass(frozen=True)
class _Document:
    head: dict[str, float]  # term -> strongest share in the variants and keywords
    body: dict[str, float]  # term -> strongest share in the body, for terms not in head
    variants: tuple[_Variant, ...]
    tags: frozenset[str] = frozenset()  # phases and purposes the document declares


class SearchIndex:
    """Documents by key; `add` replaces a document of the same key in place."""

    def __init__(
        self, normaliser: Normaliser, tokeniser: Tokeniser, intents: Intents | None = None
    ) -> None:
        self.normalise = normaliser
        self.tokenise = tokeniser
        self.intents = intents or Intents()
        self._docs: dict[str, _Document] = {}
        # term -> key -> share held in the head (> 0) or, negated, in the body only
        self._postings: dict[str, dict[str, float]] = defaultdict(dict)
        self._idf: dict[str, float] = {}
        self._reach: dict[str, dict[str, float]] = {}
        self._max_idf = 1.0
        self._variant_mass: dict[str, tuple[float, ...]] = {}
        self._sounds: dict[str, set[str]] = defaultdict(set)
        self._spellings: dict[str, set[str]] = defaultdict(set)
        self._latin: dict[str, list[str]] = {}  # English stems of the index by first letter
        self._stale = False

    def __len__(self) -> int:
        return len(self._docs)

    def add(
        self,
        key: str,
        variants: Sequence[str],
        keywords: Sequence[str] = (),
        body: Sequence[str] = (),
        *,
        simplified: bool = False,
        tags: frozenset[str] = frozenset(),
    ) -> None:
        """Index a document; `simplified` says its Chinese is Simplified already, `tags` are
        the phases and purposes it is about ("phase:after")."""
        self._forget(key)
        phrasings = [self._variant(v, simplified) for v in variants]
        if keywords:
            # The keywords together are one more phrasing: the gist a terse question gives.
            phrasings.append(self._variant(" ".join(keywords), simplified))
        head: dict[str, float] = {}
        for variant in phrasings:
            for term, share in variant.roles.items():
                head[term] = max(share, head.get(term, 0.0))
        body_roles: dict[str, float] = {}
        for text in body:
            normalised = self.normalise(text, simplified=simplified)
            for term, share in self.tokenise(normalised).roles().items():
                if term not in head:
                    body_roles[term] = max(share, body_roles.get(term, 0.0))
        self._docs[key] = _Document(head, body_roles, tuple(phrasings), tags)
        for term, share in head.items():
            self._postings[term][key] = share
        for term, share in body_roles.items():
            self._postings[term][key] = -share
        self._stale = True

    def _variant(self, text: str, simplified: bool) -> _Variant:
        found = self.tokenise(self.normalise(text, simplified=simplified))
        return _Variant(found.roles(), tuple((w.text, w.weight) for w in found.words))

    def remove(self, key: str) -> None:
        if self._forget(key):
            self._stale = True

    def _forget(self, key: str) -> bool:
        doc = self._docs.pop(key, None)
        if doc is None:
            return False
        for term in (*doc.head, *doc.body):
            posting = self._postings[term]
            posting.pop(key, None)
            if not posting:
                del self._postings[term]
        return True

    def refresh(self) -> None:
        """Recompute idf and the look-ups for unseen words after changes (search does it too).

        Deferred rather than done per `add`, so loading a whole base costs one pass.
        """
        if not self._stale:
            return
        self._stale = False
        n = len(self._docs)
        self._idf = {}
        for term, posting in self._postings.items():
            in_head = sum(1 for share in posting.values() if share > 0)
            df = in_head + BODY_DF_SHARE * (len(posting) - in_head)
            self._idf[term] = math.log(1 + (n - df + 0.5) / (df + 0.5))
        self._max_idf = max(self._idf.values(), default=1.0)
        # How far each document reaches for a term, head or body alike: to gather candidates.
        self._reach = {
            term: {key: abs(held) for key, held in posting.items()}
            for term, posting in self._postings.items()
        }
        self._variant_mass = {
            key: tuple(
                sum(weight * self._idf[word] for word, weight in variant.words)
                for variant in doc.variants
            )
            for key, doc in self._docs.items()
        }
        self._sounds = defaultdict(set)
        latin = []
        for term in self._idf:
            if is_chinese(term):
                if len(term) > 1:
                    for key in sound_keys(term):
                        self._sounds[key].add(term)
            elif not term.isdigit():
                latin.append(term)
        # A slip may sound like a word residents use rather than the canonical one (没气 is
        # 煤气, which the index only knows as 燃气).
        self._spellings = defaultdict(set)
        for variant, canonical in self.normalise.zh_variants.items():
            if canonical in self._idf:
                self._spellings[canonical].add(variant)
                for key in sound_keys(variant):
                    self._sounds[key].add(canonical)
        self._latin = {}
        for term in latin:
            self._latin.setdefault(term[0], []).append(term)

    def knows(self, term: str) -> bool:
        """Whether any document has this term (an English stem, a Chinese word)."""
        self.refresh()
        return term in self._idf

    def analyse(self, text: str) -> Query:
        self.refresh()
        folded = self.normalise.folded(text)
        normalised = self.normalise.canonical(folded)
        found = self.tokenise(normalised)
        words = {w.text: self._resolve(w) for w in found.words}
        for join in found.joins:
            if join in self._idf or join in words or self.tokenise.is_word(join):
                continue
            alike = tuple(m for m in self._sound_alike(join) if _one_slip(join, m, self))
            if alike:
                for piece in (join[:1], join[-1:]):  # the stray characters of the slip
                    words.pop(piece, None)
                words[join] = QueryWord(
                    join, 1.0, tuple((m, SOUND_ALIKE_WEIGHT) for m in alike), alike
                )
        resolved = tuple(words.values())
        masses = tuple(self._mass(w) for w in resolved)
        return Query(
            normalised, resolved, masses, sum(masses) + PRIOR_MASS,
            self.intents.tags(folded), self.intents.about_place(folded),
        )

    def _sound_alike(self, term: str) -> tuple[str, ...]:
        return tuple(sorted({m for key in sound_keys(term) for m in self._sounds.get(key, ())}))

    def spellings(self, term: str) -> set[str]:
        """The ways residents write an index term: itself and the synonyms that map to it."""
        return {term} | self._spellings.get(term, set())

    def _resolve(self, word: Word) -> QueryWord:
        parts = tuple((t, share) for t, share in word.parts.items() if t in self._idf)
        meant = tuple(t for t in word.stands_for if t in self._idf)
        if word.text in self._idf or meant:
            return QueryWord(word.text, word.weight, parts, meant=meant)
        alike: tuple[str, ...] = ()
        share = SOUND_ALIKE_WEIGHT
        if is_chinese(word.text):
            if len(word.text) > 1 and not self.tokenise.is_word(word.text):
                alike = self._sound_alike(word.text)
        elif len(word.text) >= 4 and not word.text.isdigit():
            # A typo rarely changes the first letter (opperate is operate, not copper).
            found = process.extractOne(
                word.text, self._latin.get(word.text[0], ()), scorer=fuzz.ratio,
                score_cutoff=TYPO_CUTOFF,
            )
            if found is not None:
                alike, share = (found[0],), TYPO_WEIGHT
                meant = tuple(t for t in self.tokenise.meanings(found[0]) if t in self._idf)
                parts += tuple((t, TYPO_WEIGHT * CONCEPT_WEIGHT) for t in meant)
        return QueryWord(word.text, word.weight, parts + tuple((m, share) for m in alike), alike)

    def _mass(self, word: QueryWord) -> float:
        """How much a question word weighs: its idf, or that of the words it was taken for,
        or a share of the rarest idf when nothing stands for it (an unknown word is evidence
        that the question is about something else)."""
        if word.text in self._idf:
            return word.weight * self._idf[word.text]
        if word.meant:  # an English word no English phrasing uses, but its Chinese term
            return word.weight * max(self._idf[t] for t in word.meant)
        if word.alike:
            return word.weight * max(self._idf[m] for m in word.alike)
        unseen = word.weight * UNSEEN_WEIGHT * self._max_idf
        # An unknown number (28 in 住28楼) or lone character says little about the topic.
        return unseen * UNSEEN_MINOR_SHARE if word.text.isdigit() or len(word.text) == 1 else unseen

    def search(self, query: Query, limit: int = CANDIDATES) -> list[Hit]:
        """The best documents for the question, most relevant first (at most `limit`).

        Candidates are gathered through the words and sub-words of the question (characters
        only for a word nothing else stands for: their posting lists are long), then each
        candidate is scored exactly. `query` must come from `analyse` on this index with no
        change in between.
        """
        if not any(query.masses):
            return []
        gathered: dict[str, float] = defaultdict(float)
        for word, mass in zip(query.words, query.masses, strict=True):
            strong = [(t, share) for t, share in word.parts if share > DOCUMENT_CHARACTER_WEIGHT]
            parts = strong or list(word.parts)
            if len(parts) == 1:  # the common case, kept tight: one posting list to add up
                term, share = parts[0]
                for key, held in self._reach[term].items():
                    gathered[key] += mass * (share if share < held else held)
                continue
            best: dict[str, float] = {}
            for term, share in parts:
                for key, held in self._reach[term].items():
                    found = share if share < held else held
                    if found > best.get(key, 0.0):
                        best[key] = found
            for key, found in best.items():
                gathered[key] += mass * found
        if not gathered:
            return []
        parts = _PartMap(query)
        pool = heapq.nlargest(max(POOL, limit), gathered.items(), key=lambda kv: kv[1])
        hits = [self._score(query, parts, key) for key, _ in pool]
        hits.sort(key=lambda h: h.relevance, reverse=True)
        return hits[:limit]

    def _score(self, query: Query, parts: _PartMap, key: str) -> Hit:
        """Coverage and closeness of one document.

        Closeness is the best weighted Dice overlap with one variant. Coverage is scaled by
        how widely the question's words recur across the variants: a word every phrasing of
        an entry uses is its topic (暴雨 for rainstorm warnings); a word found in one phrasing
        only is a detail (上班), weaker evidence.
        """
        doc = self._docs[key]
        head = parts.explained(doc.head)
        for index, share in parts.explained(doc.body).items():
            if share * BODY_WEIGHT > head.get(index, 0.0):
                head[index] = share * BODY_WEIGHT
        covered = parts.weigh(head)
        best, best_index = 0.0, 0
        recurring = most = 0.0
        masses = self._variant_mass[key]
        total = query.total
        for index, variant in enumerate(doc.variants):
            shared = parts.weigh(parts.explained(variant.roles))
            if shared:
                recurring += shared
                most = max(most, shared)
                dice = 2 * shared / (total + masses[index])
                if dice > best:
                    best, best_index = dice, index
        support = recurring / len(doc.variants) / most if most else 0.0
        coverage = covered / total * (1 - SUPPORT_SHARE + SUPPORT_SHARE * support)
        agreement = fit(query.tags, doc.tags) if query.tags and doc.tags else 0
        return Hit(key, coverage, best, best_index, agreement)


class _PartMap:
    """The parts of a question's words by term, to meet a document's terms in one step."""

    def __init__(self, query: Query) -> None:
        self.masses = query.masses
        self.by_term: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for index, word in enumerate(query.words):
            for term, share in word.parts:
                self.by_term[term].append((index, share))
        self.terms = self.by_term.keys()

    def explained(self, roles: dict[str, float]) -> dict[int, float]:
        """For the question words `roles` explains, the share of each it explains.

        A part counts for the smaller of its shares in question and document: a question's
        lone character found only inside a longer word is weak.
        """
        found: dict[int, float] = {}
        for term in roles.keys() & self.terms:
            held = roles[term]
            for index, share in self.by_term[term]:
                value = share if share < held else held
                if value > found.get(index, 0.0):
                    found[index] = value
        return found

    def weigh(self, found: dict[int, float]) -> float:
        masses = self.masses
        return sum(masses[index] * share for index, share in found.items())


def _one_slip(typed: str, term: str, index: SearchIndex) -> bool:
    """Whether `typed` reads as `term` (or one of its spellings) with one character slipped.

    Pieces glued together by the tokeniser sound like many words by chance (的针, 上煲); a
    real slip keeps all but one character of the word the resident meant.
    """
    return any(
        len(spelling) == len(typed)
        and sum(a != b for a, b in zip(spelling, typed, strict=True)) == 1
        for spelling in index.spellings(term)
    )
