"""Domain errors that a transport turns into a message for the person who caused them.

Each carries a message key from `content/templates` plus its parameters, so the bot, the
dashboard and the CLI can all say it in the person's language.
"""

from __future__ import annotations

from typing import Any


class HubError(Exception):
    key = "error.generic"

    def __init__(self, key: str | None = None, **params: Any) -> None:
        self.key = key or self.key
        self.params = params
        super().__init__(f"{self.key} {params}" if params else self.key)


class PermissionDenied(HubError):
    key = "error.permission"


class NotFound(HubError):
    key = "error.not_found"


class InvalidInput(HubError):
    key = "error.invalid"


class Conflict(HubError):
    key = "error.conflict"


class ContentError(Exception):
    """A file under content/ is invalid; the message names the file and the field."""
