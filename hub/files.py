"""Files only the hub's own user may read: the data dir and the database.

Residents' photos, voice recordings, the ledger and the dashboard's secret key live under
the data dir, so it is created 0700 and the SQLite database 0600 whatever the umask of the
shell that started the hub. SQLite gives its -wal and -shm files the database file's mode,
so making the database file first, private, covers them too.
"""

from __future__ import annotations

import os
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """Create `path` (and its parents) and make it readable by the hub's user only."""
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, DIR_MODE)  # mkdir's mode is filtered by the umask; chmod is not
    return path


def private_file(path: Path) -> Path:
    """Create `path` empty if it is missing, and make it readable by the hub's user only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return path
