"""The people on the other side, played by a test: they write, send photos, voice, files and
places, press buttons, block the bot; groups get migrated to supergroups.

Each action is stored as Telegram would store the message and queued as an update for the
bot (tests/fakes/updates.py), with the entities Telegram adds (a leading /command).
"""

from __future__ import annotations

from typing import Any

from tests.fakes.state import telegram_user
from tests.fakes.updates import Updates


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _command_entities(text: str | None) -> list[dict[str, Any]]:
    if not text or not text.startswith("/"):
        return []
    command = text.split(maxsplit=1)[0]
    return [{"type": "bot_command", "offset": 0, "length": _utf16_len(command)}]


class Users(Updates):
    user = staticmethod(telegram_user)

    def private(self, user: dict[str, Any]) -> dict[str, Any]:
        chat = {"id": user["id"], "type": "private", "first_name": user["first_name"]}
        self.chats[user["id"]] = chat
        return chat

    def group(self, chat_id: int, title: str = "网格群", kind: str = "supergroup") -> dict[str, Any]:
        chat = {"id": chat_id, "type": kind, "title": title}
        self.chats[chat_id] = chat
        return chat

    def send_message(self, chat: dict[str, Any], user: dict[str, Any], text: str,
                     reply_to: int | None = None) -> dict[str, Any]:
        message = self._store_message(
            chat, user, text=text, entities=_command_entities(text) or None,
            reply_to_message=self._reply_to(chat, reply_to),
        )
        return self._queue({"message": message})

    def send_photo(self, chat: dict[str, Any], user: dict[str, Any], data: bytes,
                   caption: str | None = None) -> dict[str, Any]:
        message = self._store_message(
            chat, user, photo=self._photo_sizes(data), caption=caption,
            caption_entities=_command_entities(caption) or None,
        )
        return self._queue({"message": message})

    def send_document(self, chat: dict[str, Any], user: dict[str, Any], data: bytes,
                      file_name: str, mime_type: str, caption: str | None = None,
                      reply_to: int | None = None) -> dict[str, Any]:
        file_id, _ = self._new_file(data, "documents", file_name.rsplit(".", 1)[-1])
        document = {"file_id": file_id, "file_unique_id": file_id[-12:], "file_name": file_name,
                    "mime_type": mime_type, "file_size": len(data)}
        message = self._store_message(chat, user, document=document, caption=caption,
                                      caption_entities=_command_entities(caption) or None,
                                      reply_to_message=self._reply_to(chat, reply_to))
        return self._queue({"message": message})

    def send_audio(self, chat: dict[str, Any], user: dict[str, Any], data: bytes, duration: int,
                   file_name: str, mime_type: str, reply_to: int | None = None) -> dict[str, Any]:
        """A music/audio file (Message.audio), as phones send recordings made outside Telegram."""
        file_id, _ = self._new_file(data, "music", file_name.rsplit(".", 1)[-1])
        audio = {"file_id": file_id, "file_unique_id": file_id[-12:], "duration": duration,
                 "file_name": file_name, "mime_type": mime_type, "file_size": len(data)}
        message = self._store_message(chat, user, audio=audio,
                                      reply_to_message=self._reply_to(chat, reply_to))
        return self._queue({"message": message})

    def send_voice(self, chat: dict[str, Any], user: dict[str, Any], data: bytes, duration: int,
                   mime_type: str = "audio/ogg", reply_to: int | None = None) -> dict[str, Any]:
        file_id, _ = self._new_file(data, "voice", "oga")
        voice = {"file_id": file_id, "file_unique_id": file_id[-12:], "duration": duration,
                 "mime_type": mime_type, "file_size": len(data)}
        message = self._store_message(chat, user, voice=voice,
                                      reply_to_message=self._reply_to(chat, reply_to))
        return self._queue({"message": message})

    def send_location(self, chat: dict[str, Any], user: dict[str, Any], latitude: float,
                      longitude: float) -> dict[str, Any]:
        message = self._store_message(chat, user, location={"latitude": latitude, "longitude": longitude})
        return self._queue({"message": message})

    def press_button(self, chat: dict[str, Any], user: dict[str, Any], message_id: int,
                     data: str) -> str:
        message = self.messages[chat["id"]][message_id]
        query_id = f"Q{self._next_update}"
        self._queue({"callback_query": {
            "id": query_id, "from": user, "message": message, "chat_instance": str(chat["id"]),
            "data": data,
        }})
        return query_id

    def block(self, chat_id: int) -> None:
        self.blocked.add(chat_id)

    def migrate_group(self, old_id: int, new_id: int) -> None:
        self.migrated[old_id] = new_id
        chat = dict(self.chats.get(old_id, {"title": "群"}), id=new_id, type="supergroup")
        self.chats[new_id] = chat
