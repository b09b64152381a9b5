"""The database: one async engine, sessions as units of work, and the column types we share.

SQLite serves a street office from one file; PostgreSQL serves a city. Both go through the
same models, and every difference between them is kept in this module.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import aiosqlite
from sqlalchemy import DateTime, event, text
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.types import TypeDecorator

from hub.files import private_file


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite as on PostgreSQL.

    SQLite has no time zones; without this a naive value would slip through and every
    deadline comparison would be off by eight hours in Shanghai.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use an aware one")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


_Fetched = tuple[Any, int | None, int, list[Any]]  # description, lastrowid, rowcount, rows


def _run(conn: sqlite3.Connection, sql: str, parameters: Any, many: bool) -> _Fetched:
    """A statement and its rows, in the connection's thread."""
    cursor = conn.cursor()
    try:
        if many:
            cursor.executemany(sql, parameters)
        else:
            cursor.execute(sql, () if parameters is None else parameters)
        rows = cursor.fetchall() if cursor.description else []
        return cursor.description, cursor.lastrowid, cursor.rowcount, rows
    finally:
        cursor.close()


class _FetchedCursor:
    """The cursor SQLAlchemy's aiosqlite adapter drives, costing one trip to the thread.

    The adapter opens a cursor, executes, fetches and closes, each a trip to aiosqlite's
    thread and back through the event loop; each trip costs about 50 µs of CPU, which was
    most of what a statement cost. Here execute does all four in one trip and the rest
    answer from what it brought back.
    """

    def __init__(self, connection: _OneTripConnection) -> None:
        self._connection = connection
        self.description: Any = None
        self.lastrowid: int | None = None
        self.rowcount = -1
        self._rows: list[Any] = []

    async def _trip(self, sql: str, parameters: Any, many: bool) -> _FetchedCursor:
        connection = self._connection
        fetched: _Fetched = await connection._execute(_run, connection._conn, sql, parameters, many)
        self.description, self.lastrowid, self.rowcount, self._rows = fetched
        return self

    async def execute(self, sql: str, parameters: Any = None) -> _FetchedCursor:
        return await self._trip(sql, parameters, False)

    async def executemany(self, sql: str, parameters: Sequence[Any]) -> _FetchedCursor:
        return await self._trip(sql, parameters, True)

    async def fetchone(self) -> Any:
        return self._rows.pop(0) if self._rows else None

    async def fetchmany(self, size: int = 1) -> list[Any]:
        rows, self._rows = self._rows[:size], self._rows[size:]
        return rows

    async def fetchall(self) -> list[Any]:
        rows, self._rows = self._rows, []
        return rows

    async def close(self) -> None:
        self._rows = []


class _OneTripConnection(aiosqlite.Connection):
    async def cursor(self) -> _FetchedCursor:  # type: ignore[override]
        return _FetchedCursor(self)


def _sqlite_creator(url: URL) -> Callable[[], aiosqlite.Connection]:
    """Connections as aiosqlite would open them for this URL, with the one-trip cursor."""
    args, kwargs = SQLiteDialect_aiosqlite().create_connect_args(url)

    def connect() -> aiosqlite.Connection:
        connection = _OneTripConnection(partial(sqlite3.connect, *args, **kwargs), 64)
        connection._thread.daemon = True  # as SQLAlchemy's adapter does: never hold up exit
        return connection

    return connect


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """Create the engine; for SQLite, make the database file private (0600, and so its WAL)
    and switch on WAL and foreign keys."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            database = Path(parsed.database)
            database.parent.mkdir(parents=True, exist_ok=True)
            private_file(database)
        kwargs.setdefault("async_creator", _sqlite_creator(parsed))
        # Every connection comes back from a unit of work that committed or rolled back, or from
        # Connection.close(), which rolls back what it began; the pool's own rollback on return
        # would be one more trip to the thread for nothing.
        kwargs.setdefault("pool_reset_on_return", None)
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 10)
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


class Database:
    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """One unit of work: committed when the block ends, rolled back if it raises."""
        async with self.sessions() as session, session.begin():
            yield session

    async def ping(self) -> bool:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True

    async def dispose(self) -> None:
        await self.engine.dispose()
