"""CAP 1.2 documents: read safely from strangers' feeds, and written for others to read.

Reading goes through defusedxml, which refuses DTDs and entity expansion (billion laughs,
external entities) before anything is built. A document that is not a CAP 1.2 alert, or
lacks what CAP requires, is refused with a reason naming the element, so the feed that
carried it can log it and go on.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET  # building only; parsing untrusted XML uses defusedxml
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

NS = "urn:oasis:names:tc:emergency:cap:1.2"
_Q = f"{{{NS}}}"
MAX_DOCUMENT_BYTES = 2 << 20

STATUSES = {"Actual", "Exercise", "System", "Test", "Draft"}
MSG_TYPES = {"Alert", "Update", "Cancel", "Ack", "Error"}
SCOPES = {"Public", "Restricted", "Private"}
CATEGORIES = {"Geo", "Met", "Safety", "Security", "Rescue", "Fire", "Health", "Env",
              "Transport", "Infra", "CBRNE", "Other"}
URGENCIES = {"Immediate", "Expected", "Future", "Past", "Unknown"}
SEVERITIES = {"Extreme", "Severe", "Moderate", "Minor", "Unknown"}
CERTAINTIES = {"Observed", "Likely", "Possible", "Unlikely", "Unknown"}
# CAP's dateTime: seconds precision with an explicit offset ("Z" is not allowed by the spec,
# but it is common in the wild and unambiguous, so it is read).
_DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:[+-]\d\d:\d\d|Z)$")


class CapError(ValueError):
    """The document is not an acceptable CAP 1.2 alert; `reason` says why, for the log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Area:
    desc: str
    polygons: list[list[tuple[float, float]]] = field(default_factory=list)  # (lat, lon) rings
    circles: list[tuple[float, float, float]] = field(default_factory=list)  # lat, lon, km
    geocodes: list[tuple[str, str]] = field(default_factory=list)  # (valueName, value)


@dataclass(frozen=True)
class Info:
    language: str
    categories: list[str]
    event: str
    urgency: str
    severity: str
    certainty: str
    headline: str | None
    description: str | None
    instruction: str | None
    effective: datetime | None
    onset: datetime | None
    expires: datetime | None
    sender_name: str | None
    areas: list[Area]


@dataclass(frozen=True)
class Alert:
    identifier: str
    sender: str
    sent: datetime
    status: str
    msg_type: str
    scope: str
    references: list[tuple[str, str, datetime]]  # (sender, identifier, sent)
    infos: list[Info]

    @property
    def key(self) -> tuple[str, str, datetime]:
        return (self.sender, self.identifier, self.sent)


def _text(parent: ET.Element, name: str) -> str | None:
    child = parent.find(_Q + name)
    if child is None or child.text is None:
        return None
    return child.text.strip() or None


def _required(parent: ET.Element, name: str, where: str) -> str:
    value = _text(parent, name)
    if value is None:
        raise CapError(f"missing required <{name}> in <{where}>")
    return value


def _choice(value: str, allowed: set[str], name: str) -> str:
    if value not in allowed:
        raise CapError(f"<{name}> is {value!r}, not one of {', '.join(sorted(allowed))}")
    return value


def parse_datetime(value: str, name: str) -> datetime:
    if not _DATETIME.match(value):
        raise CapError(f"<{name}> {value!r} is not a CAP date-time (YYYY-MM-DDThh:mm:ss+hh:mm)")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise CapError(f"<{name}> {value!r} is not a valid date") from None
    return parsed.astimezone(UTC)


def _optional_datetime(parent: ET.Element, name: str) -> datetime | None:
    value = _text(parent, name)
    return parse_datetime(value, name) if value else None


def _point(text: str, where: str) -> tuple[float, float]:
    try:
        lat_text, lon_text = text.split(",")
        lat, lon = float(lat_text), float(lon_text)
    except ValueError:
        raise CapError(f"<{where}> has a point {text!r} that is not 'lat,lon'") from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise CapError(f"<{where}> has a point {text!r} outside WGS 84 ranges")
    return lat, lon


def _polygon(text: str) -> list[tuple[float, float]]:
    points = [_point(p, "polygon") for p in text.split()]
    if len(points) < 4 or points[0] != points[-1]:
        raise CapError("<polygon> needs at least four points, the first and last the same")
    return points


def _circle(text: str) -> tuple[float, float, float]:
    try:
        centre, radius = text.split()
        km = float(radius)
    except ValueError:
        raise CapError(f"<circle> {text!r} is not 'lat,lon radius'") from None
    if km < 0:
        raise CapError("<circle> has a negative radius")
    return (*_point(centre, "circle"), km)


def _area(element: ET.Element) -> Area:
    return Area(
        desc=_required(element, "areaDesc", "area"),
        polygons=[_polygon(p.text or "") for p in element.findall(_Q + "polygon")],
        circles=[_circle((c.text or "").strip()) for c in element.findall(_Q + "circle")],
        geocodes=[
            (_required(g, "valueName", "geocode"), _required(g, "value", "geocode"))
            for g in element.findall(_Q + "geocode")
        ],
    )


def _info(element: ET.Element) -> Info:
    categories = [_choice((c.text or "").strip(), CATEGORIES, "category")
                  for c in element.findall(_Q + "category")]
    if not categories:
        raise CapError("missing required <category> in <info>")
    return Info(
        language=_text(element, "language") or "en-US",
        categories=categories,
        event=_required(element, "event", "info"),
        urgency=_choice(_required(element, "urgency", "info"), URGENCIES, "urgency"),
        severity=_choice(_required(element, "severity", "info"), SEVERITIES, "severity"),
        certainty=_choice(_required(element, "certainty", "info"), CERTAINTIES, "certainty"),
        headline=_text(element, "headline"),
        description=_text(element, "description"),
        instruction=_text(element, "instruction"),
        effective=_optional_datetime(element, "effective"),
        onset=_optional_datetime(element, "onset"),
        expires=_optional_datetime(element, "expires"),
        sender_name=_text(element, "senderName"),
        areas=[_area(a) for a in element.findall(_Q + "area")],
    )


def _references(value: str | None) -> list[tuple[str, str, datetime]]:
    found = []
    for item in (value or "").split():
        parts = item.split(",")
        if len(parts) != 3:
            raise CapError(f"<references> entry {item!r} is not 'sender,identifier,sent'")
        found.append((parts[0], parts[1], parse_datetime(parts[2], "references")))
    return found


def parse(data: bytes) -> Alert:
    """Read one CAP 1.2 alert, or raise CapError saying what is wrong with it."""
    if len(data) > MAX_DOCUMENT_BYTES:
        raise CapError(f"document of {len(data)} bytes is larger than {MAX_DOCUMENT_BYTES}")
    try:
        root = fromstring(data, forbid_dtd=True)
    except DefusedXmlException as error:
        raise CapError(f"unsafe XML refused ({type(error).__name__})") from None
    except ET.ParseError as error:
        raise CapError(f"broken XML: {error}") from None
    if root.tag != _Q + "alert":
        raise CapError(f"root element is {root.tag!r}, not a CAP 1.2 <alert>")
    identifier = _required(root, "identifier", "alert")
    sender = _required(root, "sender", "alert")
    for name, value in (("identifier", identifier), ("sender", sender)):
        if any(ch in value for ch in " ,<&"):
            raise CapError(f"<{name}> {value!r} contains a space, comma or restricted character")
    msg_type = _choice(_required(root, "msgType", "alert"), MSG_TYPES, "msgType")
    alert = Alert(
        identifier=identifier,
        sender=sender,
        sent=parse_datetime(_required(root, "sent", "alert"), "sent"),
        status=_choice(_required(root, "status", "alert"), STATUSES, "status"),
        msg_type=msg_type,
        scope=_choice(_required(root, "scope", "alert"), SCOPES, "scope"),
        references=_references(_text(root, "references")),
        infos=[_info(i) for i in root.findall(_Q + "info")],
    )
    if msg_type in {"Update", "Cancel"} and not alert.references:
        raise CapError(f"a {msg_type} must name the alert it changes in <references>")
    return alert


# --- writing ------------------------------------------------------------------------------


def cap_datetime(value: datetime) -> str:
    """CAP wants seconds and an explicit offset, never 'Z'."""
    return value.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "-00:00")


def _sub(parent: ET.Element, name: str, text: str | None) -> ET.Element | None:
    if text is None or text == "":
        return None
    child = ET.SubElement(parent, _Q + name)
    child.text = text
    return child


def to_xml(alert: dict[str, Any]) -> bytes:
    """Write a CAP 1.2 alert from plain values, elements in the order the schema demands."""
    ET.register_namespace("", NS)
    root = ET.Element(_Q + "alert")
    for name in ("identifier", "sender"):
        _sub(root, name, alert[name])
    _sub(root, "sent", cap_datetime(alert["sent"]))
    for name in ("status", "msgType", "source", "scope", "note"):
        _sub(root, name, alert.get(name))
    if alert.get("references"):
        _sub(root, "references", " ".join(
            f"{s},{i},{cap_datetime(t)}" for s, i, t in alert["references"]
        ))
    for info in alert.get("infos", []):
        element = ET.SubElement(root, _Q + "info")
        _sub(element, "language", info.get("language"))
        for category in info["categories"]:
            _sub(element, "category", category)
        _sub(element, "event", info["event"])
        for name in ("urgency", "severity", "certainty"):
            _sub(element, name, info[name])
        for name in ("effective", "onset", "expires"):
            if info.get(name) is not None:
                _sub(element, name, cap_datetime(info[name]))
        for name in ("senderName", "headline", "description", "instruction", "web"):
            _sub(element, name, info.get(name))
        for area in info.get("areas", []):
            area_element = ET.SubElement(element, _Q + "area")
            _sub(area_element, "areaDesc", area["desc"])
            for ring in area.get("polygons", []):
                _sub(area_element, "polygon", " ".join(f"{lat},{lon}" for lat, lon in ring))
            for lat, lon, km in area.get("circles", []):
                _sub(area_element, "circle", f"{lat},{lon} {km}")
            for name, value in area.get("geocodes", []):
                geocode = ET.SubElement(area_element, _Q + "geocode")
                _sub(geocode, "valueName", name)
                _sub(geocode, "value", value)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
