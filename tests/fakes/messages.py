"""The bot's messages: sending, editing, deleting and pinning them, answering button presses.

Each method answers as Telegram does, including the refusals tests rely on: an edit that
changes nothing is "message is not modified", a text over 4096 characters is too long.
"""

from __future__ import annotations

import time
from typing import Any

from tests.fakes.state import ApiError, BotState

# What the bot sends or changes in a chat: what `sent` and `reply_to` look for.
SEND_METHODS = {
    "sendMessage", "sendPhoto", "sendVoice", "sendAudio", "sendDocument", "sendLocation",
    "editMessageText", "editMessageReplyMarkup", "editMessageCaption", "pinChatMessage",
    "copyMessage", "forwardMessage",
}


def _with_markup(message: dict[str, Any], p: dict[str, Any]) -> dict[str, Any]:
    """An edit replaces the keyboard: none given means none left."""
    message.pop("reply_markup", None)
    if p.get("reply_markup"):
        message["reply_markup"] = p["reply_markup"]
    return message


class Messages(BotState):
    def _outgoing(self, p: dict[str, Any], **content: Any) -> dict[str, Any]:
        self._require(p, "chat_id")
        chat = self._chat(int(p["chat_id"]))
        reply = p.get("reply_parameters") or {}
        reply_to = reply.get("message_id") if isinstance(reply, dict) else None
        reply_to = reply_to or p.get("reply_to_message_id")
        # Only inline keyboards belong to a message; ForceReply and reply keyboards act on
        # the client and never appear in Message.reply_markup.
        markup = p.get("reply_markup")
        if not (isinstance(markup, dict) and "inline_keyboard" in markup):
            markup = None
        return self._store_message(
            chat, self.bot_user, reply_markup=markup,
            reply_to_message=self._reply_to(chat, int(reply_to)) if reply_to else None, **content,
        )

    async def _m_sendMessage(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        self._require(p, "chat_id", "text")
        if len(p["text"]) > 4096:
            raise ApiError(400, "Bad Request: message is too long")
        return self._outgoing(p, text=p["text"], entities=p.get("entities"))

    async def _m_sendLocation(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        self._require(p, "latitude", "longitude")
        return self._outgoing(p, location={"latitude": float(p["latitude"]), "longitude": float(p["longitude"])})

    def _existing(self, p: dict[str, Any]) -> dict[str, Any]:
        self._require(p, "chat_id", "message_id")
        chat = self._chat(int(p["chat_id"]))
        message = self.messages[chat["id"]].get(int(p["message_id"]))
        if message is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        return message

    async def _m_editMessageText(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        message = self._existing(p)
        self._require(p, "text")
        if message.get("text") == p["text"] and message.get("reply_markup") == p.get("reply_markup"):
            raise ApiError(400, "Bad Request: message is not modified")
        message["text"] = p["text"]
        message["edit_date"] = int(time.time())
        return _with_markup(message, p)

    async def _m_editMessageReplyMarkup(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        return _with_markup(self._existing(p), p)

    async def _m_editMessageCaption(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        message = self._existing(p)
        message["caption"] = p.get("caption")
        return message

    async def _m_deleteMessage(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        message = self._existing(p)
        del self.messages[message["chat"]["id"]][message["message_id"]]
        return True

    async def _m_pinChatMessage(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        self._existing(p)["pinned"] = True
        return True

    async def _m_unpinChatMessage(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        self._chat(int(p["chat_id"]))
        return True

    async def _m_answerCallbackQuery(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        self._require(p, "callback_query_id")
        self.callback_answers[p["callback_query_id"]] = {
            "text": p.get("text"), "show_alert": str(p.get("show_alert")).lower() == "true",
        }
        return True

    async def _m_sendChatAction(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        self._chat(int(p["chat_id"]))
        return True
