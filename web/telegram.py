"""POST /telegram/webhook: Telegram's updates, accepted only with our secret token.

Whatever is posted here comes from the internet, so each way it can be wrong has its own
answer and none of them is a 500: a wrong or unreadable secret 403, a body over the limit
413 (read with a cap, whether or not it says its length: a chunked body says nothing), and
anything that is not an update we can read 400. The feed (the bot's, handed in by cli.serve)
reads the update and drops replays.
"""

from __future__ import annotations

import hmac
import json

from aiohttp import web

from web.keys import HUB, WEBHOOK

WEBHOOK_PATH = "/telegram/webhook"  # GRIDCAST_WEBHOOK_URL ends with it
MAX_UPDATE_BYTES = 1 << 20
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_UPDATE_ID = 2**63 - 1  # a BIGINT: a larger "id" is no update of Telegram's


def _refused(status: int, error: str) -> web.Response:
    return web.json_response({"ok": False, "error": error}, status=status)


def _secret_ok(request: web.Request) -> bool:
    secret = request.app[HUB].settings.webhook_secret
    given = request.headers.get(SECRET_HEADER, "")
    # aiohttp hands undecodable header bytes on as surrogates, which .encode() refuses; our
    # secret is ASCII (Telegram allows A-Z, a-z, 0-9, _ and -), so anything else is wrong.
    if secret is None or not given.isascii():
        return False
    return hmac.compare_digest(given.encode(), secret.get_secret_value().encode())


async def _body(request: web.Request) -> bytes | None:
    """The body, or None when it is longer than MAX_UPDATE_BYTES."""
    if (request.content_length or 0) > MAX_UPDATE_BYTES:
        return None
    body = bytearray()
    async for chunk in request.content.iter_chunked(64 << 10):
        body += chunk
        if len(body) > MAX_UPDATE_BYTES:
            return None
    return bytes(body)


async def receive(request: web.Request) -> web.Response:
    if not _secret_ok(request):
        return _refused(403, "forbidden")
    body = await _body(request)
    if body is None:
        return _refused(413, "too large")
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested past the parser's depth
        return _refused(400, "not JSON")
    update_id = payload.get("update_id") if isinstance(payload, dict) else None
    if type(update_id) is not int or not 0 <= update_id <= MAX_UPDATE_ID:
        return _refused(400, "not an update")
    try:
        await request.app[WEBHOOK].feed(payload)
    except ValueError:
        return _refused(400, "not an update")
    return web.json_response({"ok": True})


def setup(app: web.Application) -> None:
    app.router.add_post(WEBHOOK_PATH, receive)
