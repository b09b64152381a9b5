"""A fake Telegram Bot API server on loopback, for end-to-end tests of the real Application.

It speaks the wire protocol python-telegram-bot speaks — form-encoded or multipart
parameters with nested objects as JSON strings, `{"ok": …, "result": …}` envelopes, Message
objects in replies, `getUpdates` long polling with offsets, `getFile` and file downloads,
webhooks with the secret header — and lets a test play the users: send text, photos,
voice and locations, press buttons, and inject faults (429 with retry_after, 5xx, slow
answers, dropped connections).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import json
import random
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import ClientSession, web

from tests.fakes.telegram_limits import RateLimits

JSON_FIELDS = {
    "reply_markup", "entities", "caption_entities", "commands", "scope", "allowed_updates",
    "reply_parameters", "link_preview_options", "media", "menu_button",
}
# What Telegram's flood limits count: messages that appear in a chat.
LIMITED_METHODS = {
    "sendMessage", "sendPhoto", "sendVoice", "sendAudio", "sendDocument", "sendLocation",
    "copyMessage", "forwardMessage",
}
SEND_METHODS = {
    "sendMessage", "sendPhoto", "sendVoice", "sendAudio", "sendDocument", "sendLocation",
    "editMessageText", "editMessageReplyMarkup", "editMessageCaption", "pinChatMessage",
    "copyMessage", "forwardMessage",
}


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


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _command_entities(text: str | None) -> list[dict[str, Any]]:
    if not text or not text.startswith("/"):
        return []
    command = text.split(maxsplit=1)[0]
    return [{"type": "bot_command", "offset": 0, "length": _utf16_len(command)}]


class FakeBotAPI:
    def __init__(self, bot_username: str = "gridcast_test_bot", bot_id: int = 123) -> None:
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
        self.webhook: dict[str, Any] | None = None
        self.fault_counts: dict[str, int] = defaultdict(int)
        self.limits: RateLimits | None = None
        self._updates: deque[dict[str, Any]] = deque()
        self._next_update = 1
        self._next_message: dict[int, int] = defaultdict(lambda: 1)
        self._next_file = 1
        self._queued_faults: dict[str, deque[str]] = defaultdict(deque)
        self._fault_rate = 0.0
        self._fault_kinds: tuple[str, ...] = ()
        self._fault_methods: set[str] | None = None
        self._retry_after = 1
        self._slow_seconds = 0.5
        self._random = random.Random(0)
        self._new_update = asyncio.Event()
        self._new_call = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._client: ClientSession | None = None
        self.port = 0
        self.closing = False

    # --- server ---------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(client_max_size=60 << 20)
        app.router.add_route("*", "/bot{token}/{method}", self._dispatch)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._client = ClientSession()

    def release_pollers(self) -> None:
        """Answer pending and future long polls at once, so a bot can stop without waiting."""
        self.closing = True
        self._new_update.set()

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> FakeBotAPI:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    async def _params(self, request: web.Request) -> tuple[dict[str, Any], dict[str, bytes]]:
        params: dict[str, Any] = {}
        files: dict[str, bytes] = {}
        if request.content_type == "application/json":
            body = await request.read()
            params = json.loads(body) if body else {}
        elif request.content_type in {"multipart/form-data", "application/x-www-form-urlencoded"}:
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    files[key] = value.file.read()
                else:
                    params[key] = value
        else:
            params = dict(request.query)
        for key in JSON_FIELDS & params.keys():
            if isinstance(params[key], str):
                with contextlib.suppress(json.JSONDecodeError):
                    params[key] = json.loads(params[key])
        # A file sent by reference inside the form: "attach://name" stays a reference.
        return params, files

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        token, method = request.match_info["token"], request.match_info["method"]
        if ":" not in token or not token.split(":", 1)[0].isdigit():
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        try:
            params, files = await self._params(request)
        except ConnectionResetError:  # the client went away mid-request (e.g. at shutdown)
            return web.Response(status=499)
        call = Call(method, params, files)
        handler = getattr(self, f"_m_{method}", None)
        fault = self._pick_fault(method)
        try:
            if fault == "drop":
                self._record(call, error={"error_code": 0, "description": "dropped"})
                assert request.transport is not None
                request.transport.close()
                raise ConnectionResetError
            if fault == "slow":
                await asyncio.sleep(self._slow_seconds)
            if fault == "429":
                raise ApiError(429, f"Too Many Requests: retry after {self._retry_after}",
                               {"retry_after": self._retry_after})
            if fault == "5xx":
                raise ApiError(502, "Bad Gateway")
            if handler is None:
                raise ApiError(404, "Not Found")
            limited = self.limits is not None and method in LIMITED_METHODS and "chat_id" in params
            if limited:
                chat_id = int(params["chat_id"])
                wait = self.limits.check(chat_id, chat_id < 0, time.monotonic())
                if wait is not None:
                    raise ApiError(429, f"Too Many Requests: retry after {wait}", {"retry_after": wait})
            result = await handler(params, files)
            if limited:
                self.limits.record(chat_id, chat_id < 0, time.monotonic())
        except ApiError as error:
            body = {"ok": False, "error_code": error.code, "description": error.description}
            if error.parameters:
                body["parameters"] = error.parameters
            self._record(call, error=body)
            return web.json_response(body, status=error.code if error.code >= 400 else 400)
        self._record(call, result=result)
        return web.json_response({"ok": True, "result": result})

    def _record(self, call: Call, *, result: Any = None, error: dict[str, Any] | None = None) -> None:
        call.result, call.error = result, error
        self.calls.append(call)
        self._new_call.set()

    async def _download(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info["path"]
        for data, file_path in self.files.values():
            if file_path == path:
                return web.Response(body=data, content_type="application/octet-stream")
        return web.Response(status=404, text="Not Found")

    # --- faults ---------------------------------------------------------------------------

    def inject(self, method: str, kind: str, times: int = 1) -> None:
        """The next `times` calls of `method` fail with `kind`: 429, 5xx, slow or drop."""
        self._queued_faults[method].extend([kind] * times)

    def set_faults(
        self,
        rate: float,
        kinds: Iterable[str] = ("429", "5xx", "slow", "drop"),
        *,
        methods: Iterable[str] | None = None,
        retry_after: int = 1,
        slow_seconds: float = 0.5,
        seed: int = 0,
    ) -> None:
        self._fault_rate = rate
        self._fault_kinds = tuple(kinds)
        self._fault_methods = set(methods) if methods is not None else None
        self._retry_after = retry_after
        self._slow_seconds = slow_seconds
        self._random = random.Random(seed)

    def enforce_limits(self, per_second: int | None = 30, per_group_minute: int | None = 20) -> RateLimits:
        """Answer sends beyond Telegram's flood limits with 429 and the wait, as Telegram does."""
        self.limits = RateLimits(per_second, per_group_minute)
        return self.limits

    def clear_faults(self) -> None:
        self._fault_rate = 0.0
        self._queued_faults.clear()

    def _pick_fault(self, method: str) -> str | None:
        queued = self._queued_faults.get(method)
        if queued:
            kind = queued.popleft()
        elif self._fault_rate and (
            method in self._fault_methods if self._fault_methods is not None else method != "getUpdates"
        ) and self._random.random() < self._fault_rate:
            kind = self._random.choice(self._fault_kinds)
        else:
            return None
        self.fault_counts[kind] += 1
        return kind

    # --- the people on the other side ------------------------------------------------------

    @staticmethod
    def user(user_id: int, first_name: str = "用户", *, language_code: str | None = "zh-hans",
             username: str | None = None, last_name: str | None = None) -> dict[str, Any]:
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        if language_code:
            user["language_code"] = language_code
        if username:
            user["username"] = username
        if last_name:
            user["last_name"] = last_name
        return user

    def private(self, user: dict[str, Any]) -> dict[str, Any]:
        chat = {"id": user["id"], "type": "private", "first_name": user["first_name"]}
        self.chats[user["id"]] = chat
        return chat

    def group(self, chat_id: int, title: str = "网格群", kind: str = "supergroup") -> dict[str, Any]:
        chat = {"id": chat_id, "type": kind, "title": title}
        self.chats[chat_id] = chat
        return chat

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

    def _reply_to(self, chat: dict[str, Any], reply_to: int | None) -> dict[str, Any] | None:
        if reply_to is None:
            return None
        original = self.messages[chat["id"]].get(reply_to)
        return {k: v for k, v in original.items() if k != "reply_to_message"} if original else None

    def send_message(self, chat: dict[str, Any], user: dict[str, Any], text: str,
                     reply_to: int | None = None) -> dict[str, Any]:
        message = self._store_message(
            chat, user, text=text, entities=_command_entities(text) or None,
            reply_to_message=self._reply_to(chat, reply_to),
        )
        return self._queue({"message": message})

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

    # --- observing the bot -----------------------------------------------------------------

    def sent(self, chat_id: int | None = None, method: str | None = None) -> list[Call]:
        return [
            c for c in self.calls
            if c.ok and c.method in SEND_METHODS
            and (chat_id is None or c.chat_id == chat_id)
            and (method is None or c.method == method)
        ]

    def texts(self, chat_id: int) -> list[str]:
        return [str(c.params.get("text") or c.params.get("caption") or "") for c in self.sent(chat_id)]

    async def wait_for(
        self,
        method: str | None = None,
        predicate: Callable[[Call], bool] | None = None,
        *,
        count: int = 1,
        timeout: float = 5.0,
        since: int = 0,
    ) -> list[Call]:
        """Wait until `count` successful calls after index `since` match; fail loudly otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            found = [
                c for c in self.calls[since:]
                if c.ok and (method is None or c.method == method) and (predicate is None or predicate(c))
            ]
            if len(found) >= count:
                return found
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                recent = [(c.method, c.params.get("chat_id"), c.params.get("text")) for c in self.calls[-8:]]
                raise AssertionError(f"waited for {count}× {method or 'any call'}, saw {len(found)}; recent: {recent}")
            self._new_call.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_call.wait(), remaining)

    async def reply_to(self, chat_id: int, *, since: int, timeout: float = 5.0) -> Call:
        """The first message the bot sends to `chat_id` after call index `since`."""
        calls = await self.wait_for(
            predicate=lambda c: c.chat_id == chat_id and c.method in SEND_METHODS,
            since=since, timeout=timeout,
        )
        return calls[0]

    # --- methods ---------------------------------------------------------------------------

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

    def _require(self, p: dict[str, Any], *names: str) -> None:
        for name in names:
            if p.get(name) in (None, ""):
                raise ApiError(400, f"Bad Request: {name} is empty")

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

    def _media(self, p: dict[str, Any], f: dict[str, bytes], field_name: str) -> bytes:
        value = p.get(field_name)
        if field_name in f:
            return f[field_name]
        if isinstance(value, str) and value.startswith("attach://") and value[9:] in f:
            return f[value[9:]]
        if isinstance(value, str) and value in self.files:
            return self.files[value][0]
        raise ApiError(400, f"Bad Request: there is no {field_name} in the request")

    async def _m_sendPhoto(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        data = self._media(p, f, "photo")
        return self._outgoing(p, photo=self._photo_sizes(data), caption=p.get("caption"))

    async def _send_file(self, p: dict[str, Any], f: dict[str, bytes], kind: str, suffix: str,
                         mime: str) -> Any:
        data = self._media(p, f, kind)
        file_id, _ = self._new_file(data, kind, suffix)
        obj = {"file_id": file_id, "file_unique_id": file_id[-12:], "file_size": len(data),
               "mime_type": mime}
        if kind in {"voice", "audio"}:
            obj["duration"] = int(p.get("duration") or 0)
        return self._outgoing(p, **{kind: obj}, caption=p.get("caption"))

    async def _m_sendVoice(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        return await self._send_file(p, f, "voice", "oga", "audio/ogg")

    async def _m_sendAudio(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        return await self._send_file(p, f, "audio", "mp3", "audio/mpeg")

    async def _m_sendDocument(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        return await self._send_file(p, f, "document", "bin", "application/octet-stream")

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
        message.pop("reply_markup", None)
        if p.get("reply_markup"):
            message["reply_markup"] = p["reply_markup"]
        return message

    async def _m_editMessageReplyMarkup(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        message = self._existing(p)
        message.pop("reply_markup", None)
        if p.get("reply_markup"):
            message["reply_markup"] = p["reply_markup"]
        return message

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

    async def _m_getFile(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        self._require(p, "file_id")
        if p["file_id"] not in self.files:
            raise ApiError(400, "Bad Request: invalid file_id")
        data, path = self.files[p["file_id"]]
        return {"file_id": p["file_id"], "file_unique_id": p["file_id"][-12:],
                "file_size": len(data), "file_path": path}

    async def _m_getChat(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        chat = self._chat(int(p["chat_id"]))
        return {**chat, "accent_color_id": 0, "max_reaction_count": 11}

    async def _m_getChatMember(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        self._chat(int(p["chat_id"]))
        return {"status": "member", "user": self.user(int(p["user_id"]))}

    async def _m_leaveChat(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        return True

    async def _m_setMyCommands(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        self._require(p, "commands")
        key = (json.dumps(p.get("scope") or {"type": "default"}, sort_keys=True), p.get("language_code") or "")
        self.commands[key] = list(p["commands"])
        return True

    async def _m_getMyCommands(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        key = (json.dumps(p.get("scope") or {"type": "default"}, sort_keys=True), p.get("language_code") or "")
        return self.commands.get(key, [])

    async def _m_deleteMyCommands(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        key = (json.dumps(p.get("scope") or {"type": "default"}, sort_keys=True), p.get("language_code") or "")
        self.commands.pop(key, None)
        return True

    def menu(self, language_code: str = "") -> list[str]:
        """The command names set for the default scope and a language."""
        key = (json.dumps({"type": "default"}, sort_keys=True), language_code)
        return [c["command"] for c in self.commands.get(key, [])]
