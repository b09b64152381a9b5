"""Signing in and out, and the language switch."""

from __future__ import annotations

from aiohttp import web

from hub import people
from hub.errors import PermissionDenied
from web.dashboard import session
from web.dashboard.pages import render
from web.keys import HUB


def _next(value: object) -> str:
    """Only a path of ours to go back to after sign-in, never another site."""
    target = str(value or "/")
    return target if target.startswith("/") and not target.startswith(("//", "/\\")) else "/"


async def login_page(request: web.Request) -> web.StreamResponse:
    current = await session.visit(request)
    if current.person is not None:
        raise web.HTTPSeeOther(_next(request.query.get("next")))
    request[session.VISIT] = current
    return await render(request, "login.html", {"next": _next(request.query.get("next")), "error": None})


async def login(request: web.Request) -> web.StreamResponse:
    """Check the name (or Telegram id) and password through `people.sign_in`, which throttles
    and audits; a failure says the same whatever was wrong."""
    hub = request.app[HUB]
    form = await request.post()
    address = request.remote or "unknown"
    error, status = None, 401
    async with hub.db.session() as db:
        try:
            person = await people.sign_in(
                db, str(form.get("who", "")), str(form.get("password", "")), address=address, now=hub.now()
            )
        except PermissionDenied as refused:  # throttled: nothing was checked, nothing recorded
            person, error, status = None, refused, 429
    request[session.VISIT] = current = await session.visit(request)
    if person is None:
        message = hub.t(current.lang, error.key, **error.params) if error else \
            hub.t(current.lang, "error.sign_in_failed")
        return await render(request, "login.html", {"next": _next(form.get("next")), "error": message},
                            status=status)
    await session.signed_in(request, person)
    raise web.HTTPSeeOther(_next(form.get("next")))


async def logout(request: web.Request) -> web.StreamResponse:
    await session.signed_out(request)
    raise web.HTTPSeeOther("/login")


async def language(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    await session.set_language(request, str(form.get("lang", "")))
    raise web.HTTPSeeOther(_next(form.get("next")))
