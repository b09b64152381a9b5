"""Turning a CAP alert read from a feed into a warning of the hub's own — or into nothing.

Each alert is looked at once: its identity (sender, identifier, sent) is stored with the
warning it became, so reading it again is a no-op. Updates and Cancels find the alert they
name and change it, reaching the chats it reached — but only alerts of their own sender: a
reference to anyone else's alert (the hub's own warnings included) is refused and logged.
Expired alerts and alerts for places the hub has no grids in are skipped; rules in content
decide what waits for staff, for Updates and Cancels as for any alert.
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

from broadcasts.warnings import cap, references, targeting
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
    "cancelled", "unknown_reference", "not_actual", "refused",
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
    """The info block in the hub's language if there is one, then English, then the first.

    Chinese is matched by its script whatever the tag says it with: a zh-Hans hub reads
    zh-CN, zh-SG, zh and zh-Hans; a zh-Hant hub zh-TW, zh-HK, zh-MO and zh-Hant. Chinese in
    the other script still comes before English.
    """
    def tongue(tag: str) -> tuple[str, str]:
        base, *rest = tag.replace("_", "-").lower().split("-")
        if base != "zh":
            return base, ""
        traditional = "hans" not in rest and any(p in ("hant", "tw", "hk", "mo") for p in rest)
        return base, "hant" if traditional else "hans"

    wanted = tongue(language)

    def rank(info: cap.Info) -> int:
        found = tongue(info.language)
        return 0 if found == wanted else 1 if found[0] == wanted[0] else 2 if found[0] == "en" else 3

    return min(alert.infos, key=rank, default=None)  # the first of the best


async def _by_identity(session: AsyncSession, sender: str, identifier: str) -> list[Warning]:
    """The feed alerts with this identity (never a warning made here, whatever it claims)."""
    return list(await session.scalars(
        select(Warning).where(Warning.sender == sender, Warning.identifier == identifier,
                              Warning.source == Source.CAP)
        .order_by(Warning.id)
    ))


async def _named(session: AsyncSession, alert: cap.Alert) -> list[tuple[Warning, Warning]]:
    """What an Update or Cancel names: (the feed alert as received, what stands for it now)."""
    return [(named, await references.in_force(session, named))
            for sender, identifier, _sent in alert.references
            for named in await _by_identity(session, sender, identifier)]


def _refusal(hub: Hub, alert: cap.Alert) -> str | None:
    """Why this alert may not be read at all, if it may not."""
    if alert.sender == hub.settings.cap_sender:
        return f"its <sender> {alert.sender!r} is this hub's own (GRIDCAST_CAP_SENDER)"
    if alert.msg_type in {"Update", "Cancel"}:
        for sender, identifier, _sent in alert.references:
            if sender != alert.sender:
                return (f"<references> names {identifier!r} of sender {sender!r}, and an "
                        f"{alert.msg_type} from {alert.sender!r} may change only that sender's alerts")
    return None


def _refused(alert: cap.Alert, reason: str) -> Ingested:
    log.warning("CAP %s %s from %s refused: %s", alert.msg_type, alert.identifier, alert.sender, reason)
    return Ingested("refused", detail=reason)


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


async def _cancel(session: AsyncSession, hub: Hub, alert: cap.Alert) -> Ingested:
    """Retract what the Cancel names: one retraction message reaches every chat they reached.

    The retraction goes through the rules like any alert, so its text may wait for staff.
    What never went out is simply dropped; what has already expired is marked cancelled
    without a message.
    """
    named = await _named(session, alert)
    if not named:
        return Ingested("unknown_reference", detail="the alert it cancels is not known here")
    now = hub.now()
    for _received, held in named:
        if held.status is WarningStatus.PENDING:
            held.status, held.updated_at = WarningStatus.DISCARDED, now
            audit.record(session, at=now, actor="cap:cancel", entity=AUDIT_ENTITY, entity_id=held.id,
                         action="discard", after={"cancelled_by": alert.identifier})
    sent = [(received, current) for received, current in named if current.status is WarningStatus.SENT]
    for _received, over in (pair for pair in sent if pair[1].expires <= now):
        await warnings.retract(session, hub, over, "cap:cancel")
    live = [(received, current) for received, current in sent if current.expires > now]
    if not live:
        _received, current = (sent or named)[0]
        detail = ("it had already expired; no retraction sent" if sent
                  else "it was never published" if current.status is WarningStatus.DISCARDED
                  else f"nothing to retract: it is {current.status.value}")
        return Ingested("cancelled", current.id, detail=detail)
    info = _pick_info(alert, hub.settings.default_language)
    text = ((info.description or info.headline) if info else None) or hub.t(
        hub.settings.default_language, "warn.cancelled_default")
    (received, first), *others = live
    try:
        async with session.begin_nested():
            retraction = await _record(session, hub, alert, info, received, MsgType.CANCEL,
                                       sorted({c for _, w in live for c in w.grid_codes}),
                                       first.geometry, text)
    except IntegrityError:  # another poller stored it first
        return Ingested("duplicate")
    # An all-clear must outlive the moment it is read, whatever its own <expires> says.
    retraction.expires = max(retraction.expires, first.expires, now + timedelta(hours=1))
    rule, action = load_rules().decide(info.event if info else first.event,
                                       info.severity if info else first.level.severity)
    if not await _decided(session, hub, retraction, rule, action):
        if others:
            log.warning("CAP Cancel %s not sent (rule %s): %d more alerts it names stay in force",
                        alert.identifier, rule, len(others))
        waits = "is ignored" if action == "ignore" else "waits for staff approval"
        return Ingested(_HELD[action], retraction.id, detail=f"rule {rule}: the retraction {waits}")
    for _received, other in others:
        await warnings.retract(session, hub, other, f"cap:{rule}")
    return Ingested("cancelled", first.id)


_HELD: dict[Action, Outcome] = {"ignore": "ignored", "approve": "pending"}


async def _decided(session: AsyncSession, hub: Hub, warning: Warning, rule: str, action: Action) -> bool:
    """Apply the rules' decision to a recorded alert; True if it was sent."""
    warning.decided_by = f"{rule}:{action}"
    if action == "ignore":
        warning.status = WarningStatus.DISCARDED
        return False
    if action == "approve":
        await _ask_for_approval(session, hub, warning)
        return False
    await warnings.send(session, hub, f"cap:{rule}", warning.id)
    return True


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
    if (reason := _refusal(hub, alert)) is not None:
        return _refused(alert, reason)
    if await session.scalar(select(Warning.id).where(
        Warning.sender == alert.sender, Warning.identifier == alert.identifier,
        Warning.sent_at == alert.sent,
    )) is not None:
        return Ingested("duplicate")
    if alert.msg_type == "Cancel":
        return await _cancel(session, hub, alert)

    info = _pick_info(alert, hub.settings.default_language)
    if info is None:
        return Ingested("ignored", detail="no <info> block")
    now = hub.now()
    expires = info.expires or alert.sent + timedelta(hours=hub.settings.warning_hours)
    if expires <= now:
        return Ingested("expired", detail=f"expired {expires.isoformat()}")
    codes, geometry = await targeting.area_of(session, info)  # off the event loop; stored bounded
    received: Warning | None = None  # the feed alert the Update names, as received
    original: Warning | None = None  # what stands for it now (staff's restatement, if any)
    if alert.msg_type == "Update":
        for candidate, current in await _named(session, alert):
            if current.status is WarningStatus.PENDING or (
                current.status is WarningStatus.SENT and current.expires > now
            ):
                received, original = candidate, current
        if original is not None:
            codes = sorted(set(codes) | set(original.grid_codes))
    if not codes:
        return Ingested("outside", detail="no grid of this hub is in the alert's area")

    rule, action = load_rules().decide(info.event, info.severity)
    text = info.description or info.headline or info.event
    if original is not None and original.status is WarningStatus.PENDING:
        original.status, original, received = WarningStatus.DISCARDED, None, None  # never published: replace it
    msg_type = MsgType.UPDATE if original is not None else MsgType.ALERT
    try:
        async with session.begin_nested():
            warning = await _record(session, hub, alert, info, received, msg_type, codes, geometry, text)
    except IntegrityError:  # another poller stored it first
        return Ingested("duplicate")
    if not await _decided(session, hub, warning, rule, action):
        return Ingested(_HELD[action], warning.id, detail=f"rule {rule}")
    return Ingested("updated" if original is not None else "published", warning.id)
