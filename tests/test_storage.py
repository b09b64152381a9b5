from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from hub import audit, conversations, migrate
from hub.db import Database
from hub.models import AuditEntry, Chat, Grid, GridLevel


async def test_schema_is_at_head(hub):
    assert await migrate.current_revision(hub.db) == migrate.head_revision()


async def test_fresh_database_upgrades_from_nothing(tmp_path):
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'new' / 'fresh.db'}")
    try:
        assert await migrate.current_revision(db) is None
        await migrate.upgrade(db)
        await migrate.upgrade(db)  # a second upgrade is a no-op
        assert await migrate.current_revision(db) == migrate.head_revision()
    finally:
        await db.dispose()


async def test_sqlite_runs_in_wal_with_foreign_keys(sqlite_hub):
    async with sqlite_hub.db.engine.connect() as conn:
        assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
        assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1


async def test_foreign_keys_are_enforced(hub):
    with pytest.raises(IntegrityError):
        async with hub.db.session() as session:
            session.add(Chat(telegram_chat_id=-1, grid_id=999, created_at=hub.now()))


async def test_datetimes_come_back_aware_and_equal(hub):
    shanghai = timezone(timedelta(hours=8))
    when = datetime(2026, 11, 9, 9, 30, tzinfo=shanghai)
    async with hub.db.session() as session:
        session.add(Grid(code="D1", name="区", level=GridLevel.DISTRICT, path="/D1/", created_at=when))
    async with hub.db.session() as session:
        grid = await session.scalar(select(Grid))
    assert grid.created_at == when
    assert grid.created_at.tzinfo is not None
    assert grid.created_at.astimezone(UTC).hour == 1


async def test_naive_datetimes_are_refused(hub):
    with pytest.raises(Exception, match="naive datetime"):
        async with hub.db.session() as session:
            session.add(Grid(code="D1", name="区", level=GridLevel.DISTRICT, path="/D1/", created_at=datetime(2026, 1, 1)))


async def test_failed_unit_of_work_leaves_nothing(hub):
    with pytest.raises(RuntimeError):
        async with hub.db.session() as session:
            audit.record(session, at=hub.now(), actor="test", entity="grid", entity_id="X", action="create")
            await session.flush()
            raise RuntimeError("boom")
    async with hub.db.session() as session:
        assert (await session.scalars(select(AuditEntry))).all() == []


async def test_a_flow_prefix_is_matched_literally(hub):
    """`_` and `%` are LIKE wildcards; a flow's name is matched as written."""
    now = hub.now()
    async with hub.db.session() as session:
        for user, flow in ((1, "same_1"), (1, "sameX1"), (2, "100%_a"), (2, "1000"), (3, "same_2")):
            await conversations.put(session, user, flow, {}, now=now)
    async with hub.db.session() as session:
        assert sorted(f for _, f, _ in await conversations.begun(session, [1, 2, 3], "same_", now=now)) == [
            "same_1", "same_2"]
        assert [f for _, f, _ in await conversations.begun(session, [1, 2], "100%", now=now)] == ["100%_a"]
        assert await conversations.begun(session, [1], "same_", now=now + timedelta(days=2)) == []  # expired
        assert await conversations.begun(session, [], "same_", now=now) == []


async def test_audit_rows_written_together_go_with_their_unit_of_work(hub):
    entries = [audit.Entry("test", "grid", code, "create", after={"n": i}) for i, code in enumerate(("A", "B"))]
    with pytest.raises(RuntimeError):
        async with hub.db.session() as session:
            await audit.record_many(session, entries, at=hub.now())
            raise RuntimeError("boom")
    async with hub.db.session() as session:
        assert (await session.scalars(select(AuditEntry))).all() == []
        await audit.record_many(session, entries, at=hub.now())
        await audit.record_many(session, [], at=hub.now())
    async with hub.db.session() as session:
        rows = await audit.history(session, "grid", "B")
    assert [(r.actor_label, r.action, r.after) for r in rows] == [("test", "create", {"n": 1})]
