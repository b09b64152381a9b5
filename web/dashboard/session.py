"""Who is signed in, for how long, and the CSRF token of their forms.

The session is an encrypted cookie (aiohttp-session with a key derived from the hub's secret),
holding the person's id, a CSRF token and when it lapses. Each request loads the person from
the database again: someone deactivated or made a resident loses the dashboard at their next
click, and every service call checks their role and scope once more anyway.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from aiohttp_session import Session, get_session, new_session, session_middleware
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from sqlalchemy.ext.asyncio import AsyncSession

from hub import secret
from hub.core import Hub
from hub.i18n import LANGUAGES, language_for
from hub.models import Person, Role
from web.keys import HUB

COOKIE = "gridcast_session"
IDLE = timedelta(hours=2)  # a session unused this long lapses
CSRF_FIELD = "_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def middlewares(app: web.Application) -> list[Any]:
    """The session's middleware (an encrypted cookie) and the CSRF guard, in that order."""
    hub = app[HUB]
    key = secret.derived(hub.settings, "dashboard-session")  # 32 raw bytes: Fernet's key
    storage = EncryptedCookieStorage(
        key, cookie_name=COOKIE, httponly=True, samesite="Lax", path="/",
        secure=hub.settings.public_url.startswith("https://"),
    )
    return [session_middleware(storage), csrf_guard]


@dataclass(frozen=True)
class Visit:
    """The request's person (None before sign-in), language and CSRF token."""

    person: Person | None
    lang: str
    csrf: str


VISIT = web.RequestKey("visit", Visit)  # the request's visit, once it is known


async def _csrf_token(session: Session) -> str:
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


@web.middleware
async def csrf_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every state-changing request carries the session's token, as a form field or a header."""
    if request.method not in SAFE_METHODS:  # pages only (pages_only): machines carry no cookie
        session = await get_session(request)
        expected = session.get("csrf") or ""
        given = request.headers.get(CSRF_HEADER, "")
        if not given and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            given = str((await request.post()).get(CSRF_FIELD, ""))
        if not expected or not hmac.compare_digest(expected.encode(), given.encode()):
            raise web.HTTPForbidden(text="missing or wrong CSRF token; reload the page and try again")
    return await handler(request)


async def visit(request: web.Request, db: AsyncSession | None = None) -> Visit:
    """The signed-in person, if the session is live and they may still use the dashboard."""
    hub: Hub = request.app[HUB]
    session = await get_session(request)
    person = None
    pid, lapses = session.get("pid"), session.get("lapses", 0)
    now = hub.now().timestamp()
    if pid is not None and now < lapses:
        if db is not None:
            person = await db.get(Person, pid)
        else:
            async with hub.db.session() as own:
                person = await own.get(Person, pid)
        if person is None or not person.active or person.role is Role.RESIDENT:
            person = None
        else:
            session["lapses"] = now + IDLE.total_seconds()
    if person is None and pid is not None:
        session.pop("pid", None)
    lang = session.get("lang") or (
        language_for(person.language, None, hub.settings.default_language) if person
        else hub.settings.default_language
    )
    return Visit(person, lang, await _csrf_token(session))


async def signed_in(request: web.Request, person: Person) -> None:
    """A fresh session for the person (a new id and token: no fixation of an old cookie)."""
    hub: Hub = request.app[HUB]
    lang = (await get_session(request)).get("lang")
    session = await new_session(request)
    session["pid"] = person.id
    session["lapses"] = hub.now().timestamp() + IDLE.total_seconds()
    session["csrf"] = secrets.token_urlsafe(32)
    if lang:
        session["lang"] = lang


async def signed_out(request: web.Request) -> None:
    (await get_session(request)).invalidate()


async def set_language(request: web.Request, lang: str) -> None:
    if lang in LANGUAGES:
        (await get_session(request))["lang"] = lang


def to_sign_in(request: web.Request) -> web.HTTPException:
    """To the sign-in page, which comes back here after (a page; a form goes to the overview).

    htmx follows a redirect inside the page it swaps into, so it is told to load the sign-in
    page whole instead.
    """
    target = "/login"
    if request.method == "GET":
        target += "?" + urlencode({"next": request.rel_url.path_qs})
    if request.headers.get("HX-Request"):
        return web.HTTPUnauthorized(headers={"HX-Redirect": target})
    return web.HTTPSeeOther(target)


FLASH = "flash"


def flash(session: Session, text: str) -> None:
    """A line for the next page to show once ("Hazard #12 accepted"), after a redirect."""
    session[FLASH] = text


async def page_context(request: web.Request, current: Visit) -> dict[str, Any]:
    """What every template may use: the visit, `t(key, …)` in its language, the languages,
    the local time of an instant, and the line a redirect left to show once."""
    hub: Hub = request.app[HUB]

    def t(key: str, **params: object) -> str:
        return hub.t(current.lang, key, **params)

    def local(when: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
        return hub.local(when).strftime(fmt) if when is not None else ""

    def static(name: str) -> str:  # with a hash of the file: a new release is fetched anew
        return str(request.app.router["static"].url_for(filename=name))

    session = await get_session(request)
    return {"visit": current, "t": t, "local": local, "static": static, "languages": LANGUAGES,
            "csrf_field": CSRF_FIELD, "csrf_header": CSRF_HEADER, "tz": hub.tz,
            "flash": session.pop(FLASH, None), "request": request}
