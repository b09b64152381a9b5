"""The pull API over HTTP, as an agent sees it: the schedule and its ETag, the playlist, clips
with Range, heartbeats, proof of play, every refusal, and the OpenAPI document that describes
them — with each answer checked against that document."""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import timedelta
from pathlib import Path

import pytest
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate as validate_spec
from sqlalchemy import event as sa_event
from sqlalchemy import select
from yarl import URL

from broadcasts.speakers import announcements, registry
from broadcasts.speakers.directory import SERVICE, Directory
from broadcasts.speakers.models import Play, Speaker
from tests.test_speakers_registry import add_speaker, area, fake_clip
from web.speakers import MAX_BODY

OPENAPI = json.loads((Path(__file__).resolve().parent.parent / "web" / "openapi.json").read_text())


def conforms(body: object, schema: str) -> None:
    """`body` is what the OpenAPI document says a `schema` is."""
    OAS31Validator({"$ref": f"#/components/schemas/{schema}", "components": OPENAPI["components"]}).validate(body)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def api(hub, web_client):
    """The demo district, SPK1 (T1) and SPK2 (T2), a notice announced to T1, and a client."""
    await area(hub)
    tokens = {"SPK1": await add_speaker(hub, "SPK1", "T1"), "SPK2": await add_speaker(hub, "SPK2", "T2")}
    clip = fake_clip(hub, "notice", seconds=31.4)
    async with hub.db.session() as s:
        await announcements.announce(s, hub, "test", announcements.Target(grid="T1"), clip, title="停水通知",
                                     text=None, at=hub.now() + timedelta(minutes=10))
    client = await web_client(hub)
    return client, tokens, clip


def play(client_id: str, result: str = "played", **extra: object) -> dict[str, object]:
    return {"id": client_id, "item": "announcement:1:20261109T0810Z", "clip": "a" * 64,
            "scheduled": "2026-11-09T08:10:00Z", "started": "2026-11-09T08:10:02Z",
            "ended": None if result == "playing" else "2026-11-09T08:10:33Z", "result": result, **extra}


async def test_the_schedule_is_the_contracts_and_an_unchanged_one_is_a_304(api, hub):
    client, tokens, clip = api
    answer = await client.get("/api/speakers/SPK1/schedule", headers=auth(tokens["SPK1"]))
    assert answer.status == 200 and answer.headers["Content-Type"].startswith("application/json")
    assert "Date" in answer.headers
    body = await answer.json()
    conforms(body, "Schedule")
    assert body["speaker"] == "SPK1" and body["poll_seconds"] == 15 and body["timezone"] == "Asia/Shanghai"
    assert body["generated_at"] == "2026-11-09T08:00:00Z" and body["horizon_until"] >= "2026-11-10T08:00:00Z"
    [item] = body["items"]
    assert item["kind"] == "announcement" and item["rank"] == 2 and item["interrupt"] is False
    assert item["start"] == "2026-11-09T08:10:00Z" and item["level"] is None
    assert item["clip"] == {"name": f"{clip.sha256}.mp3", "url": f"http://127.0.0.1:8080/audio/{clip.sha256}.mp3",
                            "sha256": clip.sha256, "bytes": clip.bytes, "duration_seconds": 31.4}

    tag = answer.headers["ETag"]
    again = await client.get("/api/speakers/SPK1/schedule", headers={**auth(tokens["SPK1"]), "If-None-Match": tag})
    assert again.status == 304 and again.headers["ETag"] == tag and await again.read() == b""

    async with hub.db.session() as s:
        await registry.set_quiet_hours(s, "test", "T1", (0, 60), now=hub.now())
    changed = await client.get("/api/speakers/SPK1/schedule", headers={**auth(tokens["SPK1"]), "If-None-Match": tag})
    assert changed.status == 200 and changed.headers["ETag"] != tag


async def test_a_villages_schedule_is_made_once_for_all_its_speakers(api, hub):
    """After a change to a village, the first of its speakers to poll makes the schedule; the
    others get theirs without a query, and one with an announcement of its own reads only that."""
    client, tokens, _ = api
    hub.services[SERVICE] = Directory(max_age=3600)  # only this process's changes, at once
    tokens["SPK3"] = await add_speaker(hub, "SPK3", "T1")
    tokens["SPK4"] = await add_speaker(hub, "SPK4", "T1")
    own = fake_clip(hub, "own", seconds=12.0)
    async with hub.db.session() as s:
        await announcements.announce(s, hub, "test", announcements.Target(speaker="SPK4"), own, title="只给四号",
                                     text=None, at=hub.now() + timedelta(minutes=20))
        await registry.set_quiet_hours(s, "test", "T1", (0, 60), now=hub.now())  # one version for T1
    first = await client.get("/api/speakers/SPK1/schedule", headers=auth(tokens["SPK1"]))
    assert first.status == 200
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    sa_event.listen(hub.db.engine.sync_engine, "before_cursor_execute", count)
    try:
        third = await client.get("/api/speakers/SPK3/schedule", headers=auth(tokens["SPK3"]))
        assert third.status == 200 and statements == []
        fourth = await client.get("/api/speakers/SPK4/schedule", headers=auth(tokens["SPK4"]))
    finally:
        sa_event.remove(hub.db.engine.sync_engine, "before_cursor_execute", count)
    assert fourth.status == 200 and not any("speaker_slots" in st for st in statements)
    assert [i["title"] for i in (await first.json())["items"]] == ["停水通知"]
    assert (await third.json())["items"] == (await first.json())["items"]
    assert [i["title"] for i in (await fourth.json())["items"]] == ["停水通知", "只给四号"]
    assert third.headers["ETag"] == first.headers["ETag"]


async def test_the_playlist_lists_the_clips_in_start_order(api):
    client, tokens, clip = api
    answer = await client.get("/api/speakers/SPK1/playlist.m3u", headers=auth(tokens["SPK1"]))
    assert answer.status == 200 and answer.headers["Content-Type"].startswith("audio/x-mpegurl")
    assert await answer.text() == (
        f"#EXTM3U\n#EXTINF:31,停水通知\nhttp://127.0.0.1:8080/audio/{clip.sha256}.mp3\n"
    )


async def test_a_clip_is_served_by_its_hash_with_ranges_and_a_year_of_cache(api):
    client, tokens, clip = api
    url = f"/audio/{clip.sha256}.mp3"
    whole = await client.get(url, headers=auth(tokens["SPK2"]))  # any active speaker's token
    data = await whole.read()
    assert whole.status == 200 and hashlib.sha256(data).hexdigest() == clip.sha256
    assert whole.headers["Content-Type"] == "audio/mpeg" and whole.headers["Accept-Ranges"] == "bytes"
    assert whole.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert whole.headers["ETag"] == f'"{clip.sha256}"'

    part = await client.get(url, headers={**auth(tokens["SPK1"]), "Range": "bytes=100-199"})
    assert part.status == 206 and await part.read() == data[100:200]
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(data)}"
    assert part.headers["ETag"] == f'"{clip.sha256}"'
    tail = await client.get(url, headers={**auth(tokens["SPK1"]), "Range": f"bytes={len(data) - 10}-"})
    assert tail.status == 206 and await tail.read() == data[-10:]
    held = await client.get(url, headers={**auth(tokens["SPK1"]), "If-None-Match": f'"{clip.sha256}"'})
    assert held.status == 304

    ogg = await client.get(f"/audio/{clip.sha256}.ogg", headers=auth(tokens["SPK1"]))
    assert ogg.status == 200 and ogg.headers["Content-Type"] == "audio/ogg"
    assert ogg.headers["ETag"] == f'"{clip.sha256}.ogg"'


@pytest.mark.parametrize(
    "path",
    [
        "/audio/..%2F..%2Fgridcast.db",
        "/audio/%2E%2E%2Fgridcast.db",
        "/audio/../gridcast.db",
        "/audio/" + "0" * 64 + ".mp3",  # a well-formed name of no clip
        "/audio/" + "0" * 64 + ".wav",
        "/audio/" + "0" * 64 + ".mp3%00",
        "/audio/speaker_clips",
    ],
)
async def test_anything_but_a_clip_name_is_not_found(api, path):
    client, tokens, _ = api
    answer = await client.get(URL(path, encoded=True), headers=auth(tokens["SPK1"]))
    assert answer.status == 404
    if answer.url.path.startswith("/audio/"):  # a client may resolve "../" itself
        conforms(await answer.json(), "Error")
    # and the same request line as sent by hand, unresolved
    reader, writer = await asyncio.open_connection(client.host, client.port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {tokens['SPK1']}\r\n"
                 "Connection: close\r\n\r\n".encode())
    status = (await reader.readline()).split()[1]
    writer.close()
    assert status == b"404"


async def test_who_may_ask_what(api, hub):
    client, tokens, clip = api
    for path in ("/api/speakers/SPK1/schedule", "/api/speakers/SPK1/playlist.m3u", f"/audio/{clip.sha256}.mp3"):
        for headers in ({}, {"Authorization": "Bearer nonsense"}, {"Authorization": f"Basic {tokens['SPK1']}"}):
            answer = await client.get(path, headers=headers)
            assert answer.status == 401, (path, headers)
            assert answer.headers["WWW-Authenticate"].startswith("Bearer")
            conforms(await answer.json(), "Error")
    # another speaker's token on my id, or on an id that does not exist: nothing is here
    for path in ("/api/speakers/SPK1/schedule", "/api/speakers/NOPE/schedule"):
        answer = await client.get(path, headers=auth(tokens["SPK2"]))
        assert answer.status == 404
    answer = await client.post("/api/speakers/SPK1/played", headers=auth(tokens["SPK2"]), json={"plays": []})
    assert answer.status == 404
    # a deactivated speaker's token is refused
    async with hub.db.session() as s:
        await registry.deactivate(s, "test", "SPK2", now=hub.now())
    assert (await client.get("/api/speakers/SPK2/schedule", headers=auth(tokens["SPK2"]))).status == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{not json", None),
        (b"\xff\xfe", None),
        (json.dumps({"status": "dancing", "version": "0.1"}).encode(), "status"),
        (json.dumps({"status": "idle"}).encode(), "version"),
        (json.dumps({"status": "idle", "version": "0.1", "free_disk_bytes": -1}).encode(), "free_disk_bytes"),
        (json.dumps({"status": "idle", "version": "0.1", "last_played": {"item": "x", "started": "yesterday"}}).encode(),
         "last_played.started"),
        (json.dumps([1, 2]).encode(), "body"),
    ],
)
async def test_a_malformed_heartbeat_is_a_400(api, body, field):
    client, tokens, _ = api
    answer = await client.post("/api/speakers/SPK1/heartbeat", data=body,
                               headers={**auth(tokens["SPK1"]), "Content-Type": "application/json"})
    assert answer.status == 400
    error = (await answer.json())["error"]
    assert (field or "JSON") in error


async def test_a_body_over_64_kb_is_a_413(api):
    client, tokens, _ = api
    big = json.dumps({"plays": [play(f"p{i}", error="x" * 500) for i in range(200)]}).encode()
    assert len(big) > MAX_BODY
    answer = await client.post("/api/speakers/SPK1/played", data=big,
                               headers={**auth(tokens["SPK1"]), "Content-Type": "application/json"})
    assert answer.status == 413
    conforms(await answer.json(), "Error")

    async def chunks():  # no Content-Length: the limit holds while reading
        for _ in range(5):
            yield b" " * (16 * 1024)

    answer = await client.post("/api/speakers/SPK1/heartbeat", data=chunks(), headers=auth(tokens["SPK1"]))
    assert answer.status == 413


async def test_a_heartbeat_is_recorded(api, hub):
    client, tokens, _ = api
    beat = {"status": "playing", "version": "0.1.0", "free_disk_bytes": 123456789, "clock_offset_seconds": -0.4,
            "last_played": {"item": "announcement:1:20261109T0810Z", "started": "2026-11-09T08:10:02Z"},
            "playing": "announcement:1:20261109T0810Z", "extra": "ignored"}
    conforms(beat, "Heartbeat")
    answer = await client.post("/api/speakers/SPK1/heartbeat", json=beat, headers=auth(tokens["SPK1"]))
    assert answer.status == 200
    body = await answer.json()
    conforms(body, "HeartbeatAnswer")
    assert body == {"ok": True, "server_time": "2026-11-09T08:00:00Z"}
    async with hub.db.session() as s:
        speaker = await s.scalar(select(Speaker).where(Speaker.code == "SPK1"))
    assert speaker.last_seen_at == hub.now() and speaker.agent_status == "playing"
    assert speaker.clock_offset_seconds == -0.4 and speaker.free_disk_bytes == 123456789
    assert speaker.last_played == {"item": "announcement:1:20261109T0810Z", "started": "2026-11-09T08:10:02Z"}


async def test_plays_resent_never_count_twice(api, hub):
    client, tokens, _ = api
    batch = {"plays": [play("a-1", "playing"), play("a-2"), play("a-3", "failed", error="player exited 1")]}
    conforms(batch, "Plays")
    first = await client.post("/api/speakers/SPK1/played", json=batch, headers=auth(tokens["SPK1"]))
    assert first.status == 200
    answer = await first.json()
    conforms(answer, "PlaysAnswer")
    assert answer == {"accepted": 3, "duplicates": 0}
    # the answer was lost: the agent sends the same batch again, with a-1's outcome now known
    batch["plays"][0] = play("a-1", "played")
    again = await client.post("/api/speakers/SPK1/played", json=batch, headers=auth(tokens["SPK1"]))
    assert await again.json() == {"accepted": 0, "duplicates": 3}
    # the same client ids from another speaker are its own plays
    other = await client.post("/api/speakers/SPK2/played", json={"plays": [play("a-1")]},
                              headers=auth(tokens["SPK2"]))
    assert await other.json() == {"accepted": 1, "duplicates": 0}
    async with hub.db.session() as s:
        rows = list(await s.scalars(select(Play).order_by(Play.id)))
    assert [(r.client_id, r.result.value) for r in rows] == [
        ("a-1", "played"), ("a-2", "played"), ("a-3", "failed"), ("a-1", "played")]
    assert rows[0].ended is not None and rows[2].error == "player exited 1"


async def test_a_play_with_a_wrong_field_is_refused_whole(api, hub):
    client, tokens, _ = api
    answer = await client.post("/api/speakers/SPK1/played", headers=auth(tokens["SPK1"]),
                               json={"plays": [play("ok"), play("bad", result="skipped")]})
    assert answer.status == 400 and "plays.1.result" in (await answer.json())["error"]
    naive = play("naive")
    naive["started"] = "2026-11-09T08:10:02"
    answer = await client.post("/api/speakers/SPK1/played", headers=auth(tokens["SPK1"]), json={"plays": [naive]})
    assert answer.status == 400
    async with hub.db.session() as s:
        assert list(await s.scalars(select(Play))) == []


async def test_the_openapi_document_is_valid_and_served(api):
    client, _, _ = api
    answer = await client.get("/api/openapi.json")
    assert answer.status == 200
    document = await answer.json()
    validate_spec(document)
    assert document["openapi"].startswith("3.1")
    assert set(document["paths"]) == {
        "/api/speakers/{id}/schedule", "/api/speakers/{id}/playlist.m3u", "/audio/{clip}",
        "/api/speakers/{id}/heartbeat", "/api/speakers/{id}/played", "/api/openapi.json",
    }
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            if path != "/api/openapi.json" and "{id}" in path:
                assert {"401", "404"} <= set(operation["responses"]), (path, method)
            if method == "post":
                assert {"400", "413"} <= set(operation["responses"]), path
