"""What every dashboard view shares: the signed-in person with one unit of work, and pages.

A view is `async with acting(request) as act:` and one service call with `act.person`, which
checks the role and scope itself; the unit of work commits when the block ends (a redirect
after a change included) and rolls back when the service refuses.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from aiohttp_session import get_session
from sqlalchemy.ext.asyncio import AsyncSession

from hub.core import Hub
from hub.models import Person
from web.dashboard import session
from web.keys import HUB

# Pages carry a person's data (never cached), only our own files run in them, and no other
# site may frame them (a click on a framed "Send" would be ours).
HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
                               "form-action 'self'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


@dataclass(frozen=True)
class Act:
    request: web.Request
    hub: Hub
    db: AsyncSession
    visit: session.Visit

    @property
    def person(self) -> Person:
        assert self.visit.person is not None
        return self.visit.person

    @property
    def lang(self) -> str:
        return self.visit.lang

    def t(self, key: str, **params: object) -> str:
        return self.hub.t(self.visit.lang, key, **params)

    def now(self) -> datetime:
        return self.hub.now()

    async def flash(self, text: str) -> None:
        session.flash(await get_session(self.request), text)


@asynccontextmanager
async def acting(request: web.Request) -> AsyncIterator[Act]:
    """The signed-in person (or a redirect to sign in) and a unit of work for the view.

    A redirect raised in the block is the answer to a change that succeeded: the unit of
    work commits first, then the redirect goes out.
    """
    hub: Hub = request.app[HUB]
    redirect: web.HTTPRedirection | None = None
    async with hub.db.session() as db:
        current = await session.visit(request, db)
        if current.person is None:
            raise session.to_sign_in(request)
        request[session.VISIT] = current
        try:
            yield Act(request, hub, db, current)
        except web.HTTPRedirection as raised:
            redirect = raised
    if redirect is not None:
        raise redirect


async def render(
    request: web.Request, template: str, context: dict[str, Any], *, status: int = 200
) -> web.Response:
    """A page of the dashboard, with what every template may use (see session.page_context)."""
    current = request.get(session.VISIT) or await session.visit(request)
    request[session.VISIT] = current
    merged = {**await session.page_context(request, current), **context}
    response = aiohttp_jinja2.render_template(template, request, merged, status=status)
    response.headers.update(HEADERS)
    return response

