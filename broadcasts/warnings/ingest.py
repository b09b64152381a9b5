"""Turning a CAP alert read from a feed into a warning of the hub's own — or into nothing.

Each alert is looked at once: its identity (sender, identifier, sent) is stored with the
warning it became, so reading it again is a no-op. Updates and Cancels find the alert they
name and change it, reaching the chats it reached. Expired alerts and alerts for places the
hub has no grids in are skipped; rules in content decide what waits for staff.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from broadcasts.warnings import cap, targeting
from broadcasts.warnings import lifecycle as warnings
from broadcasts.warnings.models import (
    AUDIT_ENTITY,
    Level,
    MsgType,
    Source,
    Warning,
    WarningStatus,
)
from hub import audit, content, notify
from hub.core import Hub
from hub.models import Grid, Person, Role

log = logging.getLogger(__name__)

RULES_FILE = "cap_rules.yaml"  # inside content/; a county's copy replaces it (hub.content)
Action = Literal["publish", "approve", "ignore"]
Outcome = Literal[
    "published", "pending", "ignored", "duplicate", "expired", "outside", "updated",
    "cancelled", "unknown_reference", "not_actual",
]


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    events: list[str] | None = None
    severities: list[Literal["Extreme", "Severe", "Moderate", "Minor", "Unknown"]] | None = None
    action: Action

    def matches(self, event: str, severity: str) -> bool:
        if self.events is not None and event.casefold() not in {e.casefold() for e in self.events}:
            return False
        return self.severities is None or severity in self.severities


class Rules(BaseModel):
    model_config = ConfigDict(extra="forbid")
    default: Action = "approve"
    rules: list[Rule] = Field(default_factory=list)

    def decide(self, event: str, severity: str) -> tuple[str, Action]:
        for rule in self.rules:
            if rule.matches(event, severity):
                return rule.name, rule.action
        return "default", self.default


def load_rules(path: Path | None = None) -> Rules:
    return _read_rules(path or content.file(RULES_FILE))


@lru_cache(maxsize=4)
def _read_rules(path: Path) -> Rules:
    return content.load(path, Rules)


@dataclass(frozen=True)
class Ingested:
    outcome: Outcome
    warning_id: int | None = None
    detail: str = ""


def _pick_info(alert: cap.Alert, language: str) -> cap.Info | None:
    """The info block in the hub's language if there is one, else the first."""
    prefix = language.split("-")[0].lower()
    for info in alert.infos:
        if info.language.lower().startswith(prefix):
            return info
    return alert.infos[0] if alert.infos else None


def _geometry(info: cap.Info) -> dict[str, object]:
    return {
        "polygons": [[list(p) for p in ring] for area in info.areas for ring in area.polygons],
        "circles": [list(c) for area in info.areas for c in area.circles],
        "geocodes": [list(g) for area in info.areas for g in area.geocodes],
    }


async def _by_identity(session: AsyncSession, sender: str, identifier: str) -> list[Warning]:
    return list(await session.scalars(
        select(Warning).where(Warning.sender == sender, Warning.identifier == identifier)
        .order_by(Warning.id)
    ))


async def reviewers(session: AsyncSession, codes: list[str]) -> list[Person]:
    """Staff whose subtree holds the area: they approve what the rules hold back."""
    paths = await targeting.subtree_paths(session, codes)
    staff = await session.scalars(
        select(Person).where(Person.role.in_([Role.STAFF, Role.ADMIN]), Person.active.is_(True),
                             Person.telegram_id.is_not(None))
    )
    found = []
    for person in staff:
        if person.role is Role.ADMIN:
            found.append(person)
            continue
        scope = await session.scalar(select(Grid.path).where(Grid.id == person.grid_id))
        if scope and any(p.startswith(scope) for p in paths):
            found.append(person)
    return found


def preview_buttons(hub: Hub, lang: str, warning_id: int) -> list[list[notify.Button]]:
    """The wn:<id>:<action> buttons of a preview, as (label, callback data) rows."""
    return [[
        (hub.t(lang, "warn.send"), f"wn:{warning_id}:send"),
        (hub.t(lang, "warn.edit"), f"wn:{warning_id}:edit"),
        (hub.t(lang, "warn.cancel"), f"wn:{warning_id}:cancel"),
    ]]


async def _ask_for_approval(session: AsyncSession, hub: Hub, warning: Warning) -> None:
    def review(lang: str) -> notify.Message:
        text = hub.t(lang, "warn.pending_review", id=warning.id) + "\n\n" + warnings.render(
            hub, warning, lang, preview=True)
        return notify.Message(text, preview_buttons(hub, lang, warning.id))

    for person in await reviewers(session, list(warning.grid_codes)):
        await notify.to_person(
            session, hub, person, review, priority=2,
            ref=("warning_review", warning.id), dedupe_key=f"warning_review:{warning.id}:{person.id}",
        )


async def _cancel(session: AsyncSession, hub: Hub, alert: cap.Alert, actor: str) -> Ingested:
    """Retract what the Cancel names: one retraction message reaches every chat they reached."""
    originals = [w for s, i, _ in alert.references for w in await _by_identity(session, s, i)]
    live = [w for w in originals if w.status is WarningStatus.SENT]
    for held in (w for w in originals if w.status is WarningStatus.PENDING):
        held.status = WarningStatus.DISCARDED
    if not live:
        if originals:
            return Ingested("cancelled", originals[0].id, detail="it was never published")
        return Ingested("unknown_reference", detail="the alert it cancels is not known here")
    info = _pick_info(alert, hub.settings.default_language)
    text = ((info.description or info.headline) if info else None) or hub.t(
        hub.settings.default_language, "warn.cancelled_default")
    first, *others = live
    retraction = await _record(session, hub, alert, info, first, MsgType.CANCEL,
                               sorted({c for w in live for c in w.grid_codes}), first.geometry, text)
    await warnings.send(session, hub, actor, retraction.id)
    for other in others:
        await warnings.retract(session, hub, other, actor)
    return Ingested("cancelled", first.id)


async def _record(
    session: AsyncSession, hub: Hub, alert: cap.Alert, info: cap.Info | None, original: Warning | None,
    msg_type: MsgType, codes: list[str], geometry: dict[str, object] | None, text: str,
) -> Warning:
    now = hub.now()
    level = (Level.from_severity(info.severity) if info else None) or (
        original.level if original else Level.BLUE)
    expires = (info.expires if info and info.expires else None) or max(
        original.expires if original else now, alert.sent + timedelta(hours=hub.settings.warning_hours))
    headline = (info.headline if info else None) or text
    warning = Warning(
        source=Source.CAP, sender=alert.sender, identifier=alert.identifier, sent_at=alert.sent,
        msg_type=msg_type, status=WarningStatus.PENDING, level=level,
        event=(info.event if info else original.event if original else "alert")[:120],
        category=(info.categories[0] if info else "Safety"),
        urgency=info.urgency if info else "Unknown", certainty=info.certainty if info else "Unknown",
        headline=warnings.shorten(headline), description=text[: warnings.MAX_TEXT * 4],
        instruction=info.instruction if info else None,
        language=info.language if info else hub.settings.default_language,
        area_desc="; ".join(a.desc for a in info.areas)[:500] if info and info.areas
        else (original.area_desc if original else ""),
        grid_codes=codes, geometry=geometry,
        effective=(info.effective if info and info.effective else alert.sent),
        expires=expires, references_id=original.id if original else None,
        created_at=now, updated_at=now,
    )
    session.add(warning)
    await session.flush()
    audit.record(session, at=now, actor="cap", entity=AUDIT_ENTITY, entity_id=warning.id,
                 action="received", after={"sender": alert.sender, "identifier": alert.identifier,
                                           "msg_type": msg_type.value, "grids": codes})
    return warning


async def ingest(session: AsyncSession, hub: Hub, alert: cap.Alert) -> Ingested:
    """Decide what one parsed alert becomes. Idempotent on the alert's identity."""
    if alert.status != "Actual" or alert.msg_type not in {"Alert", "Update", "Cancel"}:
        return Ingested("not_actual", detail=f"{alert.status}/{alert.msg_type}")
    if await session.scalar(select(Warning.id).where(
        Warning.sender == alert.sender, Warning.identifier == alert.identifier,
        Warning.sent_at == alert.sent,
    )) is not None:
        return Ingested("duplicate")
    if alert.msg_type == "Cancel":
        return await _cancel(session, hub, alert, "cap:cancel")

    info = _pick_info(alert, hub.settings.default_language)
    if info is None:
        return Ingested("ignored", detail="no <info> block")
    now = hub.now()
    expires = info.expires or alert.sent + timedelta(hours=hub.settings.warning_hours)
    if expires <= now:
        return Ingested("expired", detail=f"expired {expires.isoformat()}")
    geometry = _geometry(info)
    codes = await targeting.grids_in_area(session, geometry)
    original: Warning | None = None
    if alert.msg_type == "Update":
        for sender, identifier, _sent in alert.references:
            for candidate in await _by_identity(session, sender, identifier):
                if candidate.status in (WarningStatus.SENT, WarningStatus.PENDING):
                    original = candidate
        if original is not None:
            codes = sorted(set(codes) | set(original.grid_codes))
    if not codes:
        return Ingested("outside", detail="no grid of this hub is in the alert's area")

    rule, action = load_rules().decide(info.event, info.severity)
    text = info.description or info.headline or info.event
    if original is not None and original.status is WarningStatus.PENDING:
        original.status, original = WarningStatus.DISCARDED, None  # never published: replace it
    msg_type = MsgType.UPDATE if original is not None else MsgType.ALERT
    try:
        async with session.begin_nested():
            warning = await _record(session, hub, alert, info, original, msg_type, codes, geometry, text)
    except IntegrityError:  # another poller stored it first
        return Ingested("duplicate")
    warning.decided_by = f"{rule}:{action}"
    if action == "ignore":
        warning.status = WarningStatus.DISCARDED
        return Ingested("ignored", warning.id, detail=f"rule {rule}")
    if action == "approve":
        await _ask_for_approval(session, hub, warning)
        return Ingested("pending", warning.id, detail=f"rule {rule}")
    await warnings.send(session, hub, f"cap:{rule}", warning.id)
    return Ingested("updated" if original is not None else "published", warning.id)
