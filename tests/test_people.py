import pytest

from hub import audit, people
from hub.errors import InvalidInput, NotFound
from hub.models import Role
from tests.test_grids import appoint, tree


async def test_first_contact_registers_a_resident_in_the_groups_grid(hub):
    await tree(hub)
    async with hub.db.session() as s:
        person = await people.register(
            s, telegram_id=77, name="张阿姨", username="zhang", telegram_language="zh-hans",
            grid_id=3, now=hub.now(),
        )
        again = await people.register(
            s, telegram_id=77, name="张阿姨", username="zhang2", telegram_language="en",
            grid_id=5, now=hub.now(),
        )
        history = await audit.history(s, "person", person.id)
    assert again.id == person.id
    assert again.role is Role.RESIDENT
    assert again.grid_id == 3  # the first grid stays
    assert (again.username, again.telegram_language) == ("zhang2", "en")
    assert [h.action for h in history] == ["register"]


async def test_appointing_changes_role_and_is_audited(hub):
    await tree(hub)
    await appoint(hub, 5, Role.RESIDENT, "T1")
    worker = await appoint(hub, 5, Role.WORKER, "T2")
    async with hub.db.session() as s:
        listed = await people.list_people(s, grid_code="C1", role=Role.WORKER)
        history = await audit.history(s, "person", worker.id)
    assert [(p.telegram_id, code) for p, code in listed] == [(5, "T2")]
    assert history[-1].before["role"] == "resident"
    assert history[-1].after == {**history[-1].after, "role": "worker", "grid": "T2"}


async def test_workers_need_a_grid_and_a_known_language(hub):
    await tree(hub)
    async with hub.db.session() as s:
        with pytest.raises(InvalidInput):
            await people.appoint(s, telegram_id=1, name="x", role=Role.WORKER, grid_code=None, actor="t", now=hub.now())
        with pytest.raises(InvalidInput):
            await people.appoint(s, telegram_id=1, name="x", role=Role.RESIDENT, grid_code=None, language="fr", actor="t", now=hub.now())
        with pytest.raises(NotFound):
            await people.appoint(s, telegram_id=1, name="x", role=Role.WORKER, grid_code="NOPE", actor="t", now=hub.now())


async def test_passwords_are_hashed_and_checked(hub):
    await tree(hub)
    await appoint(hub, 9, Role.STAFF, "S1")
    await appoint(hub, 8, Role.RESIDENT, "T1")
    async with hub.db.session() as s:
        person = await people.set_password(s, 9, "correct horse battery", actor="t", now=hub.now())
        assert person.password_hash.startswith("$argon2")
        assert "correct" not in person.password_hash
        assert people.check_password(person, "correct horse battery")
        assert not people.check_password(person, "wrong")
        with pytest.raises(InvalidInput):
            await people.set_password(s, 9, "short", actor="t", now=hub.now())
        with pytest.raises(InvalidInput):
            await people.set_password(s, 8, "residents have none", actor="t", now=hub.now())


async def test_registering_several_senders_at_once_reads_once_and_makes_each_person_once(hub):
    """The intake registers a whole batch of senders: a known one, a newcomer twice, another."""
    await tree(hub)
    known = await appoint(hub, 5, Role.WORKER, "T1")
    senders = [
        people.Newcomer(88, "新人", "new", "en", grid_id=3),
        people.Newcomer(5, "p5", "worker5"),
        people.Newcomer(88, "新人", "new", "en", grid_id=5),
        people.Newcomer(89, "", None, None),
    ]
    async with hub.db.session() as s:
        found = await people.register_many(s, senders, now=hub.now())
        history = await audit.history(s, "person", found[0].id)
    assert [p.telegram_id for p in found] == [88, 5, 88, 89]
    assert found[0] is found[2] and found[0].grid_id == 3 and found[0].role is Role.RESIDENT
    assert found[1].id == known.id and found[1].role is Role.WORKER and found[1].username == "worker5"
    assert found[3].name == "89"  # no name from Telegram: the id stands in
    assert [h.action for h in history] == ["register"]
    async with hub.db.session() as s:
        again = await people.register_many(s, [people.Newcomer(89, "x"), people.Newcomer(88, "y")], now=hub.now())
    assert [p.id for p in again] == [found[3].id, found[0].id]
