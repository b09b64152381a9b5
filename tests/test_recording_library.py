"""The recording library on both databases: requests, takes, approval, roles, rendering."""

from pathlib import Path

import pytest
from sqlalchemy import select

from audio import library
from audio.library import Catalogue
from audio.models import Recording, RecordingRequest, RecordingSource, RequestStatus
from audio.scripts import DialectText, Script, load_dialects
from hub import audit, grids, people
from hub.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from hub.models import AuditEntry, Role
from tests.audio_measure import VOICE_LIKE, active_fraction, decode, make_audio

SHORT = Script(
    id="test-short",
    title="防火提醒",
    mandarin="请注意防火安全。",
    dialects={"putian": DialectText(reading="注意防火")},
)


@pytest.fixture
def catalogue() -> Catalogue:
    return Catalogue({SHORT.id: SHORT}, load_dialects())


@pytest.fixture(scope="module")
def voice(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    folder = tmp_path_factory.mktemp("voice")
    return make_audio(folder / "v.ogg", VOICE_LIKE, 2.0, "-c:a", "libopus", "-b:a", "32k")


@pytest.fixture(scope="module")
def other_voice(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    folder = tmp_path_factory.mktemp("voice2")
    return make_audio(folder / "v.ogg", VOICE_LIKE, 3.0, "-c:a", "libopus", "-b:a", "24k")


async def seed(hub):
    async with hub.db.session() as s:
        await grids.import_specs(
            s,
            [grids.GridSpec("D1", "城厢区"), grids.GridSpec("S1", "南苑街道", "D1"),
             grids.GridSpec("C1", "南苑社区", "S1"), grids.GridSpec("T1", "第一网格", "C1"),
             grids.GridSpec("T2", "第二网格", "C1")],
            actor="test", now=hub.now(),
        )
        for tid, name, role, grid in [
            (5001, "王芳", Role.WORKER, "T1"), (5002, "李强", Role.WORKER, "T2"),
            (5901, "陈主任", Role.STAFF, "C1"), (6001, "张阿姨", Role.RESIDENT, "T1"),
        ]:
            await people.appoint(s, telegram_id=tid, name=name, role=role, grid_code=grid,
                                 actor="test", now=hub.now())


async def _person(session, telegram_id):
    return await people.get(session, telegram_id)


async def _request(hub, catalogue, grid="T1", actor=5901):
    async with hub.db.session() as s:
        return await library.request_recording(
            s, catalogue, actor=await _person(s, actor), script_id=SHORT.id, dialect="putian",
            grid_code=grid, now=hub.now(),
        )


async def _add(hub, catalogue, actor, data, **where):
    async with hub.db.session() as s:
        who = await _person(s, actor) if isinstance(actor, int) else actor
        return await library.add_recording(
            s, catalogue, hub.settings.data_dir, actor=who, data=data, hint="voice.ogg",
            source=RecordingSource.TELEGRAM, now=hub.now(), **where,
        )


async def test_requests_are_seen_by_the_workers_of_their_grid(hub, catalogue):
    await seed(hub)
    first = await _request(hub, catalogue, "T1")
    second = await _request(hub, catalogue, "T2")
    async with hub.db.session() as s:
        mine = await library.open_requests(s, await _person(s, 5001))
        assert [(o.request.id, o.grid.code) for o in mine] == [(first.id, "T1")]
        staff = await library.open_requests(s, await _person(s, 5901))
        assert [o.request.id for o in staff] == [first.id, second.id]
        with pytest.raises(PermissionDenied) as refused:
            await library.open_requests(s, await _person(s, 6001))
        assert refused.value.key == "error.role_required"
    with pytest.raises(Conflict, match="request_exists"):
        await _request(hub, catalogue, "T1")
    with pytest.raises(PermissionDenied, match="out_of_scope"):
        await _request(hub, catalogue, "T2", actor=5001)
    async with hub.db.session() as s:
        with pytest.raises(NotFound, match="script_unknown"):
            await library.request_recording(s, catalogue, actor="cli", script_id="nope",
                                            dialect="putian", grid_code="T1", now=hub.now())
        with pytest.raises(InvalidInput, match="dialect_unknown"):
            await library.request_recording(s, catalogue, actor="cli", script_id=SHORT.id,
                                            dialect="klingon", grid_code="T1", now=hub.now())
        entries = await audit.history(s, "recording_request", first.id)
    assert [e.action for e in entries] == ["request"]


async def test_a_take_for_a_request_is_approved_and_fulfils_it(hub, catalogue, voice):
    await seed(hub)
    request = await _request(hub, catalogue, "T1")
    other_grid = await _request(hub, catalogue, "T2")
    async with hub.db.session() as s:
        shown = await library.prompt(s, catalogue, actor=await _person(s, 5001), request_id=request.id)
    assert shown.script.mandarin == SHORT.mandarin and shown.reading == "注意防火"
    assert shown.dialect.name.zh_hans == "莆仙话"
    added = await _add(hub, catalogue, 5001, voice, request_id=request.id)
    take = added.recording
    assert (take.version, take.approved, take.source) == (1, True, RecordingSource.TELEGRAM)
    assert (take.script_id, take.dialect, take.speaker_name) == (SHORT.id, "putian", "王芳")
    assert take.duration_s == pytest.approx(2.0, abs=0.05)
    assert -25 < take.loudness_lufs < -5
    stored = Path(hub.settings.data_dir) / take.path
    assert take.path == f"recordings/{take.content_hash}.flac" and stored.exists()
    assert set(added.fulfilled) == {request.id, other_grid.id}  # the dialect, not the grid
    async with hub.db.session() as s:
        best = await library.best_recording(s, SHORT.id, "putian")
        assert best is not None and best.id == take.id
        states = set(await s.scalars(select(RecordingRequest.status)))
        assert states == {RequestStatus.FULFILLED}
        assert await library.open_requests(s, await _person(s, 5001)) == []
        actions = [e.action for e in await audit.history(s, "recording", take.id)]
        assert actions == ["add"]
        fulfil = await audit.history(s, "recording_request", request.id)
        assert [e.action for e in fulfil] == ["request", "fulfil"]
    with pytest.raises(Conflict, match="request_closed"):
        await _add(hub, catalogue, 5001, voice, request_id=request.id)


async def test_unrequested_take_waits_for_someone_else_to_approve_it(hub, catalogue, voice, other_voice):
    await seed(hub)
    first = (await _add(hub, catalogue, 5901, voice, script_id=SHORT.id, dialect="putian")).recording
    assert first.approved  # staff decide what plays
    pending = (await _add(hub, catalogue, 5001, other_voice, script_id=SHORT.id, dialect="putian")).recording
    assert (pending.version, pending.approved) == (2, False)
    async with hub.db.session() as s:
        assert (await library.best_recording(s, SHORT.id, "putian")).id == first.id
        with pytest.raises(PermissionDenied, match="approve_own"):
            await library.approve(s, actor=await _person(s, 5001), recording_id=pending.id, now=hub.now())
        with pytest.raises(PermissionDenied, match="out_of_scope"):
            await library.approve(s, actor=await _person(s, 5002), recording_id=pending.id, now=hub.now())
        with pytest.raises(PermissionDenied, match="role_required"):
            await library.approve(s, actor=await _person(s, 6001), recording_id=pending.id, now=hub.now())
    async with hub.db.session() as s:
        approved = await library.approve(s, actor=await _person(s, 5901), recording_id=pending.id, now=hub.now())
        assert approved.approved_at == hub.now()
    async with hub.db.session() as s:
        assert (await library.best_recording(s, SHORT.id, "putian")).id == pending.id
        with pytest.raises(Conflict, match="already_approved"):
            await library.approve(s, actor="cli", recording_id=pending.id, now=hub.now())
        with pytest.raises(NotFound):
            await library.approve(s, actor="cli", recording_id=999, now=hub.now())
        assert [e.action for e in await audit.history(s, "recording", pending.id)] == ["add", "approve"]


async def test_residents_cannot_record_and_duplicates_are_refused(hub, catalogue, voice):
    await seed(hub)
    with pytest.raises(PermissionDenied, match="role_required"):
        await _add(hub, catalogue, 6001, voice, script_id=SHORT.id, dialect="putian")
    await _add(hub, catalogue, "cli", voice, script_id=SHORT.id, dialect="putian")
    with pytest.raises(Conflict, match="duplicate"):
        await _add(hub, catalogue, "cli", voice, script_id=SHORT.id, dialect="putian")
    with pytest.raises(InvalidInput, match="dialect_unknown"):
        await _add(hub, catalogue, "cli", voice, script_id=SHORT.id, dialect="klingon")
    with pytest.raises(NotFound, match="request_unknown"):
        await _add(hub, catalogue, 5001, voice, request_id=42)


async def test_refused_upload_writes_nothing(hub, catalogue, tmp_path):
    await seed(hub)
    request = await _request(hub, catalogue, "T1")
    silent = make_audio(tmp_path / "s.ogg", "anullsrc=r=48000:cl=mono", 2.0, "-c:a", "libopus")
    with pytest.raises(InvalidInput) as refused:
        await _add(hub, catalogue, 5001, silent, request_id=request.id)
    assert refused.value.key == "record.rejected_silence"
    async with hub.db.session() as s:
        assert (await s.scalars(select(Recording))).all() == []
        assert (await s.get(RecordingRequest, request.id)).status is RequestStatus.OPEN
        actions = set(await s.scalars(select(AuditEntry.action).where(AuditEntry.entity == "recording")))
        assert actions == set()
    folder = library.recordings_dir(hub.settings.data_dir)
    assert not folder.exists() or not any(folder.iterdir())


async def test_render_uses_the_newest_approved_take(sqlite_hub, catalogue, voice, other_voice):
    hub = sqlite_hub
    hub.services[library.CATALOGUE] = catalogue
    await seed(hub)
    plain = await library.render(hub, SHORT.id, "putian", formats=("mp3",))
    assert plain.dialect_source == "mandarin"
    first = (await _add(hub, catalogue, "cli", voice, script_id=SHORT.id, dialect="putian")).recording
    with_take = await library.render(hub, SHORT.id, "putian", formats=("mp3",))
    assert with_take.dialect_source == "recording" and with_take.clip_hash != plain.clip_hash
    span = next(s for s in with_take.segments if s.kind == "dialect")
    assert span.end_s - span.start_s == pytest.approx(first.duration_s, abs=0.1)
    samples = decode(with_take.paths["mp3"])
    assert active_fraction(samples, span.start_s, span.end_s) > 0.9
    again = await library.render(hub, SHORT.id, "putian", formats=("mp3",))
    assert again.cache_hit and again.clip_hash == with_take.clip_hash
    # A newer take changes the clip only once it is approved.
    pending = (await _add(hub, catalogue, 5001, other_voice, script_id=SHORT.id, dialect="putian")).recording
    assert (await library.render(hub, SHORT.id, "putian", formats=("mp3",))).clip_hash == with_take.clip_hash
    async with hub.db.session() as s:
        await library.approve(s, actor="cli", recording_id=pending.id, now=hub.now())
    newer = await library.render(hub, SHORT.id, "putian", formats=("mp3",))
    assert not newer.cache_hit and newer.clip_hash != with_take.clip_hash
    span = next(s for s in newer.segments if s.kind == "dialect")
    assert span.end_s - span.start_s == pytest.approx(pending.duration_s, abs=0.1)
    with pytest.raises(NotFound):
        await library.render(hub, "nope", "putian")
