"""`gridcast warnings list|poll|report|approve`, in-process on both databases."""

import functools
import http.server
import json
import threading

import pytest

from tests.test_cap import alert_xml


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def cap_dir(tmp_path):
    """CAP files served over HTTP on loopback from a folder, the way a publisher's site is."""
    folder = tmp_path / "site"
    folder.mkdir()
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def bind_t1(cli):
    """The demo district, with T1's group bound through the services the bot uses."""
    import asyncio

    from hub.core import Hub
    from hub.settings import load_settings
    from tests.test_warnings import district

    async def go():
        hub = await Hub.open(load_settings())
        try:
            await district(hub)
        finally:
            await hub.close()

    asyncio.run(go())


def test_poll_list_report_and_approve(cli, cap_dir, capsys):
    folder, base = cap_dir
    bind_t1(cli)
    from hub.clock import SystemClock

    clock = type("H", (), {"now": SystemClock().now})()
    (folder / "a1.xml").write_bytes(alert_xml(clock))
    (folder / "m1.xml").write_bytes(alert_xml(clock, "M1", severity="Moderate", event="化工厂异味"))
    capsys.readouterr()
    assert cli("warnings", "poll", f"{base}/a1.xml") == 0
    out = capsys.readouterr().out
    assert "\tok\tpublished #1" in out
    assert cli("warnings", "poll", f"{base}/m1.xml") == 0
    assert "pending #2" in capsys.readouterr().out

    assert cli("warnings", "list", "--json") == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(w["id"], w["status"], w["level"], w["grids"]) for w in listed] == [
        (2, "pending", "yellow", "T1"), (1, "sent", "orange", "T1")]

    assert cli("warnings", "report", "1", "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["pending"] == 2 and {c["chat_id"] for c in report["chats"]} == {-1001, -1101}

    assert cli("warnings", "approve", "2") == 0
    assert "sent to 2 chats" in capsys.readouterr().out
    assert cli("warnings", "approve", "2") == 1
    assert "已经发送过了" in capsys.readouterr().err


def test_poll_failures_are_one_line(cli, cap_dir, capsys):
    folder, base = cap_dir
    (folder / "broken.xml").write_bytes(b"<alert xmlns='urn:oasis:names:tc:emergency:cap:1.2'><x")
    assert cli("warnings", "poll") == 2
    assert "no CAP source" in capsys.readouterr().err
    assert cli("warnings", "poll", f"{base}/broken.xml") == 1
    out = capsys.readouterr().out
    assert "rejected: broken XML" in out
    assert cli("warnings", "poll", f"{base}/missing.xml") == 1
    assert "HTTP 404" in capsys.readouterr().out
    assert cli("warnings", "report", "42") == 1
    assert "没有编号为 42 的预警" in capsys.readouterr().err
