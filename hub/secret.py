"""The hub's secret key, and short signatures made with keys derived from it.

`GRIDCAST_SECRET_KEY` when set; otherwise a random key generated once into the data dir
(`secret_key`, 0600), so every process of one hub signs and checks alike and a restart keeps
what was signed valid. Each use derives its own key from it (`purpose`), so a signature made
for one thing (a deep link) is never accepted as another (a session).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from hub.files import FILE_MODE, private_dir
from hub.settings import Settings

KEY_FILE = "secret_key"
SIGNATURE_BYTES = 12  # 96 bits: 16 characters of base64url, short enough for a t.me start link

_loaded: dict[Path, bytes] = {}


def _read_or_create(path: Path) -> bytes:
    """The key in `path`, written there first if missing. Two processes starting at once agree:
    the key is written to a file of its own and linked into place, and only one link wins."""
    if not path.exists():
        private_dir(path.parent)
        tmp = path.with_name(f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32) + "\n")
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process got there first: use theirs
        finally:
            tmp.unlink(missing_ok=True)
    key = path.read_text().strip()
    if len(key) < 32:
        raise RuntimeError(f"{path}: the secret key is too short; delete the file to make a new one")
    return key.encode()


def secret_key(settings: Settings) -> bytes:
    """The hub's secret: GRIDCAST_SECRET_KEY, else the data dir's own (made on first use)."""
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value().encode()
    path = settings.data_dir.resolve() / KEY_FILE
    key = _loaded.get(path)
    if key is None:
        key = _loaded[path] = _read_or_create(path)
    return key


def derived(settings: Settings, purpose: str) -> bytes:
    return hmac.new(secret_key(settings), f"gridcast:{purpose}".encode(), hashlib.sha256).digest()


def sign(settings: Settings, purpose: str, message: str) -> str:
    """A short URL-safe signature of `message` for `purpose`."""
    mac = hmac.new(derived(settings, purpose), message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:SIGNATURE_BYTES]).decode().rstrip("=")


def verify(settings: Settings, purpose: str, message: str, signature: str) -> bool:
    """Whether `signature` is `sign(settings, purpose, message)`, compared in constant time."""
    return hmac.compare_digest(sign(settings, purpose, message).encode(), signature.encode())
