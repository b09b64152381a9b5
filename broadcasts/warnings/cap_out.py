"""The hub's warnings as CAP 1.2 alerts and as an ATOM feed, for anyone downstream.

Only published warnings are shown: drafts and alerts waiting for approval never leave the
hub. Each alert carries the hub's sender and the identifier it was given when drafted, so an
update or cancellation can reference it the way CAP consumers expect; a feed alert goes out
as it came, and one that staff edited goes out as ours, referencing it (`references`).

Every text is stripped of what XML 1.0 cannot carry (control characters, U+FFFE/U+FFFF, lone
surrogates), so one stray character in a warning never makes a document, or the whole feed,
ill-formed. Links and ids are built on GRIDCAST_PUBLIC_URL, never on a request's Host header.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from broadcasts.warnings import cap, references
from broadcasts.warnings.models import MsgType, Warning

ATOM = "http://www.w3.org/2005/Atom"
CAP_MIME = "application/cap+xml"


# What XML 1.0 allows: tab, LF, CR, U+0020-U+D7FF, U+E000-U+FFFD, U+10000-U+10FFFF.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    """`text` without the characters XML 1.0 forbids."""
    return _NOT_XML.sub("", text)


def _xml_safe(value: Any) -> Any:
    """Every string inside plain values (dicts, lists, tuples) made XML-safe."""
    if isinstance(value, str):
        return xml_text(value)
    if isinstance(value, dict):
        return {key: _xml_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_xml_safe(item) for item in value)
    return value


def _sent(warning: Warning) -> datetime:
    assert warning.sent_at is not None, "only published warnings are written as CAP"
    return warning.sent_at


def _areas(warning: Warning) -> list[dict[str, object]]:
    geometry = warning.geometry or {}
    area: dict[str, object] = {
        "desc": warning.area_desc or ", ".join(warning.grid_codes),
        "polygons": [[tuple(p) for p in ring] for ring in geometry.get("polygons", [])],
        "circles": [tuple(c) for c in geometry.get("circles", [])],
        "geocodes": [tuple(g) for g in geometry.get("geocodes", [])]
        + [("gridcast-grid", code) for code in warning.grid_codes],
    }
    return [area]


async def document(session: AsyncSession, warning: Warning) -> bytes:
    """A published warning as CAP 1.2, with the references and signature it is owed."""
    named, ours = await references.cap_references(session, warning)
    return alert_xml(warning, named, ours=ours)


def alert_xml(warning: Warning, named: list[references.Identity], *, ours: bool) -> bytes:
    """One warning as a CAP 1.2 document; `named` are its `<references>`, `ours` whether the
    hub speaks in it (else it is a feed alert passed on as it came)."""
    info = {
        "language": warning.language,
        "categories": [warning.category or "Safety"],
        "event": warning.event,
        "urgency": "Past" if warning.msg_type is MsgType.CANCEL else warning.urgency,
        "severity": warning.level.severity,
        "certainty": warning.certainty,
        "effective": warning.effective,
        "expires": warning.expires,
        "senderName": "gridcast" if ours else None,
        "headline": warning.headline,
        "description": warning.description,
        "instruction": warning.instruction,
        "areas": _areas(warning),
    }
    return cap.to_xml(_xml_safe({
        "identifier": warning.identifier,
        "sender": warning.sender,
        "sent": _sent(warning),
        "status": "Actual",
        "msgType": warning.msg_type.value,
        "scope": "Public",
        "references": named,
        "infos": [info],
    }))


def atom_feed(warnings: Sequence[Warning], *, base_url: str, updated: datetime) -> bytes:
    """An ATOM feed whose entries link each alert's CAP document; `base_url` is the public URL."""
    ET.register_namespace("", ATOM)
    q = f"{{{ATOM}}}"
    feed = ET.Element(q + "feed")
    ET.SubElement(feed, q + "id").text = f"{base_url}/api/warnings.atom"
    ET.SubElement(feed, q + "title").text = "gridcast warnings"
    ET.SubElement(feed, q + "updated").text = cap.cap_datetime(updated).replace("-00:00", "Z")
    ET.SubElement(feed, q + "link", rel="self", href=f"{base_url}/api/warnings.atom")
    for warning in warnings:
        entry = ET.SubElement(feed, q + "entry")
        ET.SubElement(entry, q + "id").text = xml_text(f"urn:gridcast:{warning.sender}:{warning.identifier}")
        ET.SubElement(entry, q + "title").text = xml_text(warning.headline)
        ET.SubElement(entry, q + "updated").text = cap.cap_datetime(warning.updated_at).replace("-00:00", "Z")
        ET.SubElement(entry, q + "summary").text = xml_text(warning.description)
        author = ET.SubElement(entry, q + "author")
        ET.SubElement(author, q + "name").text = xml_text(warning.sender)
        ET.SubElement(entry, q + "link", rel="alternate", type=CAP_MIME,
                      href=f"{base_url}/api/warnings/{warning.id}.cap.xml")
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)
