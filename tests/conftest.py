"""Shared fixtures: settings in a temp dir, databases on SQLite and PostgreSQL, the hub.

The PostgreSQL tests are not optional: they run against the server at
GRIDCAST_TEST_POSTGRES (default 127.0.0.1:5432, database `test`), in a database of their
own created for the session and emptied between tests.
"""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import text
from sqlalchemy.engine import make_url
from telegram.ext import Application

from bot import polling
from bot.app import build_application
from bot.delivery import run_sender
from cli.main import main
from hub import migrate
from hub.clock import FakeClock
from hub.core import Hub
from hub.db import Database
from hub.settings import Settings, load_settings
from knowledge.base import KnowledgeBase
from knowledge.questions import KNOWLEDGE
from tests.fakes.bot_api import FakeBotAPI
from web.app import build_web_app

PG_ADMIN_URL = os.environ.get(
    "GRIDCAST_TEST_POSTGRES", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No GRIDCAST_* variable of the developer's shell leaks into a test."""
    for name in list(os.environ):
        if name.startswith("GRIDCAST_"):
            monkeypatch.delenv(name)


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    return load_settings(_env_file=None, data_dir=data_dir, **overrides)


async def _migrated(url: str) -> None:
    db = Database(url)
    try:
        await migrate.upgrade(db)
    finally:
        await db.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "gridcast.db"
    asyncio.run(_migrated(f"sqlite+aiosqlite:///{path}"))
    return path


async def _pg_admin(sql: str) -> None:
    url = make_url(PG_ADMIN_URL)
    conn = await asyncpg.connect(
        host=url.host, port=url.port or 5432, user=url.username, password=url.password,
        database=url.database,
    )
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    name = f"gridcast_test_{uuid.uuid4().hex[:10]}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        asyncio.run(_migrated(url))
        yield url
    finally:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _truncate(url: str) -> None:
    db = Database(url)
    try:
        async with db.engine.begin() as conn:
            names = (
                await conn.execute(
                    text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                         "AND tablename <> 'alembic_version'")
                )
            ).scalars().all()
            if names:
                quoted = ", ".join(f'"{n}"' for n in names)
                await conn.execute(text(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE"))
    finally:
        await db.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """A migrated, empty database: a copy of the SQLite template, or the session's PostgreSQL."""
    if request.param == "sqlite":
        target = tmp_path / "gridcast.db"
        shutil.copy(sqlite_template, target)
        return f"sqlite+aiosqlite:///{target}"
    url: str = request.getfixturevalue("postgres_url")
    asyncio.run(_truncate(url))
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    target = tmp_path / "gridcast.db"
    shutil.copy(sqlite_template, target)
    return f"sqlite+aiosqlite:///{target}"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


async def _open_hub(tmp_path: Path, url: str, clock: FakeClock) -> Hub:
    return await Hub.open(make_settings(tmp_path, database_url=url), clock=clock, upgrade=False)


@pytest.fixture
async def hub(tmp_path: Path, db_url: str, clock: FakeClock) -> AsyncIterator[Hub]:
    """The hub on each database in turn (the storage and service tests)."""
    opened = await _open_hub(tmp_path, db_url, clock)
    yield opened
    await opened.close()


@pytest.fixture
async def sqlite_hub(tmp_path: Path, sqlite_url: str, clock: FakeClock) -> AsyncIterator[Hub]:
    """The hub on SQLite only, for tests whose subject is not storage."""
    opened = await _open_hub(tmp_path, sqlite_url, clock)
    yield opened
    await opened.close()


# --- Telegram, end to end ------------------------------------------------------------------

TOKEN = "123:ABC"


@pytest.fixture
async def telegram() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI() as api:
        yield api


@pytest.fixture
async def bot_hub(
    tmp_path: Path, sqlite_url: str, clock: FakeClock, telegram: FakeBotAPI
) -> AsyncIterator[Hub]:
    settings = make_settings(
        tmp_path, database_url=sqlite_url, telegram_token=TOKEN, telegram_api_url=telegram.base_url
    )
    opened = await Hub.open(settings, clock=clock, upgrade=False)
    yield opened
    await opened.close()


@pytest.fixture(scope="session")
def knowledge_base() -> KnowledgeBase:
    """Loaded once: building the index is the slow part, and tests only read it."""
    return KnowledgeBase.load()


@pytest.fixture
async def bot(
    bot_hub: Hub, telegram: FakeBotAPI, knowledge_base: KnowledgeBase
) -> AsyncIterator[Application]:
    """The real Application polling the fake Bot API over HTTP, with its outbox sender."""
    bot_hub.services.setdefault(KNOWLEDGE, knowledge_base)
    app = build_application(bot_hub)
    stop = asyncio.Event()
    await polling.start(app)
    sender = asyncio.create_task(run_sender(bot_hub, stop))
    yield app
    stop.set()
    await sender
    telegram.release_pollers()
    await polling.stop(app)


@pytest.fixture
async def web_client() -> AsyncIterator[Callable[[Hub], Awaitable[TestClient]]]:
    """The hub's aiohttp app on a loopback port, with a client for it."""
    clients: list[TestClient] = []

    async def start(hub: Hub) -> TestClient:
        client = TestClient(TestServer(build_web_app(hub)))
        await client.start_server()
        clients.append(client)
        return client

    yield start
    for client in clients:
        await client.close()


@pytest.fixture(scope="session")
def shared_audio_cache(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """One clip cache for the whole run, shared by pytest-xdist's workers (their temp dirs sit
    side by side): files are named by content and written by rename, so sharing is safe."""
    root = tmp_path_factory.getbasetemp()
    folder = (root.parent if worker_id != "master" else root) / "audio-cache"
    folder.mkdir(exist_ok=True)
    return folder


@pytest.fixture
def cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db_url: str, shared_audio_cache: Path
) -> Callable[..., int]:
    """`gridcast …` in-process, on each database in turn, in a fresh data dir (the audio cache,
    named by content, is shared by the session: the demo's clips are rendered once)."""
    monkeypatch.setenv("GRIDCAST_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("GRIDCAST_AUDIO_CACHE_DIR", str(shared_audio_cache))
    monkeypatch.setenv("GRIDCAST_DATABASE_URL", db_url)
    monkeypatch.chdir(tmp_path)

    def run(*argv: str, stdin: str | None = None) -> int:
        if stdin is not None:
            monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        return main(list(argv))

    return run
