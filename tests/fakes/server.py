"""The fake Bot API's HTTP side: routes, request parsing, the envelope, faults and limits.

Parameters arrive as python-telegram-bot sends them — form-encoded or multipart, nested
objects as JSON strings, or a JSON body — and every call, answered or refused, is recorded
as a `Call`. A method `getX` is answered by the `_m_getX` coroutine of whichever part of the
fake defines it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any, Self

from aiohttp import ClientSession, web

from tests.fakes.faults import Faults
from tests.fakes.state import ApiError, Call

JSON_FIELDS = {
    "reply_markup", "entities", "caption_entities", "commands", "scope", "allowed_updates",
    "reply_parameters", "link_preview_options", "media", "menu_button",
}
# What Telegram's flood limits count: messages that appear in a chat.
LIMITED_METHODS = {
    "sendMessage", "sendPhoto", "sendVoice", "sendAudio", "sendDocument", "sendLocation",
    "copyMessage", "forwardMessage",
}


async def read_params(request: web.Request) -> tuple[dict[str, Any], dict[str, bytes]]:
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


class Server(Faults):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._runner: web.AppRunner | None = None
        self._client: ClientSession | None = None  # posts updates to a webhook
        self.port = 0

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

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> Self:
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

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        token, method = request.match_info["token"], request.match_info["method"]
        if ":" not in token or not token.split(":", 1)[0].isdigit():
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        try:
            params, files = await read_params(request)
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
