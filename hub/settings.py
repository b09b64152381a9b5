"""Configuration from `GRIDCAST_*` variables or a `.env` file.

A configuration mistake must end in one readable line that names the variable, never a
traceback: the people who deploy gridcast are street-office IT staff, not Python developers.
"""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

ENV_PREFIX = "GRIDCAST_"
_TOKEN_RE = re.compile(r"^\d+:[A-Za-z0-9_-]+$")
_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}


class ConfigError(Exception):
    """A setting is wrong; the message is one line meant for the operator."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    data_dir: Path = Path("./var")
    # Rendered clips and speech segments, each file named by the hash of all that shapes it,
    # so hub processes (or a test session) can share one cache; default `<data dir>/audio`.
    audio_cache_dir: Path | None = None
    database_url: str | None = None
    content_dir: Path | None = None  # a county's own content (hub.content)
    telegram_token: SecretStr | None = None
    telegram_api_url: str | None = None
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=1, le=65535)
    # The hub's address as feeds, speakers and links name it; never a request's Host header.
    public_url: str = ""  # "" = http://<http_host>:<http_port>
    timezone: str = "Asia/Shanghai"
    tts_engine: Literal["espeak", "gtts"] = "espeak"
    cap_feeds: str | None = None
    cap_link_hosts: str | None = None  # hosts besides a feed's own that its entries may link
    cap_poll_seconds: int = Field(default=300, ge=120)  # CAP publishers ask for no more
    default_language: Literal["zh-Hans", "zh-Hant", "en"] = "zh-Hans"
    report_limit_per_hour: int = Field(default=10, ge=1)
    open_question_limit: int = Field(default=5, ge=1)  # a resident's unanswered questions of a day
    secret_key: SecretStr | None = None  # else generated once into the data dir (hub.secret)
    send_per_second: int = Field(default=30, ge=1, le=1000)
    send_per_group_minute: int = Field(default=20, ge=1, le=1000)
    send_concurrency: int = Field(default=8, ge=1, le=256)
    send_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    outbox_lease_seconds: int = Field(default=60, ge=1, le=3600)
    warning_hours: int = Field(default=24, ge=1, le=24 * 14)
    cap_sender: str = Field(default="gridcast@localhost", min_length=1, max_length=255)
    # Loudspeakers: how often agents poll (an urgent warning reaches a speaker within one poll),
    # how long a silent speaker may stay silent before its workers hear of it, and how far
    # ahead a schedule reaches (what a speaker plays on when the hub is down).
    speaker_poll_seconds: int = Field(default=15, ge=5, le=600)
    speaker_offline_minutes: int = Field(default=10, ge=1, le=24 * 60)
    speaker_horizon_hours: int = Field(default=24, ge=1, le=72)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        try:
            url = make_url(value)
        except ArgumentError:
            raise ValueError(
                "not a database URL (expected sqlite+aiosqlite:///path or "
                "postgresql+asyncpg://user@host/db)"
            ) from None
        backend = url.get_backend_name()
        if backend not in _ASYNC_DRIVERS:
            raise ValueError(f"unsupported database {backend!r} (use sqlite or postgresql)")
        if backend == "postgresql" and not url.database:
            raise ValueError("the PostgreSQL URL names no database")
        return url.set(drivername=_ASYNC_DRIVERS[backend]).render_as_string(hide_password=False)

    @field_validator("content_dir", mode="before")
    @classmethod
    def _content_dir(cls, value: object) -> Path | None:
        if value is None or value == "":
            return None
        path = Path(str(value)).expanduser()
        if not path.is_dir():
            raise ValueError(f"not an existing directory: {str(value)!r}")
        return path.resolve()

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (e.g. Asia/Shanghai)") from None
        return value

    @field_validator("telegram_token")
    @classmethod
    def _token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        if not _TOKEN_RE.match(value.get_secret_value()):
            raise ValueError("does not look like a bot token (digits:letters, from @BotFather)")
        return value

    @field_validator("telegram_api_url", "webhook_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"not an http(s) URL: {value!r}")
        return value.rstrip("/")

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        if not value:
            return ""
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 - raises on a port out of range
        except ValueError:
            raise ValueError(f"not an http(s) URL: {value!r}") from None
        if parts.scheme not in ("http", "https") or not parts.hostname or re.search(r"[\x00-\x20\x7f]", value):
            raise ValueError(f"not an http(s) URL: {value!r}")
        if parts.query or parts.fragment or value.endswith(("?", "#")):
            raise ValueError(f"must have no query or fragment: {value!r}")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _public_url_default(self) -> Settings:
        if not self.public_url:
            host = f"[{self.http_host}]" if ":" in self.http_host else self.http_host
            self.public_url = f"http://{host}:{self.http_port}"
        return self

    @field_validator("webhook_secret")
    @classmethod
    def _secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        if not _SECRET_RE.match(value.get_secret_value()):
            raise ValueError("must be 1-256 characters of A-Z, a-z, 0-9, _ and -")
        return value

    @field_validator("secret_key")
    @classmethod
    def _secret_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        if len(value.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters (e.g. the output of `openssl rand -hex 32`)")
        return value

    @model_validator(mode="after")
    def _webhook_needs_secret(self) -> Settings:
        if self.webhook_url and self.webhook_secret is None:
            raise ValueError(
                "GRIDCAST_WEBHOOK_SECRET: required when GRIDCAST_WEBHOOK_URL is set"
            )
        return self

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def db_url(self) -> str:
        """The async URL actually used: the SQLite file in the data dir unless one is given."""
        if self.database_url:
            return self.database_url
        return URL.create("sqlite+aiosqlite", database=str(self.data_dir / "gridcast.db")).render_as_string()

    @property
    def token(self) -> str | None:
        return self.telegram_token.get_secret_value() if self.telegram_token else None

    @property
    def cap_feed_urls(self) -> list[str]:
        return [u.strip() for u in (self.cap_feeds or "").split(",") if u.strip()]


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    loc = first.get("loc") or ()
    message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    if not loc:
        return message
    name = f"{ENV_PREFIX}{str(loc[0]).upper()}"
    value = first.get("input")
    shown = "" if "secret" in name.lower() or "token" in name.lower() else f" (got {value!r})"
    if first.get("type") in {"literal_error", "int_parsing", "greater_than_equal", "less_than_equal"}:
        return f"{name}: {message}{shown}"
    return f"{name}: {message}"


def load_settings(**overrides: object) -> Settings:
    """Read and validate the settings, turning pydantic's report into one line."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        raise ConfigError(_describe(error)) from None
