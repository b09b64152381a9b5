"""Logging set-up, with the bot token and other secrets scrubbed from every line.

httpx logs each request URL, and a Telegram URL carries the token; an exception's text and
its traceback may carry it too (a failed request names its URL). So the whole formatted
record — message, exception and stack — is scrubbed, not just the places we remember, and
an exception nothing caught is logged through the same handler.
"""

from __future__ import annotations

import logging
import sys
from types import TracebackType

from hub.settings import Settings

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
MASK = "***"


class RedactingFormatter(logging.Formatter):
    """Formats as usual, then masks every secret anywhere in the result."""

    def __init__(self, secrets: list[str], fmt: str = _FORMAT) -> None:
        super().__init__(fmt)
        # Longest first, so a secret that contains another is masked whole.
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return text

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(super().format(record))


def secrets_of(settings: Settings) -> list[str]:
    secrets = [settings.token or ""]
    for secret in (settings.webhook_secret, settings.secret_key):
        if secret is not None:
            secrets.append(secret.get_secret_value())
    return secrets


def setup_logging(settings: Settings) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter(secrets_of(settings)))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    for noisy in ("httpx", "httpcore", "apscheduler.executors.default", "aiohttp.access", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    sys.excepthook = _log_uncaught


def _log_uncaught(
    kind: type[BaseException], error: BaseException, trace: TracebackType | None
) -> None:
    """Python's default hook prints the traceback unscrubbed; ours goes through the handler."""
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, error, trace)
        return
    logging.getLogger("gridcast").critical("uncaught exception", exc_info=(kind, error, trace))
