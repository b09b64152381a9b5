"""Turning a resident's question into search terms, for Chinese and English alike.

Residents type the way they talk: Traditional or Simplified characters, full-width letters,
local words for the same thing (电驴, 电瓶车, 电动车), pinyin-input slips (燃汽 for 燃气) and
English with typos. Everything that makes two phrasings of one question look alike happens
here, once, for the knowledge entries and for the question, so the index only compares terms.

Chinese is segmented into words with jieba: words carry meaning where raw character bigrams
also produce bogus pairs across word boundaries, which are rare and so look important. Each
word also gives its dictionary sub-words (电梯 inside 坐电梯) and, weakly, its characters,
which still match when a resident words a thing differently (割破 against 割伤).
"""

from __future__ import annotations

import logging
import os
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

import jieba
import snowballstemmer
from opencc import OpenCC

# Only pypinyin's per-character table is used here; its phrase table would add a fifth of a
# second to start-up for nothing.
os.environ.setdefault("PYPINYIN_NO_PHRASES", "true")
from pypinyin.pinyin_dict import pinyin_dict

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_HAS_CJK = re.compile(f"[{_CJK}]")
_CJK_CHARS = re.compile(f"[{_CJK}]")
_RUNS = re.compile(f"[{_CJK}]+|[a-z0-9]+")
_LATIN_WORDS = re.compile(r"[a-z]+")
# 著 is Traditional 着 (著火, 躺著) except in words both scripts share.
_ZHE = re.compile(r"著(?![名作称述])")

WORD_WEIGHT = 1.0
SUBWORD_WEIGHT = 0.7  # a dictionary word inside a longer one stands for this share of it
SINGLE_WEIGHT = 0.6  # a one-character word that is not filler weighs less: 烟, 跑, 躲
CHARACTER_WEIGHT = 0.25  # a character of a question word stands for this share of it
DOCUMENT_CHARACTER_WEIGHT = 0.6  # and a character of a document word for this share
CONCEPT_WEIGHT = 0.9  # the Chinese term an English word means stands for this share of it

# Words that say how a question is asked, not what it is about.
_ZH_STOPWORDS = frozenset(
    """请问 请教 问问 问一下 想问 想知道 知道 告诉 告诉我 麻烦 谢谢 一下 怎么办 怎么样 怎么 怎样
    怎么回事 咋办 咋整 咋弄 咋样 咋 如何 什么 什么样 为什么 为啥 啥 哪些 哪里 哪儿 哪 哪个
    是不是 能不能 可不可以 可以 可以吗 应该 应当 需要 要不要 有没有 会不会 是否 行不行 行不 好不好
    对不对 我们 你们 他们 她们 咱们 人家 这个 那个 这些 那些 这样 那样 这么 那么 还是 或者
    如果 的话 时候 一些 有些 一般 大家 是 吗 呢 啊 吧 呀 哦 嘛 啦 哈 呗 喔 哟 嗯 诶 的 了 着 过
    得 地 我 你 您 他 她 它 与 和 跟 同 都 也 又 很 太 给 呐 在 有 要 会 能 不 就 还 被 把 对 让
    从 向 到 去 来 个 等 及 该 没 没有 多少 几 一 这 那 些 里 上 下 中 后 前 时 么 嘞 咯 噢
    哇 唉 呃 之 其 此 并 而 或 及其 以及 还有 已经 比较 非常 特别 真的 一直 一定 可能 现在
    今天 平时 经常 老是 总是 然后 但是 因为 所以 只是 干嘛 干啥 先 一个 一下子 一点 一次
    有点 这种 那种 情况 问题 办法 方法 东西 事情 注意 注意什么 要注意 咋个 啷个 点样
    点解 乜嘢 咩 嘛个 啥子 么子 不要 不了 没事 想 打算 能否 可否 干什么 做什么 做些 要做
    不能 能够 几个 里面 上面 下面 拿到 弄 搞 几号 哪天 哪一天 几月""".split()
    # Words that only say when (之前, 过后): the phase is read from them (knowledge.intents),
    # so they do not also count as rare words of what a question is about.
    + """之前 以前 以后 之后 过后 事先 预先 事前 事后 期间 当中""".split()
)
_EN_STOPWORDS = frozenset(
    """a an the and or but if then so of to in on at by for with from into onto about as is
    are was were be been being am do does did doing have has had having i me my mine we us our
    you your yours he him his she her it its they them their this that these those there here
    what which who whom whose when where why how can could should would will shall may might
    must need needs ought please tell know want wanted just also any some very really much many
    get got getting let lets okay ok hi hello hey thanks thank up out over again s t d ll m re
    ve im ive dont don doesnt doesn isnt isn cant wont won didn whats hows u ur pls plz""".split()
)

_stemmer = snowballstemmer.stemmer("english")


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    return _stemmer.stemWord(word)


class Normaliser:
    """One spelling per meaning: NFKC, lower case, Simplified script, canonical synonyms.

    `zh_synonyms` and `en_synonyms` map a canonical term to the words residents use for it.
    Replacement is a single pass, longest variant first, so a canonical term is never
    rewritten again by another group.

    `en_zh` maps a Chinese term to English words and phrases that stand for it. A phrase
    ("first aid") is glued into one English word here, after the synonyms; `en_concepts` then
    gives, by stem, the Chinese terms an English word also stands for (see Tokeniser).
    """

    def __init__(
        self,
        zh_synonyms: Mapping[str, Iterable[str]] | None = None,
        en_synonyms: Mapping[str, Iterable[str]] | None = None,
        en_zh: Mapping[str, Iterable[str]] | None = None,
    ) -> None:
        self._t2s = OpenCC("t2s")
        self.zh_variants = {
            self._t2s.convert(v): self._t2s.convert(c)
            for c, vs in (zh_synonyms or {}).items()
            for v in vs
        }
        self._zh = self._compile(self.zh_variants, bounded=False)
        self._en = self._compile(
            {v.lower(): c.lower() for c, vs in (en_synonyms or {}).items() for v in vs},
            bounded=True,
        )
        phrases: dict[str, str] = {}
        concepts: dict[str, list[str]] = {}
        for term, expressions in (en_zh or {}).items():
            target = self._t2s.convert(term)
            if self._zh is not None:  # the canonical spelling of the term (落水 -> 溺水)
                target = self._zh[0].sub(lambda m: self._zh[1][m.group(0)], target)  # type: ignore[index]
            for expression in expressions:
                expression = expression.lower().strip()
                glued = _glue(expression)
                if glued != expression:
                    phrases[expression] = glued
                stem = _stem(glued)
                if target not in concepts.setdefault(stem, []):
                    concepts[stem].append(target)
        self._phrases = self._compile(phrases, bounded=True, identity=False)
        self.en_concepts = {stem: tuple(terms) for stem, terms in concepts.items()}

    @staticmethod
    def _compile(
        mapping: dict[str, str], *, bounded: bool, identity: bool = True
    ) -> tuple[re.Pattern[str], dict[str, str]] | None:
        if not mapping:
            return None
        # A canonical term maps to itself, so a shorter variant inside it (九小 in 九小场所)
        # never rewrites it.
        if identity:
            mapping = {**mapping, **{canon: canon for canon in mapping.values()}}
        alternatives = "|".join(sorted(map(re.escape, mapping), key=len, reverse=True))
        pattern = f"(?<![a-z0-9])(?:{alternatives})(?![a-z0-9])" if bounded else alternatives
        return re.compile(pattern), mapping

    @property
    def canonical_words(self) -> set[str]:
        return set(self.zh_variants.values())

    def simplified(self, text: str) -> str:
        return _ZHE.sub("着", self._t2s.convert(text)) if _HAS_CJK.search(text) else text

    def folded(self, text: str, *, simplified: bool = False) -> str:
        """NFKC, lower case and Simplified characters: the question as written, one spelling."""
        text = unicodedata.normalize("NFKC", text).lower()
        return text if simplified else self.simplified(text)

    def __call__(self, text: str, *, simplified: bool = False) -> str:
        """Normalise `text`; `simplified` says it is known to be Simplified already (the
        curated entries), which skips the costliest step at start-up."""
        return self.canonical(self.folded(text, simplified=simplified))

    def canonical(self, text: str) -> str:
        """Folded text with every synonym replaced by its canonical term."""
        for compiled in (self._zh, self._en, self._phrases):
            if compiled is not None:
                pattern, mapping = compiled
                text = pattern.sub(lambda m, mapping=mapping: mapping[m.group(0)], text)
        return text


@dataclass(frozen=True)
class Word:
    """One word of a text: how much it weighs, and the terms that can stand for it.

    `parts` maps a term to the share of the word it stands for: the word itself 1, a
    dictionary word inside it (电梯 in 坐电梯) SUBWORD_WEIGHT, one of its characters
    CHARACTER_WEIGHT, the Chinese term an English word means (extinguisher: 灭火器)
    CONCEPT_WEIGHT. A word is matched through its best part, so spelling a word out in
    pieces never makes it weigh more than the word.
    """

    text: str
    weight: float
    parts: dict[str, float]
    stands_for: tuple[str, ...] = ()  # the Chinese terms an English word means


@dataclass(frozen=True)
class Words:
    """The content words of a text, plus pieces that may be a mistyped word.

    `joins` glues neighbouring pieces where the segmenter fell back to single characters
    (着/伙, 灭火/气): a typo breaks a word apart, and its sound may still name the word.
    """

    words: tuple[Word, ...]
    joins: tuple[str, ...] = ()

    def roles(self) -> dict[str, float]:
        """Every term of the text (as a document) with the strongest share it stands for.

        A document's character counts for more than a question's: a one-character question
        word (挡) found inside a document word (挡住) is a fair match, while a question word
        matched by one of its characters only is a weak one.
        """
        roles: dict[str, float] = {}
        for word in self.words:
            for term, share in word.parts.items():
                if term in word.stands_for:
                    # What an English phrasing means in Chinese is for questions to reach the
                    # Chinese phrasings; a document is indexed on its own words only.
                    continue
                if share == CHARACTER_WEIGHT:
                    share = DOCUMENT_CHARACTER_WEIGHT
                if share > roles.get(term, 0.0):
                    roles[term] = share
        return roles


class Tokeniser:
    """Words, sub-words, characters and English stems of normalised text.

    Holds its own jieba dictionary (the first load costs most of a second, so build one per
    process and reuse it); `domain_words` are added to it so that terms of the trade such as
    液化气瓶 or 九小场所 stay whole.
    """

    def __init__(
        self, domain_words: Iterable[str] = (), en_concepts: Mapping[str, tuple[str, ...]] | None = None
    ) -> None:
        jieba.setLogLevel(logging.WARNING)
        self._jieba = jieba.Tokenizer()
        self._jieba.initialize()
        self._concepts = dict(en_concepts or {})
        for word in domain_words:
            if len(word) > 1 and _HAS_CJK.search(word) and not self._jieba.FREQ.get(word):
                self._jieba.add_word(word)

    def meanings(self, stem: str) -> tuple[str, ...]:
        """The Chinese terms an English stem stands for (none for a Chinese word)."""
        return self._concepts.get(stem, ())

    def is_word(self, text: str) -> bool:
        """Whether the dictionary knows `text`: a known word is not a typo of another."""
        return bool(self._jieba.FREQ.get(text))

    def __call__(self, normalised: str) -> Words:
        words: dict[str, Word] = {}
        joins: list[str] = []
        for run in _RUNS.findall(normalised):
            if run[0] >= "\u3400":
                for word in self._chinese(run, joins):
                    words.setdefault(word.text, word)
            elif run.isdigit():
                words.setdefault(run, Word(run, WORD_WEIGHT, {run: 1.0}))
            elif len(run) > 1 and run not in _EN_STOPWORDS:
                stem = _stem(run)
                terms = self._concepts.get(stem, ())
                parts = {stem: 1.0, **{t: CONCEPT_WEIGHT for t in terms}}
                words.setdefault(stem, Word(stem, WORD_WEIGHT, parts, terms))
        return Words(tuple(words.values()), tuple(joins))

    def _chinese(self, run: str, joins: list[str]) -> list[Word]:
        pieces = self._jieba.lcut(run, HMM=False)
        words = []
        for i, piece in enumerate(pieces):
            before = pieces[i - 1] if i else ""
            if _may_be_slip(before, piece):
                joins.append(before + piece)
            if piece in _ZH_STOPWORDS:
                continue
            if len(piece) == 1:
                words.append(Word(piece, SINGLE_WEIGHT, {piece: 1.0}))
                continue
            parts = {piece: 1.0}
            for size in (2, 3):
                for start in range(len(piece) - size + 1) if len(piece) > size else ():
                    part = piece[start : start + size]
                    if self._jieba.FREQ.get(part):
                        parts.setdefault(part, SUBWORD_WEIGHT)
            for char in piece:
                if char not in _ZH_STOPWORDS:
                    parts.setdefault(char, CHARACTER_WEIGHT)
            words.append(Word(piece, WORD_WEIGHT, parts))
        return words


def _may_be_slip(before: str, piece: str) -> bool:
    """Whether two neighbouring pieces may be one mistyped word (着/伙 for 着火).

    A slip leaves single characters behind. A filler character (被, 了) next to a real word
    is grammar, not a slip; two lone characters may be either, so they are tried.
    """
    if not before or len(before + piece) > 4 or (len(before) > 1 and len(piece) > 1):
        return False
    if len(before) == 1 and len(piece) == 1:
        return True
    single = piece if len(piece) == 1 else before
    return single not in _ZH_STOPWORDS


def is_chinese(term: str) -> bool:
    return term[0] >= "\u3400"


@lru_cache(maxsize=65536)
def _readings(char: str) -> tuple[str, ...]:
    """Toneless pinyin of one character, every reading (heteronyms count: 行 xing/hang)."""
    marked = pinyin_dict.get(ord(char))
    if not marked:
        return (char,)
    readings: dict[str, None] = {}
    for reading in marked.split(","):
        bare = "".join(
            c for c in unicodedata.normalize("NFD", reading) if not unicodedata.combining(c)
        )
        readings[bare] = None
    return tuple(readings)


def sound_keys(term: str) -> list[str]:
    """How a Chinese term sounds, tones dropped: what a pinyin-input slip keeps intact."""
    keys = [""]
    for char in term:
        keys = [f"{k} {r}" if k else r for k in keys for r in _readings(char)][:16]
    return keys


@lru_cache(maxsize=2)
def _script_converter(config: str) -> OpenCC:
    return OpenCC(config)


def question_language(
    text: str, fallback: str, english_words: Callable[[str], bool] | None = None
) -> str:
    """The language a question is written in, when it is clearly one of ours, else `fallback`.

    Chinese wins when its characters outweigh the Latin words (电动车 charge 在楼道 OK吗 is a
    Chinese question); its script is Traditional when more characters are Traditional-only
    than Simplified-only, Simplified in the opposite case, and otherwise (中暑, 地震: both
    scripts) the fallback's script, Simplified for a reader of English. English needs a word
    English is made of: a function word, or one `english_words` knows (the index's stems), so
    "Comment utiliser un extincteur" stays with the fallback.
    """
    folded = unicodedata.normalize("NFKC", text).lower()
    chinese = "".join(_CJK_CHARS.findall(folded))
    latin = _LATIN_WORDS.findall(folded)
    if chinese and len(chinese) >= 2 * len(latin):
        traditional = sum(
            a != b for a, b in zip(chinese, _script_converter("t2s").convert(chinese), strict=False)
        )
        simplified = sum(
            a != b for a, b in zip(chinese, _script_converter("s2t").convert(chinese), strict=False)
        )
        if traditional != simplified:
            return "zh-Hant" if traditional > simplified else "zh-Hans"
        return fallback if fallback in ("zh-Hans", "zh-Hant") else "zh-Hans"
    known = english_words or (lambda stem: False)
    if any(w in _EN_STOPWORDS or (len(w) > 2 and known(_stem(w))) for w in latin):
        return "en"
    return fallback


def _glue(expression: str) -> str:
    """An English phrase as one word ("first aid" -> "firstaid"), so it is stemmed and looked
    up whole."""
    return re.sub(r"[^a-z0-9]+", "", expression)
