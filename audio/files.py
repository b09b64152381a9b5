"""Atomic file writes for the audio cache and the recordings store.

Loudspeakers download clips by name while the hub may be rendering them; a reader must see
either the old file, no file, or the whole new one. So everything is written to a temporary
name in the same directory and renamed into place only once it is complete.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside `target`; on success it replaces `target`.

    If the body raises, or leaves nothing or an empty file behind, the temporary file is
    removed and `target` is untouched: a failed engine or encoder never leaves a broken or
    empty file under the real name.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(
        prefix=f".{target.stem}.", suffix=f".tmp{target.suffix}", dir=target.parent
    )
    os.close(fd)
    temp = Path(name)
    try:
        yield temp
        if temp.stat().st_size == 0:
            raise OSError(f"refusing to publish an empty file as {target.name}")
        os.replace(temp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()


def atomic_write_bytes(target: Path, data: bytes) -> None:
    with atomic_path(target) as temp:
        temp.write_bytes(data)
