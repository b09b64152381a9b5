"""POST /telegram/webhook: Telegram's updates, accepted only with our secret token."""

from __future__ import annotations

import hmac
import json

from aiohttp import web

from web.keys import HUB, WEBHOOK

WEBHOOK_PATH = "/telegram/webhook"  # GRIDCAST_WEBHOOK_URL ends with it
MAX_UPDATE_BYTES = 1 << 20


async def receive(request: web.Request) -> web.Response:
    hub = request.app[HUB]
    secret = hub.settings.webhook_secret
    given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
    if secret is None or not hmac.compare_digest(
        given.encode(), secret.get_secret_value().encode()
    ):
        return web.json_response({"ok": False, "error": "forbidden"}, status=403)
    if (request.content_length or 0) > MAX_UPDATE_BYTES:
        return web.json_response({"ok": False, "error": "too large"}, status=413)
    try:
        payload = json.loads(await request.read())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return web.json_response({"ok": False, "error": "not JSON"}, status=400)
    if not isinstance(payload, dict) or not isinstance(payload.get("update_id"), int):
        return web.json_response({"ok": False, "error": "not an update"}, status=400)
    await request.app[WEBHOOK].feed(payload)
    return web.json_response({"ok": True})


def setup(app: web.Application) -> None:
    app.router.add_post(WEBHOOK_PATH, receive)
