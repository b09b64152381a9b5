"""Real CAP feeds as they are: large, prefixed, Latin-1, CAP 1.1, odd links, odd shapes.

Each document is served over HTTP on loopback by tests/fakes/cap_publisher.py, shaped like
what national publishers send (fixtures in tests/data/cap/), and polled the way the
scheduler and `gridcast warnings poll` poll it.
"""

import asyncio
import os
import signal

import pytest
from sqlalchemy import select

from broadcasts.warnings import cap, cap_areas, feeds, fetch, worker
from broadcasts.warnings.models import Warning
from hub.clock import SystemClock
from tests.fakes.cap_publisher import (
    DATA,
    T1_AREA,
    CapPublisher,
    alert,
    atom,
    large_alert,
    polygon_alert,
    publisher_thread,
)
from tests.test_warnings import district
from tests.test_warnings_cli import bind_t1

FAR_AREA = ("<area><areaDesc>北京市海淀区</areaDesc>"
            "<polygon>39.9,116.3 39.9,116.4 40.0,116.4 40.0,116.3 39.9,116.3</polygon></area>")


@pytest.fixture
async def publisher(clock):
    async with CapPublisher(clock.now) as server:
        yield server


async def poll(hub, url):
    [result] = await feeds.poll_all(hub, [url], force=True)
    return result


async def stored(hub, identifier=None):
    async with hub.db.session() as s:
        query = select(Warning).order_by(Warning.id)
        if identifier is not None:
            query = query.where(Warning.identifier == identifier)
        return list(await s.scalars(query))


def outcomes(result):
    return [(d.identifier, d.outcome.outcome if d.outcome else "rejected") for d in result.documents]


# --- 12. documents are read whole, up to the limit ------------------------------------------


async def test_large_alerts_sent_in_pieces_are_read_whole(hub, publisher):
    await district(hub)
    big = publisher.put("big.xml", large_alert("BIG-880", 880_000), chunk=16_384)
    mid = publisher.put("mid.xml", large_alert("MID-450", 450_000), chunk=8_192)
    assert len(publisher.served["big.xml"].body) > 880_000
    feed = publisher.put("feed.atom", atom([(big, "application/cap+xml"), (mid, "application/cap+xml")]))
    result = await poll(hub, feed)
    assert outcomes(result) == [("BIG-880", "published"), ("MID-450", "published")], result.rejected
    assert [w.grid_codes for w in await stored(hub)] == [["T1"], ["T1"]]


async def test_a_document_over_the_limit_is_refused_with_its_reason(hub, publisher):
    await district(hub)
    huge = large_alert("HUGE", cap.MAX_DOCUMENT_BYTES + 100_000)
    declared = publisher.put("declared.xml", huge)
    counted = publisher.put("counted.xml", huge, chunk=65_536)  # chunked: no Content-Length
    result = await poll(hub, publisher.put("feed.atom", atom([(declared, None), (counted, None)])))
    first, second = result.rejected
    assert "Content-Length" in first and str(cap.MAX_DOCUMENT_BYTES) in first
    assert "counted while reading" in second
    assert await stored(hub) == []


async def test_a_feed_larger_than_any_alert_is_still_read(hub, publisher):
    await district(hub)
    a1 = publisher.put("a1.xml", alert("A1", T1_AREA))
    feed = atom([(a1, None)]).replace(b"<title>alerts 0</title>",
                                      b"<title>alerts 0</title><summary>" + b"x" * (3 << 20) + b"</summary>")
    result = await poll(hub, publisher.put("feed.atom", feed))
    assert outcomes(result) == [("A1", "published")], result.status


# --- 13. prefixes, ISO-8859-1, CAP 1.1 -------------------------------------------------------


async def test_prefixed_latin1_and_cap11_documents_are_read(hub, publisher):
    await district(hub)
    latin1 = (DATA / "latin1.xml").read_bytes()
    undeclared = latin1.split(b"?>", 1)[1].replace(b"ES-AEMET-2026-1109-0001", b"ES-AEMET-UNDECLARED")
    urls = [
        publisher.fixture("prefixed.xml"),
        publisher.fixture("latin1.xml", content_type="text/xml"),
        publisher.put("undeclared.xml", undeclared, content_type="text/xml; charset=ISO-8859-1"),
        publisher.fixture("cap11_thunderstorm.xml"),
    ]
    results = [await poll(hub, url) for url in urls]
    assert [outcomes(r) for r in results] == [
        [("2.49.0.0.156.0.PREFIXED.1", "published")], [("ES-AEMET-2026-1109-0001", "published")],
        [("ES-AEMET-UNDECLARED", "published")], [("KSTO1055887203", "published")],
    ]
    assert "CAP 1.1" in results[3].documents[0].reason
    prefixed, declared, undeclared_warning, cap11 = await stored(hub)
    assert prefixed.headline == "莆田市气象台发布暴雨橙色预警信号" and prefixed.grid_codes == ["T1"]
    assert declared.headline == undeclared_warning.headline == "Aviso naranja por lluvias en Nanyúan"
    assert "Pequeños cauces" in undeclared_warning.description
    assert cap11.grid_codes == ["T1"] and cap11.event == "SEVERE THUNDERSTORM"


def test_cap11_and_prefixed_documents_through_the_cli(cli, capsys):
    bind_t1(cli)
    with publisher_thread(SystemClock().now) as publisher:
        cap11 = publisher.fixture("cap11_thunderstorm.xml")
        prefixed = publisher.fixture("prefixed.xml")
        cap10 = publisher.put("cap10.xml", alert("OLD-1.0", T1_AREA, namespace=cap.NS_1_0))
        capsys.readouterr()
        assert cli("warnings", "poll", cap11) == 0
        out = capsys.readouterr().out
        assert "\tok\tpublished #1" in out and "CAP 1.1, read as 1.2" in out
        assert cli("warnings", "poll", prefixed) == 0
        assert "\tok\tpublished #2" in capsys.readouterr().out
        assert cli("warnings", "poll", cap10) == 1  # never silently dropped
        assert "rejected: a CAP 1.0 <alert>: only CAP 1.2 and 1.1 are read" in capsys.readouterr().out


# --- 14. entries are followed when what they link is CAP ------------------------------------


async def test_entries_are_followed_whatever_their_links_type_or_query(hub, publisher):
    await district(hub)
    publisher.put("alerts/text.xml", alert("L-TEXT", T1_AREA), content_type="text/xml")
    publisher.put("page.html", b"<!DOCTYPE html><html><body>Alerts</body></html>", content_type="text/html")
    publisher.put("alerts/application", alert("L-APP", T1_AREA), content_type="application/xml")
    publisher.put("alerts/untyped", alert("L-UNTYPED", T1_AREA), content_type=None)
    publisher.put("alert.php?id=2.49.0.1.4&fmt=cap", alert("L-QUERY", T1_AREA), content_type="text/plain")
    result = await poll(hub, publisher.fixture("feed_link_types.atom"))
    assert outcomes(result) == [("L-TEXT", "published"), ("L-APP", "published"),
                                ("L-UNTYPED", "published"), ("L-QUERY", "published")], result.rejected
    assert result.summary == ""


def test_a_feed_whose_entries_link_no_cap_says_why(cli, capsys):
    with publisher_thread(SystemClock().now) as publisher:
        for n in (1, 2, 3):
            publisher.put(f"page.html?w={n}", b"<html><body>Flood</body></html>", content_type="text/html")
        feed = publisher.fixture("feed_no_cap.rss")
        capsys.readouterr()
        assert cli("warnings", "poll", feed) == 1
    out = capsys.readouterr().out
    assert "no alerts — 3 entries, none linked a CAP alert" in out
    assert "text/html, not a CAP alert" in out


# --- 15. shapes, limits, and one bad document among good ones -------------------------------


async def test_a_circle_of_radius_zero_hits_the_grid_that_holds_it(hub, publisher):
    await district(hub)
    result = await poll(hub, publisher.fixture("earthquake_radius0.xml"))
    assert outcomes(result) == [("TRI13970876.2", "pending")]  # Minor: the rules ask staff
    [warning] = await stored(hub)
    assert warning.grid_codes == ["T1"] and warning.geometry["circles"] == [[25.4253, 119.0047, 0.0]]


async def test_empty_and_flat_polygons_are_skipped_with_a_note(hub, publisher):
    await district(hub)
    result = await poll(hub, publisher.fixture("degenerate_polygons.xml"))
    assert outcomes(result) == [("DEGENERATE-1", "published")], result.rejected
    reason = result.documents[0].reason
    assert "'Nanyuan riverside': an empty <polygon> was skipped" in reason
    assert "'Nanyuan riverside': a <polygon> with no area (its points on one line) was skipped" in reason
    assert "'Dongyan hills': an empty <polygon> was skipped" in reason
    [warning] = await stored(hub)
    assert warning.grid_codes == ["T1"] and len(warning.geometry["polygons"]) == 1


async def test_limits_and_non_finite_numbers_are_refused_and_the_feed_goes_on(hub, publisher):
    await district(hub)
    too_many_points = polygon_alert("POINTS", cap_areas.MAX_POLYGON_POINTS + 1)
    too_many_areas = alert("AREAS", "<area><areaDesc>x</areaDesc></area>" * (cap.MAX_AREAS + 1))
    too_many_shapes = alert("SHAPES", "<area><areaDesc>circles</areaDesc>"
                            + "<circle>25.425,119.005 1</circle>" * (cap.MAX_SHAPES_PER_AREA + 1) + "</area>")
    infinite = alert("INF", "<area><areaDesc>inf</areaDesc><polygon>25.42,119.0 25.43,inf 25.43,119.01 "
                            "25.42,119.0</polygon></area>")
    entries = [
        (publisher.put("points.xml", too_many_points), None),
        (publisher.put("areas.xml", too_many_areas), None),
        (publisher.put("shapes.xml", too_many_shapes), None),
        (publisher.fixture("nonfinite.xml"), None),
        (publisher.put("inf.xml", infinite), None),
        (publisher.put("good.xml", alert("GOOD", T1_AREA)), None),
    ]
    result = await poll(hub, publisher.put("feed.atom", atom(entries)))
    assert outcomes(result)[-1] == ("GOOD", "published")
    points, areas, shapes, nan, inf = result.rejected
    assert f"more than the {cap_areas.MAX_POLYGON_POINTS} read" in points
    assert f"{cap.MAX_AREAS + 1} <area> blocks, more than the {cap.MAX_AREAS} read" in areas
    assert f"more than the {cap.MAX_SHAPES_PER_AREA} read" in shapes
    assert "radius that is not a finite number" in nan
    assert "not a finite number" in inf
    assert [w.identifier for w in await stored(hub)] == ["GOOD"]


async def test_parsing_and_geometry_run_in_another_process(hub, publisher, monkeypatch):
    """Not only off the loop but off its process: no GIL shared with the bot and web server."""
    await district(hub)
    sent = []
    real = worker.run

    async def recording(fn, *args, **kwargs):
        sent.append(fn.__name__)
        return await real(fn, *args, **kwargs)

    monkeypatch.setattr(worker, "run", recording)
    result = await poll(hub, publisher.put("p.xml", polygon_alert("P2000", 2_000)))
    assert outcomes(result) == [("P2000", "published")]
    assert {"read", "_covered_by_shapes", "stored"} <= set(sent)
    assert await real(os.getpid) != os.getpid()


async def test_a_polygon_comes_back_from_the_cap_process_as_one_array_and_a_dead_worker_is_replaced(publisher):
    document = publisher.fill(polygon_alert("P20000", 20_000))
    alert = await worker.run(cap.read, document)
    [ring] = alert.infos[0].areas[0].polygons
    assert ring.shape[1] == 2 and ring.shape[0] >= 20_000
    assert ring.tolist() == [list(p) for p in cap.parse(document).infos[0].areas[0].polygons[0]]
    os.kill(await worker.run(os.getpid), signal.SIGKILL)
    await asyncio.sleep(0.2)
    assert (await worker.run(cap.read, document)).identifier == "P20000"


async def test_a_document_that_breaks_storing_does_not_stop_the_feed(hub, publisher, monkeypatch):
    await district(hub)
    real = feeds.ingest

    async def flaky(session, hub_, parsed):
        if parsed.identifier == "BOOM":
            raise RuntimeError("the database went away")
        return await real(session, hub_, parsed)

    monkeypatch.setattr(feeds, "ingest", flaky)
    entries = [(publisher.put(f"{n}.xml", alert(n, T1_AREA)), None) for n in ("BOOM", "AFTER")]
    result = await poll(hub, publisher.put("feed.atom", atom(entries)))
    assert outcomes(result) == [("BOOM", "rejected"), ("AFTER", "published")]
    assert result.rejected == ["could not be stored (RuntimeError)"]


# --- 16. the info block in the hub's language, then English, then the first -----------------


async def test_the_info_in_the_hubs_language_then_english_then_the_first(hub, publisher, monkeypatch):
    await district(hub)
    three = (DATA / "multilingual.xml").read_bytes()
    blocks = three.split(b"\n  <info>")  # the header, then es-ES, en-US, zh-CN
    no_chinese = b"\n  <info>".join(blocks[:3]).replace(b"ML-2026-0042", b"ML-NO-ZH") + b"</alert>"
    traditional_first = three.replace(b"ML-2026-0042", b"ML-HANT").replace(
        b"<language>es-ES</language>", b"<language>zh-TW</language>")
    for name, body in (("three.xml", three), ("no-zh.xml", no_chinese), ("hant.xml", traditional_first)):
        result = await poll(hub, publisher.put(name, body))
        assert [o.outcome for o in result.outcomes] == ["published"], result.rejected
    assert [(w.language, w.headline) for w in await stored(hub)] == [
        ("zh-CN", "雷电预警"), ("en-US", "Thunderstorm warning"), ("zh-CN", "雷电预警")]
    monkeypatch.setattr(hub.settings, "default_language", "zh-Hant")
    result = await poll(hub, publisher.put("hant2.xml", traditional_first.replace(b"ML-HANT", b"ML-HANT-2")))
    assert [o.outcome for o in result.outcomes] == ["published"]
    assert (await stored(hub, "ML-HANT-2"))[0].language == "zh-TW"


# --- 17. `warnings poll` says why, beside every outcome -------------------------------------


def test_warnings_poll_prints_the_reason_beside_every_outcome(cli, capsys):
    bind_t1(cli)
    with publisher_thread(SystemClock().now) as publisher:
        entries = [
            (publisher.put("far.xml", alert("FAR", FAR_AREA)), None),
            (publisher.put("a1.xml", a1 := publisher.fill(alert("A1", T1_AREA))), None),
            (publisher.put("a1-again.xml", a1), None),  # the same alert, read again
            (publisher.put("moderate.xml", alert("MOD", T1_AREA, severity="Moderate", event="Fog")), None),
            (publisher.put("old.xml", alert("OLD", T1_AREA).replace(b"EXPIRES_TIME", b"2020-01-01T00:00:00+00:00")),
             None),
            (publisher.put("broken.xml", b"<alert xmlns='urn:oasis:names:tc:emergency:cap:1.2'><ident"), None),
        ]
        feed = publisher.put("feed.atom", atom(entries))
        capsys.readouterr()
        assert cli("warnings", "poll", feed) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("\tok\toutside, published #1, duplicate, pending #2, expired")
    assert lines[1].startswith("  outside: FAR — outside every grid of this hub: 北京市海淀区")
    assert lines[2].startswith("  published #1: A1 — published to its grids' chats")
    assert lines[3].startswith("  duplicate: A1 — already read (same sender, identifier and sent)")
    assert lines[4].startswith("  pending #2: MOD — held for staff approval (rule default)")
    assert lines[5].startswith("  expired: OLD — expired 2020-01-01")
    assert lines[6].startswith("  rejected: broken XML: ") and lines[6].endswith("/broken.xml>")


# --- 18. where a feed may send the hub ------------------------------------------------------


async def test_entry_links_to_other_hosts_are_refused_unless_listed(hub, publisher, monkeypatch):
    await district(hub)
    other_host = f"http://localhost:{publisher.port}"  # the same server under another name
    publisher.put("a1.xml", alert("A1", T1_AREA))
    publisher.put("moved.xml", b"", redirect=f"{other_host}/a1.xml")
    publisher.put("inside.xml", b"", redirect=f"{publisher.base}/a2.xml")
    publisher.put("a2.xml", alert("A2", T1_AREA))
    feed = publisher.put("feed.atom", atom([(f"{other_host}/a1.xml", None), (f"{publisher.base}/moved.xml", None),
                                            (f"{publisher.base}/inside.xml", None)]))
    result = await poll(hub, feed)
    assert outcomes(result) == [(None, "rejected"), (None, "rejected"), ("A2", "published")]
    direct, redirected = result.rejected
    assert direct == "links to 'localhost', not the feed's own host nor listed in GRIDCAST_CAP_LINK_HOSTS"
    assert redirected == "redirected to 'localhost', not the feed's own host nor listed in GRIDCAST_CAP_LINK_HOSTS"
    assert "a1.xml" not in publisher.requests  # neither link nor redirect reached it

    monkeypatch.setattr(hub.settings, "cap_link_hosts", "localhost, cap.example.org")
    result = await poll(hub, feed)
    assert outcomes(result) == [("A1", "published"), ("A1", "duplicate"), ("A2", "duplicate")]


async def test_a_public_feed_cannot_make_the_hub_fetch_private_addresses(hub, publisher, monkeypatch):
    await district(hub)
    publisher.put("a1.xml", alert("A1", T1_AREA))
    feed_url = "http://cap.example.org/feed.atom"
    feed = atom([("http://169.254.169.254/latest/meta-data/", None), (f"{publisher.base}/a1.xml", None),
                 ("http://cap.example.org/a1.xml", None)])
    addresses = {"cap.example.org": ["93.184.216.34"]}
    asked: list[str] = []

    async def resolve(host):
        return addresses[host]

    async def request(client, url, headers, limit):  # the network, for the public host only
        asked.append(url)
        if url == feed_url:
            return fetch.Fetched(url, 200, feed, fetch.CIMultiDict({"Content-Type": "application/atom+xml"}))
        if url == "http://cap.example.org/a1.xml":  # now the name answers with a private address
            addresses["cap.example.org"] = ["10.0.0.7"]
            return fetch.Fetched(url, 302, b"", fetch.CIMultiDict({"Location": "http://cap.example.org/b"}))
        raise AssertionError(f"the hub asked for {url}")

    monkeypatch.setattr(fetch, "resolve", resolve)
    monkeypatch.setattr(fetch, "request", request)
    result = await poll(hub, feed_url)
    metadata, loopback, rebound = result.rejected
    assert metadata == "links to '169.254.169.254' at 169.254.169.254, a link-local address, and the feed is not on one"
    assert loopback == "links to '127.0.0.1' at 127.0.0.1, a loopback address, and the feed is not on one"
    assert rebound == "redirected to 'cap.example.org' at 10.0.0.7, a private address, and the feed is not on one"
    assert asked == [feed_url, "http://cap.example.org/a1.xml"] and publisher.requests == []
    assert await stored(hub) == []


def test_link_hosts_setting_is_read_as_host_names():
    assert fetch.link_hosts(" CAP.example.org, https://alerts.example.net:8443/feed ,, ") == {
        "cap.example.org", "alerts.example.net"}
    assert fetch.address_kind("::ffff:127.0.0.1") == "loopback"
    assert fetch.address_kind("fe80::1") == "link-local" and fetch.address_kind("192.168.1.2") == "private"
