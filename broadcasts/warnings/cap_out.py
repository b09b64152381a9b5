"""The hub's warnings as CAP 1.2 alerts and as an ATOM feed, for anyone downstream.

Only published warnings are shown: drafts and alerts waiting for approval never leave the
hub. Each alert carries the hub's sender and the identifier it was given when drafted, so an
update or cancellation can reference it the way CAP consumers expect.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import datetime

from broadcasts.warnings import cap
from broadcasts.warnings.models import MsgType, Source, Warning

ATOM = "http://www.w3.org/2005/Atom"
CAP_MIME = "application/cap+xml"


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


def alert_xml(warning: Warning, original: Warning | None) -> bytes:
    """One warning as a CAP 1.2 document; `original` is the warning an Update/Cancel names."""
    references = []
    if original is not None and warning.msg_type is not MsgType.ALERT:
        references.append((original.sender, original.identifier, _sent(original)))
    info = {
        "language": warning.language,
        "categories": [warning.category or "Safety"],
        "event": warning.event,
        "urgency": "Past" if warning.msg_type is MsgType.CANCEL else warning.urgency,
        "severity": warning.level.severity,
        "certainty": warning.certainty,
        "effective": warning.effective,
        "expires": warning.expires,
        "senderName": "gridcast" if warning.source is not Source.CAP else None,
        "headline": warning.headline,
        "description": warning.description,
        "instruction": warning.instruction,
        "areas": _areas(warning),
    }
    return cap.to_xml({
        "identifier": warning.identifier,
        "sender": warning.sender,
        "sent": _sent(warning),
        "status": "Actual",
        "msgType": warning.msg_type.value,
        "scope": "Public",
        "references": references,
        "infos": [info],
    })


def atom_feed(warnings: Sequence[Warning], *, base_url: str, updated: datetime) -> bytes:
    """An ATOM feed whose entries link each alert's CAP document."""
    ET.register_namespace("", ATOM)
    q = f"{{{ATOM}}}"
    feed = ET.Element(q + "feed")
    ET.SubElement(feed, q + "id").text = f"{base_url}/api/warnings.atom"
    ET.SubElement(feed, q + "title").text = "gridcast warnings"
    ET.SubElement(feed, q + "updated").text = cap.cap_datetime(updated).replace("-00:00", "Z")
    ET.SubElement(feed, q + "link", rel="self", href=f"{base_url}/api/warnings.atom")
    for warning in warnings:
        entry = ET.SubElement(feed, q + "entry")
        ET.SubElement(entry, q + "id").text = f"urn:gridcast:{warning.sender}:{warning.identifier}"
        ET.SubElement(entry, q + "title").text = warning.headline
        ET.SubElement(entry, q + "updated").text = cap.cap_datetime(warning.updated_at).replace("-00:00", "Z")
        ET.SubElement(entry, q + "summary").text = warning.description
        author = ET.SubElement(entry, q + "author")
        ET.SubElement(author, q + "name").text = warning.sender
        ET.SubElement(entry, q + "link", rel="alternate", type=CAP_MIME,
                      href=f"{base_url}/api/warnings/{warning.id}.cap.xml")
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)
