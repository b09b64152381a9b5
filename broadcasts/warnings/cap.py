"""CAP documents: read safely from strangers' feeds, and written for others to read.

Reading goes through defusedxml, which refuses DTDs and entity expansion (billion laughs,
external entities) before anything is built. CAP 1.2 is read, and CAP 1.1 too: every field
the hub uses is the same in both, so a 1.1 document is read as 1.2 and its notes say so.
A namespace prefix (`<cap:alert>`) or an ISO-8859-1 document changes nothing. A document
that is not a CAP alert, or lacks what CAP requires, is refused with a reason naming the
element, so the feed that carried it can log it and go on. A part that carries nothing (an
empty or flat polygon) is skipped with a note instead, and the rest of the alert still counts.
"""

from __future__ import annotations

import codecs
import re
import xml.etree.ElementTree as ET  # building only; parsing untrusted XML uses defusedxml
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from broadcasts.warnings import cap_areas
from broadcasts.warnings.cap_areas import show as _show

NS = "urn:oasis:names:tc:emergency:cap:1.2"
NS_1_1 = "urn:oasis:names:tc:emergency:cap:1.1"
NS_1_0 = "http://www.incident.com/cap/1.0"
_Q = f"{{{NS}}}"
_Q_1_1 = f"{{{NS_1_1}}}"
MAX_DOCUMENT_BYTES = 2 << 20
# Limits a document must keep, far above what real publishers send (their largest alerts are
# under 1 MB, with polygons of a few thousand points), so that a hostile one costs bounded work
# (the points of a polygon and a circle's radius: cap_areas.py).
MAX_AREAS = 1_000  # all <info> blocks together
MAX_SHAPES_PER_AREA = 1_000  # polygons and circles of one <area>

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
_ALERT_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?alert[\s>/]")
_DECLARED = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")


class CapError(ValueError):
    """The document is not an acceptable CAP alert; `reason` says why, for the log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NotCap(CapError):
    """Readable XML, but no CAP alert at all (a feed, a web page): nothing to refuse."""


@dataclass(frozen=True)
class Area:
    desc: str
    # (lat, lon) rings; (n, 2) arrays once `packed` for the trip out of the CAP process
    polygons: list[list[tuple[float, float]]] = field(default_factory=list)
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
    notes: tuple[str, ...] = ()  # parts skipped or mended, for the poll's outcome


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
    version: str = "1.2"
    notes: tuple[str, ...] = ()  # how the document was read (CAP 1.1, its encoding)

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
        raise CapError(f"<{name}> is {_show(value)}, not one of {', '.join(sorted(allowed))}")
    return value


def parse_datetime(value: str, name: str) -> datetime:
    if not _DATETIME.match(value):
        raise CapError(f"<{name}> {_show(value)} is not a CAP date-time (YYYY-MM-DDThh:mm:ss+hh:mm)")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise CapError(f"<{name}> {value!r} is not a valid date") from None
    return parsed.astimezone(UTC)


def _optional_datetime(parent: ET.Element, name: str) -> datetime | None:
    value = _text(parent, name)
    return parse_datetime(value, name) if value else None


def _area(element: ET.Element, notes: list[str]) -> Area:
    desc = _required(element, "areaDesc", "area")
    polygons = element.findall(_Q + "polygon")
    circles = [(c.text or "").strip() for c in element.findall(_Q + "circle")]
    if len(polygons) + len(circles) > MAX_SHAPES_PER_AREA:
        raise CapError(f"area {_show(desc)} has {len(polygons) + len(circles)} polygons and circles, "
                       f"more than the {MAX_SHAPES_PER_AREA} read")
    try:
        rings = [ring for p in polygons if (ring := cap_areas.polygon(p.text or "", desc, notes)) is not None]
        centres = [cap_areas.circle(c) for c in circles if c]
    except cap_areas.ShapeError as error:
        raise CapError(error.reason) from None
    if "" in circles:
        notes.append(f"area {_show(desc)}: an empty <circle> was skipped")
    geocodes = []
    for geocode in element.findall(_Q + "geocode"):
        name, value = _text(geocode, "valueName"), _text(geocode, "value")
        if name is None or value is None:
            notes.append(f"area {_show(desc)}: a <geocode> without valueName or value was skipped")
            continue
        geocodes.append((name, value))
    return Area(desc=desc, polygons=rings, circles=centres, geocodes=geocodes)


def _info(element: ET.Element) -> Info:
    categories = [_choice((c.text or "").strip(), CATEGORIES, "category")
                  for c in element.findall(_Q + "category")]
    if not categories:
        raise CapError("missing required <category> in <info>")
    notes: list[str] = []
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
        areas=[_area(a, notes) for a in element.findall(_Q + "area")],
        notes=tuple(dict.fromkeys(notes)),
    )


def _references(value: str | None) -> list[tuple[str, str, datetime]]:
    found = []
    for item in (value or "").split():
        parts = item.split(",")
        if len(parts) != 3:
            raise CapError(f"<references> entry {_show(item)} is not 'sender,identifier,sent'")
        found.append((parts[0], parts[1], parse_datetime(parts[2], "references")))
    return found


def looks_like_alert(data: bytes) -> bool:
    """Whether a document claims, at its start, to be a CAP alert (an alert tag and a CAP
    namespace), so that when it cannot be read it is a refused alert, not some other page."""
    head = data[:8192]
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        head = head.decode("utf-16", "replace").encode()
    return bool(_ALERT_TAG.search(head)) and any(ns.encode() in head for ns in (NS, NS_1_1, NS_1_0))


def _xml(data: bytes | str) -> ET.Element:
    """The element tree, with DTDs and entity tricks refused (defusedxml)."""
    try:
        parser = DefusedXMLParser(target=ET.TreeBuilder(), forbid_dtd=True)
        parser.feed(data)
        return parser.close()
    except DefusedXmlException as error:
        raise CapError(f"unsafe XML refused ({type(error).__name__})") from None


def _fallback_encoding(data: bytes, charset: str | None) -> str | None:
    """For bytes that are not UTF-8 and declare nothing else: the HTTP charset, else cp1252."""
    declared = _DECLARED.match(data[:256])
    if declared:
        try:
            if codecs.lookup(declared.group(1).decode()).name != "utf-8":
                return None  # the parser already read it in the encoding it declares
        except LookupError:
            return None
    try:
        data.decode("utf-8")
        return None  # UTF-8 all right: what broke is the XML itself
    except UnicodeDecodeError:
        pass
    for name in (charset, "windows-1252"):
        try:
            if name and codecs.lookup(name).name != "utf-8":
                return codecs.lookup(name).name
        except LookupError:
            continue
    return None


def _root(data: bytes, charset: str | None, notes: list[str]) -> ET.Element:
    try:
        return _xml(data)
    except ET.ParseError as error:
        broken = f"broken XML: {error}"
    encoding = _fallback_encoding(data, charset)
    if encoding is None:
        raise CapError(broken)
    try:  # a str carries no encoding of its own: the parser takes it as it is
        root = _xml(data.decode(encoding, errors="replace"))
    except ET.ParseError:
        raise CapError(broken) from None
    notes.append(f"not UTF-8 and declaring no encoding: read as {encoding}")
    return root


def _version(root: ET.Element) -> str:
    namespace, _, local = root.tag[1:].partition("}") if root.tag.startswith("{") else ("", "", root.tag)
    if local != "alert":
        raise NotCap(f"root element is {root.tag!r}, not a CAP 1.2 <alert> (nor 1.1)")
    if namespace == NS:
        return "1.2"
    if namespace == NS_1_1:
        for element in root.iter():  # 1.1's elements are 1.2's under another namespace
            if element.tag.startswith(_Q_1_1):
                element.tag = _Q + element.tag[len(_Q_1_1):]
        return "1.1"
    if namespace == NS_1_0:
        raise CapError("a CAP 1.0 <alert>: only CAP 1.2 and 1.1 are read")
    raise CapError(f"<alert> in namespace {namespace!r}, not CAP 1.2 or 1.1")


def parse(data: bytes, *, charset: str | None = None) -> Alert:
    """Read one CAP alert (1.2, or 1.1 read as 1.2), or raise CapError saying what is wrong.

    `charset` is what the HTTP answer declared; it is used only for a document that is not
    UTF-8 and declares no encoding of its own (ISO-8859-1 sent without an XML declaration).
    """
    if len(data) > MAX_DOCUMENT_BYTES:
        raise CapError(f"document of {len(data)} bytes is larger than {MAX_DOCUMENT_BYTES}")
    notes: list[str] = []
    root = _root(data, charset, notes)
    version = _version(root)
    if version != "1.2":
        notes.insert(0, f"CAP {version}, read as 1.2 (the fields used here are the same)")
    areas = len(root.findall(f"{_Q}info/{_Q}area"))
    if areas > MAX_AREAS:
        raise CapError(f"{areas} <area> blocks, more than the {MAX_AREAS} read")
    identifier = _required(root, "identifier", "alert")
    sender = _required(root, "sender", "alert")
    for name, value in (("identifier", identifier), ("sender", sender)):
        if any(ch in value for ch in " ,<&"):
            raise CapError(f"<{name}> {_show(value)} contains a space, comma or restricted character")
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
        version=version,
        notes=tuple(notes),
    )
    if msg_type in {"Update", "Cancel"} and not alert.references:
        raise CapError(f"a {msg_type} must name the alert it changes in <references>")
    return alert


def packed(alert: Alert) -> Alert:
    """The alert with each polygon as an (n, 2) array of (lat, lon): what the CAP process
    (`worker`) hands back. A polygon of 20,000 points then crosses the process boundary as one
    block of memory, where as tuples the receiving process would rebuild 20,000 of them while
    holding the GIL its event loop needs."""
    return replace(alert, infos=[
        replace(info, areas=[
            replace(area, polygons=[np.asarray(ring, dtype=np.float64) for ring in area.polygons])
            for area in info.areas
        ])
        for info in alert.infos
    ])


def read(data: bytes, *, charset: str | None = None) -> Alert:
    """`parse`, `packed`: how the CAP process reads a document for the hub."""
    return packed(parse(data, charset=charset))


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
