"""The CLI in-process: each command is one service call and its answer."""

import json

from cli.main import main


def test_grids_and_people_round_trip(cli, capsys):
    assert cli("grids", "add", "D1", "--name", "城厢区") == 0
    assert cli("grids", "add", "S1", "--name", "南苑街道", "--parent", "D1") == 0
    assert cli("grids", "add", "T1", "--name", "南苑社区第一网格", "--parent", "S1", "--level", "grid") == 0
    assert cli("people", "add", "--telegram-id", "5001", "--name", "王芳", "--role", "worker", "--grid", "T1") == 0
    capsys.readouterr()
    assert cli("grids", "list", "--json") == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(g["code"], g["level"]) for g in listed] == [("D1", "district"), ("S1", "street"), ("T1", "grid")]
    assert cli("people", "list", "--json", "--role", "worker") == 0
    assert json.loads(capsys.readouterr().out) == [
        {"telegram_id": 5001, "name": "王芳", "role": "worker", "grid": "T1", "language": None}
    ]


def test_import_file_and_refusals_are_one_line(cli, tmp_path, capsys):
    (tmp_path / "grids.csv").write_text("code,name,parent\nD1,城厢区,\nS1,南苑街道,D1\n", encoding="utf-8")
    assert cli("grids", "import", "grids.csv") == 0
    assert "imported 2 grids" in capsys.readouterr().out
    assert cli("grids", "add", "X1", "--name", "x", "--parent", "NOPE") == 1
    assert capsys.readouterr().err.strip() == "gridcast: 没有编号为 NOPE 的网格。"
    assert cli("grids", "import", "missing.csv") == 2
    assert capsys.readouterr().err.startswith("gridcast: cannot read missing.csv")


def test_set_password_reads_it_twice(cli, capsys):
    cli("demo")
    assert cli("people", "set-password", "--telegram-id", "5901", stdin="a long passphrase\na long passphrase\n") == 0
    assert cli("people", "set-password", "--telegram-id", "5901", stdin="a long passphrase\ndifferent one here\n") == 2
    assert "differ" in capsys.readouterr().err


def test_demo_is_idempotent(cli, capsys):
    assert cli("demo") == 0
    assert cli("demo") == 0
    capsys.readouterr()
    cli("grids", "list", "--json")
    assert len(json.loads(capsys.readouterr().out)) == 8
    cli("people", "list", "--json")
    assert len(json.loads(capsys.readouterr().out)) == 9


def test_db_upgrade_reports_head(cli, capsys):
    from hub.migrate import head_revision

    assert cli("db", "upgrade") == 0
    assert capsys.readouterr().out.strip() == f"database at revision {head_revision()}"


def test_unreachable_database_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GRIDCAST_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("GRIDCAST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:1/none")
    assert main(["grids", "list"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("gridcast: cannot reach the database") and "\n" not in err


def test_ask_json_contract(cli, capsys):
    assert cli("ask", "--json", "油锅起火了怎么灭") == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) == {"answered", "answer", "entry_id", "score"}
    assert result["answered"] is True and result["entry_id"] and 0 < result["score"] <= 1
    assert cli("ask", "--json", "--lang", "en", "what is the price of bitcoin today") == 1
    declined = json.loads(capsys.readouterr().out)
    assert declined["answered"] is False and declined["entry_id"] is None and declined["answer"] == ""
