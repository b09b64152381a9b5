"""Chats and their members, and the bot's command menus per scope and language."""

from __future__ import annotations

import json
from typing import Any

from tests.fakes.state import BotState, telegram_user


def _commands_key(p: dict[str, Any]) -> tuple[str, str]:
    return (json.dumps(p.get("scope") or {"type": "default"}, sort_keys=True), p.get("language_code") or "")


class Chats(BotState):
    async def _m_getChat(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        chat = self._chat(int(p["chat_id"]))
        return {**chat, "accent_color_id": 0, "max_reaction_count": 11}

    async def _m_getChatMember(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        self._chat(int(p["chat_id"]))
        return {"status": "member", "user": telegram_user(int(p["user_id"]))}

    async def _m_leaveChat(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        return True

    async def _m_setMyCommands(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        self._require(p, "commands")
        self.commands[_commands_key(p)] = list(p["commands"])
        return True

    async def _m_getMyCommands(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        return self.commands.get(_commands_key(p), [])

    async def _m_deleteMyCommands(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        self.commands.pop(_commands_key(p), None)
        return True

    def menu(self, language_code: str = "") -> list[str]:
        """The command names set for the default scope and a language."""
        return [c["command"] for c in self.commands.get(_commands_key({"language_code": language_code}), [])]
