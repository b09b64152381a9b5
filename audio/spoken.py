"""Text as it should be spoken rather than as it is written.

Emergency numbers are said digit by digit ("幺幺九", not "一百一十九"); a speech engine
reading "119" as a quantity would tell residents the wrong thing to dial.
"""

from __future__ import annotations

import re

HOTLINES = ("110", "119", "120", "122", "12345", "12350")
_MANDARIN_DIGITS = "零幺二三四五六七八九"
_CANTONESE_DIGITS = "零一二三四五六七八九"
_HOTLINE_RE = re.compile(
    r"(?<![0-9])(" + "|".join(sorted(HOTLINES, key=len, reverse=True)) + r")(?![0-9])"
)
_SPACE_RE = re.compile(r"\s+")


def spoken_text(text: str, lang: str) -> str:
    """The text handed to a speech engine for `lang` ("zh", "zh-TW", "yue", "en")."""
    text = _SPACE_RE.sub(" ", text).strip()
    if lang in ("zh", "zh-TW"):
        digits = _MANDARIN_DIGITS
    elif lang == "yue":
        digits = _CANTONESE_DIGITS
    else:
        return text
    return _HOTLINE_RE.sub(lambda m: "".join(digits[int(d)] for d in m.group(1)), text)
