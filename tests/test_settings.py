import subprocess
import sys

import pytest

from hub.settings import ConfigError, load_settings

BAD = [
    ("GRIDCAST_DATABASE_URL", "not a url at all", "GRIDCAST_DATABASE_URL: not a database URL"),
    ("GRIDCAST_DATABASE_URL", "mysql://root@localhost/x", "GRIDCAST_DATABASE_URL: unsupported database 'mysql'"),
    ("GRIDCAST_DATABASE_URL", "postgresql://u@h", "GRIDCAST_DATABASE_URL: the PostgreSQL URL names no database"),
    ("GRIDCAST_TTS_ENGINE", "festival", "GRIDCAST_TTS_ENGINE:"),
    ("GRIDCAST_TIMEZONE", "Asia/Atlantis", "GRIDCAST_TIMEZONE: unknown time zone 'Asia/Atlantis'"),
    ("GRIDCAST_HTTP_PORT", "70000", "GRIDCAST_HTTP_PORT:"),
    ("GRIDCAST_HTTP_PORT", "eighty", "GRIDCAST_HTTP_PORT:"),
    ("GRIDCAST_TELEGRAM_TOKEN", "not-a-token", "GRIDCAST_TELEGRAM_TOKEN: does not look like a bot token"),
    ("GRIDCAST_WEBHOOK_URL", "https://hub.example.org/telegram/webhook", "GRIDCAST_WEBHOOK_SECRET: required"),
    ("GRIDCAST_CAP_POLL_SECONDS", "30", "GRIDCAST_CAP_POLL_SECONDS: Input should be greater than or equal to 120"),
    ("GRIDCAST_SEND_PER_SECOND", "0", "GRIDCAST_SEND_PER_SECOND:"),
]


@pytest.mark.parametrize(("name", "value", "expected"), BAD)
def test_bad_setting_is_one_line_naming_the_variable(monkeypatch, name, value, expected):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as raised:
        load_settings(_env_file=None)
    message = str(raised.value)
    assert message.startswith(expected)
    assert "\n" not in message


def test_secret_values_are_not_echoed(monkeypatch):
    monkeypatch.setenv("GRIDCAST_TELEGRAM_TOKEN", "hunter2hunter2")
    with pytest.raises(ConfigError) as raised:
        load_settings(_env_file=None)
    assert "hunter2" not in str(raised.value)


def test_defaults_are_embedded(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = load_settings(_env_file=None)
    assert settings.db_url.startswith("sqlite+aiosqlite:///")
    assert settings.db_url.endswith("var/gridcast.db")
    assert settings.tts_engine == "espeak"
    assert settings.token is None
    assert (settings.http_host, settings.http_port) == ("127.0.0.1", 8080)
    assert str(settings.tz) == "Asia/Shanghai"


def test_plain_postgres_url_gets_the_async_driver(monkeypatch):
    monkeypatch.setenv("GRIDCAST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    assert load_settings(_env_file=None).db_url == "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


def test_dotenv_file_is_read(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("GRIDCAST_TIMEZONE=Asia/Hong_Kong\nGRIDCAST_HTTP_PORT=9090\n")
    settings = load_settings()
    assert (settings.timezone, settings.http_port) == ("Asia/Hong_Kong", 9090)


@pytest.mark.parametrize(("name", "value"), [("GRIDCAST_TIMEZONE", "Nowhere/Land"), ("GRIDCAST_DATABASE_URL", "::")])
def test_cli_exits_with_one_line_and_no_traceback(tmp_path, name, value):
    env = {"PATH": "/usr/bin:/bin", name: value, "GRIDCAST_DATA_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "cli", "grids", "list"],
        env=env, capture_output=True, text=True, cwd=tmp_path, timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"gridcast: configuration error: {name}:")
    assert "Traceback" not in result.stderr
