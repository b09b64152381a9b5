"""A fake Telegram Bot API server on loopback, for end-to-end tests of the real Application.

It speaks the wire protocol python-telegram-bot speaks — form-encoded or multipart
parameters with nested objects as JSON strings, `{"ok": …, "result": …}` envelopes, Message
objects in replies, `getUpdates` long polling with offsets, `getFile` and file downloads,
webhooks with the secret header — and lets a test play the users: send text, photos,
voice and locations, press buttons, and inject faults (429 with retry_after, 5xx, slow
answers, dropped connections).

This module assembles the server from its parts, one concern each:
- state.py       what it remembers: calls, chats, messages, files, callback answers
- server.py      HTTP routes, request parsing, the envelope; faults.py what it injects
- updates.py     getUpdates and webhooks; messages.py, files.py, chats.py the Bot API methods
- users.py       the people a test plays; observing.py what the bot sent, and waiting for it
"""

from __future__ import annotations

from tests.fakes.chats import Chats
from tests.fakes.files import Files
from tests.fakes.messages import SEND_METHODS
from tests.fakes.observing import Observing
from tests.fakes.server import JSON_FIELDS, LIMITED_METHODS
from tests.fakes.state import ApiError, Call
from tests.fakes.telegram_limits import RateLimits
from tests.fakes.users import Users

__all__ = [
    "JSON_FIELDS", "LIMITED_METHODS", "SEND_METHODS", "ApiError", "Call", "FakeBotAPI",
    "RateLimits",
]


class FakeBotAPI(Users, Observing, Files, Chats):
    def __init__(self, bot_username: str = "gridcast_test_bot", bot_id: int = 123) -> None:
        super().__init__(bot_username=bot_username, bot_id=bot_id)
