"""Logging set-up, with the bot token and other secrets scrubbed from every line.

httpx logs each request URL, and a Telegram URL carries the token; so the token is masked
in whatever reaches a handler, not just where we remember to leave it out.
"""

from __future__ import annotations

import logging
import sys

from hub.settings import Settings

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class RedactSecrets(logging.Filter):
    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        redacted = message
        for secret in self.secrets:
            redacted = redacted.replace(secret, "***")
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def setup_logging(settings: Settings) -> None:
    secrets = [settings.token or ""]
    if settings.webhook_secret:
        secrets.append(settings.webhook_secret.get_secret_value())
    if settings.session_secret:
        secrets.append(settings.session_secret.get_secret_value())
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(_FORMAT))
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    for noisy in ("httpx", "httpcore", "apscheduler.executors.default", "aiohttp.access", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
