"""The loudspeaker registry on both databases: tokens shown once and kept hashed, roles, audit
rows, rotation and deactivation, and an area's quiet hours and dialect.

The helpers at the top set up speakers and clips for the other test_speakers_* files.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from broadcasts.speakers import clips, registry, timing, tokens
from broadcasts.speakers import directory as directory_module
from broadcasts.speakers.directory import SERVICE, Directory, Unauthorized, directory_of
from broadcasts.speakers.models import Clip, ScriptClip, Speaker
from cli.demo import load_demo
from hub import audit, grids, people
from hub.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from hub.models import ChatKind

WORKERS_CHAT = -1101  # T1's workers' group
VILLAGE_WORKERS_CHAT = -1103  # C2's (the village's) workers' group


async def area(hub) -> None:
    """The demo district, T1's and the village's workers' groups bound, and a directory that
    reads every change at once (in production it looks at most once a second)."""
    await load_demo(hub)
    hub.services[SERVICE] = Directory(max_age=0)
    async with hub.db.session() as s:
        staff = await people.get(s, 5901)
        for chat, code in ((WORKERS_CHAT, "T1"), (VILLAGE_WORKERS_CHAT, "C2")):
            await grids.bind_chat(s, actor=staff, telegram_chat_id=chat, title=f"{code} workers",
                                  code=code, kind=ChatKind.WORKERS, now=hub.now())


async def add_speaker(hub, code: str = "SPK1", grid: str = "T1", **options) -> str:
    """Register a speaker as the operator; returns its token."""
    async with hub.db.session() as s:
        _, token = await registry.add(s, "test", registry.SpeakerSpec(code, f"{code} 大喇叭", grid, **options),
                                      now=hub.now())
    return token


def fake_clip(hub, seed: str, seconds: float = 20.0) -> clips.Published:
    """A clip in the store without rendering one: bytes that stand for an MP3 and an Ogg."""
    folder = clips.store_dir(hub.settings.data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    data = b"ID3" + hashlib.sha256(seed.encode()).digest() * 500
    sha = hashlib.sha256(data).hexdigest()
    (folder / f"{sha}.mp3").write_bytes(data)
    (folder / f"{sha}.ogg").write_bytes(b"OggS" + data[3:])
    return clips.Published(sha, len(data), len(data) + 1, seconds)


async def rendered_script(hub, script_id: str, dialect: str = "", seconds: float = 20.0) -> clips.Published:
    """What the render job leaves for a slot's script, with a fake clip."""
    published = fake_clip(hub, f"{script_id}:{dialect}", seconds)
    async with hub.db.session() as s:
        await clips.store(s, published, f"script:{script_id}", now=hub.now())
        s.add(ScriptClip(script_id=script_id, dialect=dialect, title=f"{script_id} title",
                         render_key="test", clip_sha=published.sha256, rendered_at=hub.now()))
    return published


async def test_a_speaker_is_added_with_a_token_shown_once_and_kept_hashed(hub):
    await area(hub)
    token = await add_speaker(hub, zone_tags=("square", "market"), location="广场东侧", volume=70,
                              active_hours=(6 * 60, 22 * 60))
    assert len(token) >= 40
    async with hub.db.session() as s:
        speaker = await registry.get(s, "SPK1")
        history = await audit.history(s, "speaker", "SPK1")
    assert speaker.token_hash == hashlib.sha256(token.encode()).hexdigest() != token
    assert speaker.zone_tags == ["market", "square"] and speaker.volume == 70
    assert (speaker.active_start_min, speaker.active_end_min) == (360, 1320)
    assert [h.action for h in history] == ["create"]
    assert token not in str(history[0].after)
    entry = await directory_of(hub).speaker(hub, "SPK1", token)
    assert entry.code == "SPK1"


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        (registry.SpeakerSpec("../x", "n", "T1"), InvalidInput),
        (registry.SpeakerSpec("SPK9", " ", "T1"), InvalidInput),
        (registry.SpeakerSpec("SPK9", "n", "T1", volume=101), InvalidInput),
        (registry.SpeakerSpec("SPK9", "n", "T1", zone_tags=("a b",)), InvalidInput),
        (registry.SpeakerSpec("SPK9", "n", "NOPE"), NotFound),
        (registry.SpeakerSpec("SPK1", "n", "T1"), Conflict),
    ],
)
async def test_what_cannot_be_registered(hub, spec, error):
    await area(hub)
    await add_speaker(hub)
    async with hub.db.session() as s:
        with pytest.raises(error):
            await registry.add(s, "test", spec, now=hub.now())


async def test_staff_manage_their_subtree_and_workers_only_see_theirs(hub):
    await area(hub)
    async with hub.db.session() as s:
        staff = await people.get(s, 5901)  # S1, the street
        worker = await people.get(s, 5001)  # T1
        await registry.add(s, staff, registry.SpeakerSpec("SPK1", "村口", "T3"), now=hub.now())
        await registry.add(s, staff, registry.SpeakerSpec("SPK2", "广场", "T1"), now=hub.now())
        with pytest.raises(PermissionDenied):
            await registry.add(s, worker, registry.SpeakerSpec("SPK3", "x", "T1"), now=hub.now())
        with pytest.raises(PermissionDenied):
            await registry.deactivate(s, worker, "SPK2", now=hub.now())
        seen = [sp.code for sp, _ in await registry.speakers_in_scope(s, worker)]
        resident = await people.get(s, 6001)
        with pytest.raises(PermissionDenied):
            await registry.speakers_in_scope(s, resident)
        history = await audit.history(s, "speaker", "SPK1")
    assert seen == ["SPK2"]
    assert history[0].actor_id == staff.id and history[0].after["grid"] == "T3"


async def test_a_rotated_token_replaces_the_old_one_and_a_deactivated_speaker_is_refused(hub):
    await area(hub)
    old = await add_speaker(hub)
    async with hub.db.session() as s:
        _, new = await registry.rotate_token(s, "test", "SPK1", now=hub.now())
    directory = directory_of(hub)
    with pytest.raises(Unauthorized):
        await directory.speaker(hub, "SPK1", old)
    assert (await directory.speaker(hub, "SPK1", new)).code == "SPK1"
    async with hub.db.session() as s:
        await registry.deactivate(s, "test", "SPK1", now=hub.now())
        with pytest.raises(Conflict):
            await registry.deactivate(s, "test", "SPK1", now=hub.now())
    with pytest.raises(Unauthorized):
        await directory.speaker(hub, "SPK1", new)
    with pytest.raises(Unauthorized):
        await directory.any_speaker(hub, new)
    async with hub.db.session() as s:
        actions = [h.action for h in await audit.history(s, "speaker", "SPK1")]
    assert actions == ["create", "rotate_token", "deactivate"]


async def test_another_speakers_token_finds_nothing(hub):
    await area(hub)
    await add_speaker(hub, "SPK1")
    token2 = await add_speaker(hub, "SPK2")
    directory = directory_of(hub)
    with pytest.raises(NotFound):
        await directory.speaker(hub, "SPK1", token2)
    with pytest.raises(NotFound):
        await directory.speaker(hub, "NOPE", token2)
    with pytest.raises(Unauthorized):
        await directory.speaker(hub, "SPK1", None)
    with pytest.raises(Unauthorized):
        await directory.speaker(hub, "SPK1", tokens.new_token())


async def test_the_directory_asks_only_for_what_changed(hub, clock, monkeypatch):
    """A poll costs no query until the directory is a second old, then one for newer rows —
    for a change another process committed (one this process commits it sees at once)."""
    await area(hub)
    token = await add_speaker(hub)
    directory = Directory(max_age=1.0)
    await directory.speaker(hub, "SPK1", token)
    with monkeypatch.context() as elsewhere:
        elsewhere.setattr(directory_module, "note_change", lambda _session: None)
        async with hub.db.session() as s:
            _, new = await registry.rotate_token(s, "test", "SPK1", now=hub.now())
    assert (await directory.speaker(hub, "SPK1", token)).code == "SPK1"  # not a second old yet
    clock.advance(timedelta(seconds=1))
    with pytest.raises(Unauthorized):
        await directory.speaker(hub, "SPK1", token)
    assert (await directory.speaker(hub, "SPK1", new)).code == "SPK1"


async def test_quiet_hours_and_dialect_are_inherited_and_audited(hub):
    await area(hub)
    async with hub.db.session() as s:
        staff = await people.get(s, 5901)
        await registry.set_quiet_hours(s, staff, "S1", timing.parse_span("22:00-06:30"), now=hub.now())
        await registry.set_dialect(s, staff, "C2", "putian", ["putian", "minnan"], now=hub.now())
        with pytest.raises(InvalidInput):
            await registry.set_dialect(s, staff, "C2", "klingon", ["putian"], now=hub.now())
        worker = await people.get(s, 5001)
        with pytest.raises(PermissionDenied):
            await registry.set_quiet_hours(s, worker, "T1", (0, 60), now=hub.now())
    async with hub.db.session() as s:
        village = await registry.area_settings(s, await grids.get(s, "T3"))
        town = await registry.area_settings(s, await grids.get(s, "T1"))
        history = await audit.history(s, "speaker_grid", "S1")
    assert village == registry.AreaSettings(timing.Span(1320, 390), "putian")
    assert town == registry.AreaSettings(timing.Span(1320, 390), None)
    assert history[0].after == {"quiet_hours": "22:00-06:30", "dialect": None}


async def test_every_change_a_speaker_plays_bumps_its_version(hub):
    await area(hub)
    await add_speaker(hub, "SPK1", "T1")
    await add_speaker(hub, "SPK3", "T3")

    async def versions() -> dict[str, int]:
        async with hub.db.session() as s:
            return {sp.code: sp.schedule_version for sp in await s.scalars(select(Speaker))}

    before = await versions()
    async with hub.db.session() as s:
        await registry.set_quiet_hours(s, "test", "C2", (1320, 360), now=hub.now())
    after = await versions()
    assert after["SPK3"] > before["SPK3"] and after["SPK1"] == before["SPK1"]


def test_clip_names_are_hashes_and_nothing_else(tmp_path: Path):
    good = "a" * 64
    assert clips.file_for(tmp_path, f"{good}.mp3") == tmp_path / clips.CLIPS_DIR / f"{good}.mp3"
    for bad in (f"{good}.wav", "../" + good + ".mp3", f"{'A' * 64}.mp3", "a" * 63 + ".mp3",
                f"{good}.mp3/..", f"{good}.mp3\n"):
        assert clips.file_for(tmp_path, bad) is None


async def test_a_clip_is_stored_once(hub):
    published = fake_clip(hub, "once")
    async with hub.db.session() as s:
        first = await clips.store(s, published, "a", now=hub.now())
        again = await clips.store(s, published, "b", now=hub.now())
        rows = list(await s.scalars(select(Clip)))
    assert first is again and len(rows) == 1 and rows[0].source == "a"


async def test_a_change_committed_in_this_process_is_seen_at_the_next_poll(hub):
    """The hub renders an urgent clip in the process that serves the polls: the directory must
    not wait out its second (here an hour) before it sees the new schedule version."""
    await area(hub)
    old = await add_speaker(hub)
    directory = hub.services[SERVICE] = Directory(max_age=3600)
    before = await directory.speaker(hub, "SPK1", old)
    with pytest.raises(RuntimeError):
        async with hub.db.session() as s:  # a unit of work that fails changes nothing
            await registry.rotate_token(s, "test", "SPK1", now=hub.now())
            raise RuntimeError("rolled back")
    assert (await directory.speaker(hub, "SPK1", old)).version == before.version
    async with hub.db.session() as s:
        _, new = await registry.rotate_token(s, "test", "SPK1", now=hub.now())
    with pytest.raises(Unauthorized):
        await directory.speaker(hub, "SPK1", old)
    assert (await directory.speaker(hub, "SPK1", new)).version > before.version
