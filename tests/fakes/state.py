"""What the fake Bot API remembers: the calls it answered, chats, messages, files, answers.

Every part of the fake (the server, the methods, the simulated users) reads and writes this
one state, so a test can look at exactly what Telegram would hold: a message the bot edited
is edited here, a file a user sent can be downloaded by its file_id.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    files: dict[str, bytes]
    result: Any = None
    error: dict[str, Any] | None = None
    at: float = field(default_factory=time.monotonic)

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def chat_id(self) -> int | None:
        value = self.params.get("chat_id")
        return int(value) if value is not None and str(value).lstrip("-").isdigit() else None


class ApiError(Exception):
    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.code, self.description, self.parameters = code, description, parameters


def telegram_user(user_id: int, first_name: str = "用户", *, language_code: str | None = "zh-hans",
                  username: str | None = None, last_name: str | None = None) -> dict[str, Any]:
    """A Telegram User object, as a person (not a bot) appears in updates and answers."""
    user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
    if language_code:
        user["language_code"] = language_code
    if username:
        user["username"] = username
    if last_name:
        user["last_name"] = last_name
    return user


class BotState:
    def __init__(self, *, bot_username: str, bot_id: int) -> None:
        self.bot_user = {
            "id": bot_id, "is_bot": True, "first_name": "gridcast", "username": bot_username,
            "can_join_groups": True, "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self.calls: list[Call] = []
        self.chats: dict[int, dict[str, Any]] = {}
        self.messages: dict[int, dict[int, dict[str, Any]]] = defaultdict(dict)
        self.files: dict[str, tuple[bytes, str]] = {}
        self.callback_answers: dict[str, dict[str, Any]] = {}
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.blocked: set[int] = set()
        self.migrated: dict[int, int] = {}
        self._next_message: dict[int, int] = defaultdict(lambda: 1)
        self._next_file = 1
        self._new_call = asyncio.Event()

    def _require(self, p: dict[str, Any], *names: str) -> None:
        for name in names:
            if p.get(name) in (None, ""):
                raise ApiError(400, f"Bad Request: {name} is empty")

    def _chat(self, chat_id: int) -> dict[str, Any]:
        if chat_id in self.migrated:
            raise ApiError(400, "Bad Request: group chat was upgraded to a supergroup chat",
                           {"migrate_to_chat_id": self.migrated[chat_id]})
        if chat_id in self.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if chat_id not in self.chats:
            if chat_id > 0:
                self.chats[chat_id] = {"id": chat_id, "type": "private", "first_name": "用户"}
            else:
                self.chats[chat_id] = {"id": chat_id, "type": "supergroup", "title": "群"}
        return self.chats[chat_id]

    def _store_message(self, chat: dict[str, Any], sender: dict[str, Any], **content: Any) -> dict[str, Any]:
        message_id = self._next_message[chat["id"]]
        self._next_message[chat["id"]] += 1
        message = {"message_id": message_id, "date": int(time.time()), "chat": chat, "from": sender}
        message.update({k: v for k, v in content.items() if v is not None})
        self.messages[chat["id"]][message_id] = message
        return message

    def _reply_to(self, chat: dict[str, Any], reply_to: int | None) -> dict[str, Any] | None:
        if reply_to is None:
            return None
        original = self.messages[chat["id"]].get(reply_to)
        return {k: v for k, v in original.items() if k != "reply_to_message"} if original else None

    def _new_file(self, data: bytes, folder: str, suffix: str) -> tuple[str, str]:
        file_id = f"F{self._next_file:06d}{hashlib.sha1(data).hexdigest()[:12]}"
        path = f"{folder}/file_{self._next_file}.{suffix}"
        self._next_file += 1
        self.files[file_id] = (data, path)
        return file_id, path

    def _photo_sizes(self, data: bytes) -> list[dict[str, Any]]:
        width = height = 0
        with contextlib.suppress(Exception):
            from PIL import Image

            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
        file_id, _ = self._new_file(data, "photos", "jpg")
        unique = hashlib.sha1(data).hexdigest()[:16]
        return [
            {"file_id": file_id, "file_unique_id": unique, "width": width, "height": height,
             "file_size": len(data)},
        ]
