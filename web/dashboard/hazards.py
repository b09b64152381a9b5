"""The hazard ledger: filters, pages, a ticket with its photos and timeline, the card's
actions, and the export of exactly what is filtered.

Each view is one call of hazards.ledger, hazards.views or hazards.lifecycle with the signed-in
person; those decide what the person may see and do, exactly as for the chat's buttons.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from multidict import MultiMapping

from hazards import categories, ledger, lifecycle, photos, views
from hazards import delivery as hazard_delivery
from hazards.models import OPEN_STATES, Action, HazardState, actions_for
from hazards.notices import render as render_text
from hub.errors import InvalidInput
from web.dashboard.pages import acting, render
from web.keys import HUB

OPEN = "open"  # the state filter's "every open state"
STATE_VALUES = frozenset(state.value for state in HazardState)
FILTER_KEYS = ("grid", "category", "state", "overdue", "from", "to", "q")
PHOTO_TYPE = "image/jpeg"
# The step that moves a ticket on comes first; the ones that close it otherwise follow.
ACTION_ORDER = ["accept", "fixed", "verify", "reopen", "dup", "reject"]


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        raise InvalidInput("dash.bad_date", value=value[:20]) from None


def parse_filter(query: MultiMapping[str], tz: Any) -> ledger.Filter:
    """The ledger's filter from a page's query string; days are local days of the hub."""
    chosen = query.getall("state", [])
    states = frozenset(HazardState(s) for s in chosen if s in STATE_VALUES)
    if OPEN in chosen:
        states |= OPEN_STATES
    start, end = _day(query.get("from", "")), _day(query.get("to", ""))
    return ledger.Filter(
        grid=query.get("grid") or None,
        category=query.get("category") or None,
        states=states,
        overdue=query.get("overdue") == "1",
        reported_from=datetime.combine(start, time(), tzinfo=tz) if start else None,
        reported_to=datetime.combine(end + timedelta(days=1), time(), tzinfo=tz) if end else None,
        search=query.get("q", "").strip(),
    )


def filter_query(query: MultiMapping[str], **extra: object) -> str:
    """The filter part of a query string, with `extra` keys set (a page key, say)."""
    pairs = [(k, v) for k in FILTER_KEYS for v in query.getall(k, []) if v]
    pairs += [(k, str(v)) for k, v in extra.items() if v is not None]
    return urlencode(pairs)


def _key(query: MultiMapping[str], name: str) -> int | None:
    value = query.get(name, "")
    return int(value) if value.isdigit() and len(value) < 12 else None


async def ledger_page(request: web.Request) -> web.StreamResponse:
    async with acting(request) as act:
        chosen = parse_filter(request.query, act.hub.tz)
        page = await ledger.ledger_page(
            act.db, act.person, chosen, now=act.now(),
            before=_key(request.query, "before"), after=_key(request.query, "after"),
        )
        grids = await ledger.grids_in_scope(act.db, act.person)
    return await render(request, "ledger.html", {
        "active": "hazards", "page": page, "grids": grids, "chosen": chosen,
        "categories": categories.catalogue().categories, "states": list(HazardState), "open_states": OPEN_STATES,
        "query": request.query, "filter_query": lambda **extra: filter_query(request.query, **extra),
        "from_day": request.query.get("from", ""), "to_day": request.query.get("to", ""),
        "category_label": lambda category: categories.get_or_other(category).label(act.lang),
    })


async def export(request: web.Request) -> web.StreamResponse:
    """The filtered ledger, all of it, as XLSX or CSV in the person's language."""
    fmt = request.match_info["fmt"]
    async with acting(request) as act:
        chosen = parse_filter(request.query, act.hub.tz)
        rows = await ledger.filtered_rows(act.db, act.person, chosen, now=act.now())
        lang, hub = act.lang, act.hub
    write = ledger.export_xlsx if fmt == "xlsx" else ledger.export_csv
    data = await asyncio.to_thread(write, rows, lang, hub.tz, hub.texts)
    stamp = hub.local(hub.now()).strftime("%Y%m%d-%H%M")
    content_type = ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
                    if fmt == "xlsx" else "text/csv; charset=utf-8")
    return web.Response(body=data, headers={
        "Content-Type": content_type, "Cache-Control": "no-store",
        "Content-Disposition": f'attachment; filename="ledger-{stamp}.{fmt}"',
    })


def _hazard_id(request: web.Request) -> int:
    value = request.match_info["id"]
    if not value.isdigit() or len(value) > 12:
        raise web.HTTPNotFound()
    return int(value)


async def hazard_page(request: web.Request) -> web.StreamResponse:
    hazard_id = _hazard_id(request)
    async with acting(request) as act:
        view = await views.detail(act.db, act.person, hazard_id, now=act.now())
        texts, tz, lang = act.hub.texts, act.hub.tz, act.lang
        timeline = [render_text(texts, lang, *views.timeline_params(item), tz) for item in view.timeline]
    return await render(request, "hazard.html", {
        "active": "hazards", "view": view, "hazard": view.hazard,
        "detail": render_text(texts, lang, "hazard.detail", view.params, tz),
        "timeline": timeline,
        "actions": sorted((a.value for a in actions_for(view.hazard.state)), key=ACTION_ORDER.index)
        if view.may_act else [],
        "category": categories.get_or_other(view.hazard.category).label(lang),
    })


async def _evidence(request: web.Request, upload: Any) -> str:
    """The uploaded photo, checked and cleaned as a chat photo is (hazards.photos), off the loop."""
    if upload is None or not hasattr(upload, "file"):
        raise InvalidInput("hazard.needs_photo", id=request.match_info["id"])
    data = await asyncio.to_thread(upload.file.read, photos.MAX_BYTES + 1)
    photos.check_size(len(data))
    await asyncio.to_thread(photos.check_header, data)
    stored = await asyncio.to_thread(photos.store_photo, data, request.app[HUB].settings.data_dir)
    return stored.hash


async def act_on(request: web.Request) -> web.StreamResponse:
    """A card button: one `lifecycle.act`, its notices queued in the same unit of work.

    "fixed" is first checked (`check_act`, nothing changes) so nobody's photo is stored for
    an action they may not take; "dup" needs the original's number.
    """
    hazard_id = _hazard_id(request)
    form = await request.post()
    action = lifecycle.parse_action(str(form.get("action", "")))
    async with acting(request) as act:
        photo = duplicate_of = None
        if action is Action.FIXED:
            await lifecycle.check_act(act.db, act.person, hazard_id, action)
            photo = await _evidence(request, form.get("photo"))
        if action is Action.DUP:
            number = str(form.get("duplicate_of", "")).strip().lstrip("#")
            if not number.isdigit() or len(number) > 12:
                raise InvalidInput("hazard.dup_needs_original", id=hazard_id)
            duplicate_of = int(number)
        outcome = await lifecycle.act(
            act.db, act.person, hazard_id, action, now=act.now(), photo=photo,
            duplicate_of=duplicate_of, reason=str(form.get("reason", "")) or None,
        )
        await hazard_delivery.deliver(act.db, act.hub, outcome.notices)
        await act.flash(act.t("hazard.acted", id=hazard_id,
                              state_name=act.t(f"hazard.state.{outcome.hazard.state.value}")))
        raise web.HTTPSeeOther(f"/hazards/{hazard_id}")


async def photo(request: web.Request) -> web.StreamResponse:
    """A hazard's photo (or its thumbnail), for those who act on it only; never cached shared."""
    hazard_id = _hazard_id(request)
    kind = request.match_info["kind"]
    if kind not in views.PHOTO_KINDS:
        raise web.HTTPNotFound()
    async with acting(request) as act:
        digest = await views.photo_of(act.db, act.person, hazard_id, kind)
    data_dir = Path(request.app[HUB].settings.data_dir)
    path = photos.thumb_path(data_dir, digest) if request.query.get("size") == "thumb" \
        else photos.photo_path(data_dir, digest)
    if not path.exists():
        raise web.HTTPNotFound()
    return web.FileResponse(path, headers={"Content-Type": PHOTO_TYPE, "Cache-Control": "private, max-age=3600"})
