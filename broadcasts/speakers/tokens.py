"""Speaker tokens: made once, shown once, kept only as a SHA-256.

Why not argon2, as for dashboard passwords: a password is short and chosen by a person, so its
hash must be slow to make guessing it expensive. A speaker's token is 32 random bytes from
`secrets` (256 bits): nobody can guess it, fast hash or slow, so a slow hash buys nothing —
and every poll (10,000 speakers every 15 s is 667 a second) must check one. A SHA-256 costs a
microsecond; argon2 costs tens of milliseconds and would be most of what a poll costs.

The hash is compared with `hmac.compare_digest`, in constant time, so how long a refusal takes
says nothing about how much of a guess was right. Looking a speaker up *by* the hash of a
presented token (for the clip downloads, which any speaker may make) leaks nothing either: an
attacker cannot steer the SHA-256 of their guesses towards a stored one.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

TOKEN_BYTES = 32
MAX_TOKEN_CHARS = 200  # a longer header is not one of ours; not worth hashing


def new_token() -> str:
    """A fresh token (43 URL-safe characters)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def matches(token_hash: str, presented_hash: str) -> bool:
    """Whether a stored hash and the hash of a presented token are the same, in constant time."""
    return hmac.compare_digest(token_hash.encode("ascii"), presented_hash.encode("ascii"))


def bearer(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value or len(value) > MAX_TOKEN_CHARS:
        return None
    return value
