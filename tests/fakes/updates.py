"""How updates reach the bot: `getUpdates` long polling with offsets, or a webhook.

What users do (tests/fakes/users.py) becomes an update here: queued for the next poll, or,
while a webhook is set, posted to it with the secret header. Also the bot's session methods
(getMe, logOut, close).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import Any

from tests.fakes.server import Server
from tests.fakes.state import ApiError


class Updates(Server):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.webhook: dict[str, Any] | None = None
        self.closing = False
        self._updates: deque[dict[str, Any]] = deque()
        self._next_update = 1
        self._new_update = asyncio.Event()

    def release_pollers(self) -> None:
        """Answer pending and future long polls at once, so a bot can stop without waiting."""
        self.closing = True
        self._new_update.set()

    def _queue(self, update: dict[str, Any]) -> dict[str, Any]:
        update = {"update_id": self._next_update, **update}
        self._next_update += 1
        if self.webhook is not None:
            assert self._client is not None
            asyncio.get_running_loop().create_task(self._post_webhook(update))
        else:
            self._updates.append(update)
            self._new_update.set()
        return update

    async def _post_webhook(self, update: dict[str, Any]) -> None:
        assert self._client is not None and self.webhook is not None
        headers = {}
        if self.webhook.get("secret_token"):
            headers["X-Telegram-Bot-Api-Secret-Token"] = self.webhook["secret_token"]
        async with self._client.post(self.webhook["url"], json=update, headers=headers) as response:
            self.webhook.setdefault("deliveries", []).append(response.status)

    async def _m_getMe(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        return self.bot_user

    async def _m_logOut(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        return True

    async def _m_close(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        return True

    async def _m_getUpdates(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        if self.webhook is not None:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active")
        offset = int(p.get("offset") or 0)
        limit = int(p.get("limit") or 100)
        timeout = float(p.get("timeout") or 0)
        while self._updates and self._updates[0]["update_id"] < offset:
            self._updates.popleft()
        if not self._updates and timeout > 0 and not self.closing:
            self._new_update.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_update.wait(), timeout)
        return list(self._updates)[:limit]

    async def _m_setWebhook(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        if not p.get("url"):
            return await self._m_deleteWebhook(p, f)
        self.webhook = {"url": p["url"], "secret_token": p.get("secret_token")}
        pending, self._updates = list(self._updates), deque()
        for update in pending:
            asyncio.get_running_loop().create_task(self._post_webhook(update))
        return True

    async def _m_deleteWebhook(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        self.webhook = None
        if str(p.get("drop_pending_updates")).lower() == "true":
            self._updates.clear()
        return True

    async def _m_getWebhookInfo(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        return {"url": (self.webhook or {}).get("url", ""), "has_custom_certificate": False,
                "pending_update_count": len(self._updates)}
