"""Electing the one active scheduler among several processes.

On PostgreSQL a session-level advisory lock, held on a connection of its own: when the
leader dies its connection closes, the lock is released, and a standby takes over at its
next try. On SQLite (one machine) an exclusive lock on a file in the data dir does the same.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.db import Database

SCHEDULER_LOCK = 0x67726963  # "gric"


class Leadership:
    def __init__(self, db: Database, data_dir: Path, key: int = SCHEDULER_LOCK) -> None:
        self.db = db
        self.key = key
        self.lock_path = data_dir / "scheduler.lock"
        self._conn: AsyncConnection | None = None
        self._file: IO[str] | None = None

    @property
    def held(self) -> bool:
        return self._conn is not None or self._file is not None

    async def try_acquire(self) -> bool:
        if self.held:
            return True
        if self.db.dialect == "postgresql":
            conn = await self.db.engine.connect()
            got = await conn.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key})
            await conn.commit()
            if got:
                self._conn = conn
            else:
                await conn.close()
            return bool(got)
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.lock_path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._file = handle
        return True

    async def still_held(self) -> bool:
        """False once the lock's connection is gone: then another process may lead."""
        if self._conn is None:
            return self._file is not None
        try:
            await self._conn.execute(text("SELECT 1"))
            await self._conn.commit()
        except Exception:  # a broken connection means the lock is already released
            self._conn = None
            return False
        return True

    async def release(self) -> None:
        if self._conn is not None:
            try:
                await self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
                await self._conn.commit()
            finally:
                await self._conn.close()
                self._conn = None
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None
