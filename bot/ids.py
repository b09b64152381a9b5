"""Row ids as people type them and as callback data carries them: one parser for all.

`str.isdigit` accepts superscripts ("²") that `int` then refuses, and `int` accepts numbers
that no database column can hold (20 digits overflow SQLite's and PostgreSQL's integers, and
the driver raises), so a command or a forged button took the crash path. Here an id is ASCII
digits within the range of the ids we store; anything else is "not a number" (the command's
usage) or, for a number too large to be an id, "no such row" in the row's own words.
"""

from __future__ import annotations

from hub.errors import NotFound

MAX_ID = 2**31 - 1  # ids are INTEGER columns (PostgreSQL int4): no row has a larger one
_MAX_DIGITS = len(str(MAX_ID))
PREFIXES = "#＃"


def parse_id(text: str | None, *, not_found: str, strip: str = PREFIXES) -> int | None:
    """The id in `text` (after any of the `strip` characters in front), or None when it is
    not a number at all. A number no row can have raises NotFound(`not_found`, id=...)."""
    raw = (text or "").strip().lstrip(strip)
    if not raw or not raw.isascii() or not raw.isdigit():
        return None
    if len(raw) > _MAX_DIGITS or int(raw) > MAX_ID or int(raw) == 0:
        raise NotFound(not_found, id=raw[:24])
    return int(raw)


def callback_id(raw: str, *, not_found: str) -> int:
    """The id a button's callback data carries. Our own buttons always carry a good one, so
    anything else was made up by a client: it is answered as a row that does not exist."""
    found = parse_id(raw, not_found=not_found, strip="")
    if found is None:
        raise NotFound(not_found, id=raw[:24])
    return found
