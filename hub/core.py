"""The hub: settings, database, texts, clock and metrics, opened once per process.

Transports (bot, web, CLI) and the scheduler all receive this one object; it is the only
thing long-lived services hang off.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text

from hub import migrate
from hub.clock import Clock, SystemClock
from hub.db import Database
from hub.files import private_dir
from hub.i18n import Texts, shipped_texts
from hub.metrics import Metrics
from hub.settings import Settings

_MIGRATION_LOCK = 0x67726964  # "grid": serialises upgrades of several processes on PostgreSQL


@dataclass
class Hub:
    settings: Settings
    db: Database
    texts: Texts
    clock: Clock = field(default_factory=SystemClock)
    metrics: Metrics = field(default_factory=Metrics)
    # Long-lived services opened by the roles that need them (e.g. the knowledge base).
    services: dict[str, Any] = field(default_factory=dict)

    @property
    def tz(self) -> ZoneInfo:
        return self.settings.tz

    def now(self) -> datetime:
        return self.clock.now()

    def local(self, when: datetime) -> datetime:
        return when.astimezone(self.tz)

    def t(self, lang: str, key: str, **params: object) -> str:
        return self.texts.get(lang, key, **params)

    @classmethod
    async def open(
        cls, settings: Settings, *, clock: Clock | None = None, upgrade: bool = True
    ) -> Hub:
        private_dir(settings.data_dir)
        db = Database(settings.db_url)
        try:
            if upgrade:
                await upgrade_schema(db)
            hub = cls(settings=settings, db=db, texts=shipped_texts(), clock=clock or SystemClock())
        except BaseException:
            await db.dispose()
            raise
        return hub

    async def close(self) -> None:
        await self.db.dispose()


async def upgrade_schema(db: Database) -> None:
    """Bring the schema to head; on PostgreSQL under an advisory lock so only one process does."""
    if db.dialect != "postgresql":
        await migrate.upgrade(db)
        return
    async with db.engine.connect() as conn:
        await conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _MIGRATION_LOCK})
        await conn.commit()
        try:
            await migrate.upgrade(db)
        finally:
            await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _MIGRATION_LOCK})
            await conn.commit()
