import json

import pytest
from sqlalchemy import select

from hub import audit, grids, people
from hub.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from hub.models import ChatKind, GridLevel, Role


async def tree(hub):
    async with hub.db.session() as s:
        await grids.import_specs(
            s,
            [
                grids.GridSpec("T1", "第一网格", "C1"),
                grids.GridSpec("C1", "南苑社区", "S1"),
                grids.GridSpec("S1", "南苑街道", "D1"),
                grids.GridSpec("D1", "城厢区"),
                grids.GridSpec("T2", "第二网格", "C1"),
                grids.GridSpec("C2", "东岩村", "S1"),
                grids.GridSpec("T3", "东岩村网格", "C2"),
            ],
            actor="test",
            now=hub.now(),
        )


async def test_import_orders_parents_first_and_derives_levels(hub):
    await tree(hub)
    async with hub.db.session() as s:
        found = {g.code: g for g in await grids.list_grids(s)}
        sub = [g.code for g in await grids.list_grids(s, under="C1")]
    assert found["D1"].level is GridLevel.DISTRICT
    assert found["C1"].level is GridLevel.COMMUNITY
    assert found["T1"].level is GridLevel.GRID
    assert found["T1"].path == "/D1/S1/C1/T1/"
    assert sub == ["C1", "T1", "T2"]


async def test_every_grid_change_is_audited(hub):
    await tree(hub)
    async with hub.db.session() as s:
        await grids.upsert(s, grids.GridSpec("T1", "第一网格（新名）", "C1"), actor="test", now=hub.now())
        rows = await audit.history(s, "grid", "T1")
    assert [r.action for r in rows] == ["create", "update"]
    assert rows[1].before["name"] == "第一网格"
    assert rows[1].after["name"] == "第一网格（新名）"


async def test_a_grid_cannot_be_moved_or_nested_too_deep(hub):
    await tree(hub)
    async with hub.db.session() as s:
        with pytest.raises(Conflict):
            await grids.upsert(s, grids.GridSpec("T1", "x", "C2"), actor="test", now=hub.now())
    async with hub.db.session() as s:
        with pytest.raises(InvalidInput) as raised:
            await grids.upsert(s, grids.GridSpec("X1", "x", "T1"), actor="test", now=hub.now())
    assert raised.value.key == "error.grid_too_deep"


@pytest.mark.parametrize(
    ("specs", "key"),
    [
        ([grids.GridSpec("A", "a", "NOPE")], "error.grid_parent_unknown"),
        ([grids.GridSpec("A", "a"), grids.GridSpec("A", "b")], "error.grid_duplicate"),
        ([grids.GridSpec("bad code!", "a")], "error.grid_code"),
    ],
)
async def test_bad_imports_write_nothing(hub, specs, key):
    with pytest.raises(InvalidInput) as raised:
        async with hub.db.session() as s:
            await grids.import_specs(s, specs, actor="test", now=hub.now())
    assert raised.value.key == key
    async with hub.db.session() as s:
        assert await grids.list_grids(s) == []


def test_parse_csv_yaml_geojson():
    csv_rows = grids.parse_grid_file("g.csv", "code,name,parent\nD1,城厢区,\nS1,南苑街道,D1\n".encode())
    assert [(s.code, s.parent) for s in csv_rows] == [("D1", None), ("S1", "D1")]
    yaml_rows = grids.parse_grid_file("g.yaml", "grids:\n  - {code: D1, name: 区, level: district}\n".encode())
    assert yaml_rows[0].level is GridLevel.DISTRICT
    polygon = {"type": "Polygon", "coordinates": [[[119, 25], [119.1, 25], [119.1, 25.1], [119, 25]]]}
    geo = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": "T1", "name": "网格", "parent": "C1"}, "geometry": polygon}
    ]}
    geo_rows = grids.parse_grid_file("g.geojson", json.dumps(geo).encode())
    assert geo_rows[0].boundary == polygon and geo_rows[0].parent == "C1"


@pytest.mark.parametrize(
    ("name", "data", "key"),
    [
        ("g.txt", b"x", "error.grid_file_type"),
        ("g.csv", b"\xff\xfe\x00bad", "error.grid_file_encoding"),
        ("g.yaml", b"grids: [unclosed", "error.grid_file_syntax"),
        ("g.geojson", b"{not json", "error.grid_file_syntax"),
        ("g.csv", b"code,name\nT1,\n", "error.grid_row"),
    ],
)
def test_parse_rejects_bad_files(name, data, key):
    with pytest.raises(InvalidInput) as raised:
        grids.parse_grid_file(name, data)
    assert raised.value.key == key


async def appoint(hub, telegram_id, role, grid):
    async with hub.db.session() as s:
        return await people.appoint(
            s, telegram_id=telegram_id, name=f"p{telegram_id}", role=role, grid_code=grid,
            actor="test", now=hub.now(),
        )


async def bind(hub, actor, code, chat_id=-100, kind=ChatKind.GROUP):
    async with hub.db.session() as s:
        return await grids.bind_chat(
            s, actor=actor, telegram_chat_id=chat_id, title="群", code=code, kind=kind, now=hub.now()
        )


async def test_worker_binds_own_grid_and_staff_binds_below(hub):
    await tree(hub)
    worker = await appoint(hub, 1, Role.WORKER, "T1")
    staff = await appoint(hub, 2, Role.STAFF, "S1")
    chat = await bind(hub, worker, "T1")
    await bind(hub, staff, "T3", chat_id=-200, kind=ChatKind.WORKERS)
    async with hub.db.session() as s:
        assert (await grids.chat_binding(s, -100)).grid_id == chat.grid_id
        assert (await grids.chat_binding(s, -200)).kind is ChatKind.WORKERS
        assert [r.action for r in await audit.history(s, "chat", -100)] == ["bind"]


@pytest.mark.parametrize(
    ("role", "home", "target", "key"),
    [
        (Role.RESIDENT, "T1", "T1", "error.role_required"),
        (Role.WORKER, "T1", "T2", "error.out_of_scope"),
        (Role.WORKER, "T1", "C1", "error.out_of_scope"),
        (Role.STAFF, "C2", "T1", "error.out_of_scope"),
    ],
)
async def test_binding_is_refused_outside_role_or_scope(hub, role, home, target, key):
    await tree(hub)
    person = await appoint(hub, 9, role, home)
    with pytest.raises(PermissionDenied) as raised:
        await bind(hub, person, target)
    assert raised.value.key == key
    async with hub.db.session() as s:
        assert await grids.chat_binding(s, -100) is None


async def test_binding_unknown_grid(hub):
    await tree(hub)
    worker = await appoint(hub, 1, Role.WORKER, "T1")
    with pytest.raises(NotFound):
        await bind(hub, worker, "ZZ")


async def test_rebinding_moves_the_chat(hub):
    await tree(hub)
    staff = await appoint(hub, 2, Role.STAFF, "S1")
    await bind(hub, staff, "T1")
    await bind(hub, staff, "T2")
    async with hub.db.session() as s:
        from hub.models import Chat

        chats = (await s.scalars(select(Chat))).all()
        history = await audit.history(s, "chat", -100)
    assert len(chats) == 1
    assert history[-1].after == {"grid": "T2", "kind": "group"}


async def test_a_grid_worker_sets_the_language_of_their_groups_posts(hub):
    await tree(hub)
    worker = await appoint(hub, 1, Role.WORKER, "T1")
    other = await appoint(hub, 2, Role.WORKER, "T2")
    resident = await appoint(hub, 3, Role.RESIDENT, "T1")
    await bind(hub, worker, "T1", chat_id=-100)
    async with hub.db.session() as s:
        for actor, error in ((resident, PermissionDenied), (other, PermissionDenied)):
            with pytest.raises(error):
                await grids.set_chat_language(s, actor=actor, telegram_chat_id=-100, language="en", now=hub.now())
        with pytest.raises(InvalidInput):
            await grids.set_chat_language(s, actor=worker, telegram_chat_id=-100, language="fr", now=hub.now())
        with pytest.raises(NotFound):
            await grids.set_chat_language(s, actor=worker, telegram_chat_id=-999, language="en", now=hub.now())
    async with hub.db.session() as s:
        chat = await grids.set_chat_language(s, actor=worker, telegram_chat_id=-100, language="en", now=hub.now())
        assert chat.language == "en"
    async with hub.db.session() as s:
        [row] = [h for h in await audit.history(s, "chat", "-100") if h.action == "language"]
    assert (row.before, row.after, row.actor_id) == ({"language": None}, {"language": "en"}, worker.id)
