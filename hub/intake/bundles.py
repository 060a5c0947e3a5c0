"""USB bundles at the hub: ingest a point's bundle like a push, export a point's messages like a pull.

A point's bundle is verified whole with the keys the point has held, then
each envelope goes through ``ingest_envelopes`` exactly as if it had been
pushed, so a copy that already arrived online answers "duplicate". Then
each sealed scan is stored as if its missing chunks had been uploaded
(after the envelopes: a scan needs its case). The bundle's ``cursor`` is
the point's pull cursor: messages up to it reached the point, so they are
marked delivered as a pull would.

A hub bundle carries the point's undelivered messages (signed and sealed as
for a pull) and, as ``acks``, the hub's answer for every envelope it holds
from that point from the last ``ACK_WINDOW_DAYS``, and as ``scan_acks`` how
much of each of its scans the hub holds, so a point that only ever syncs
by USB still learns which of its envelopes and scans are done. It also
carries the county data the point lacks (``county_data``): the catalog, as
a delta from the version the point last said it holds or whole, and the
signed calendar years it lacks; a point that is current gets none. A
point's bundle says what it holds (``holds``), and the hub keeps that.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlmodel import Session, select

from sync.bundle import BundleError, read_bundle, write_bundle
from sync.envelope import HUB_SENDER_ID
from sync.http import format_held_years, parse_held_years

from hub.approval.scans import store_bundled_scan
from hub.catalog.calendar import year_documents
from hub.catalog.files import CatalogError
from hub.catalog.versions import catalog_answer
from hub.core.audit import append_audit
from hub.core.clock import utc_now
from hub.core.models import CaseScan, HubKey, OutMessage, Point, RawEnvelope
from hub.core.outbox import mark_delivered
from hub.intake.ingest import ingest_envelopes
from hub.intake.sealing import seal_pending
from hub.trust.auditheads import signed_head
from hub.trust.countyheads import write_county_head
from hub.trust.keys import Keyring
from hub.trust.points import find_point, point_verifiers

ACK_WINDOW_DAYS = 90
# How a stored envelope's outcome reads to the point, as a push would have answered it.
_ACK_STATUS = {"rejected": "rejected", "conflict": "conflict"}


@dataclass
class ImportReport:
    """What a point's bundle did at the hub."""

    point_name: str
    results: list[dict[str, Any]]
    delivered: int
    # scan id -> "accepted", "duplicate" or "rejected: why"
    scans: dict[str, str] = field(default_factory=dict)


@dataclass
class ExportReport:
    """What a hub bundle for a point holds."""

    point_name: str
    messages: int
    acks: int
    cursor: int
    # The county data it carries: the catalog version it leads to (None: the point is current), calendar years.
    catalog_version: int | None = None
    calendar_years: list[int] = field(default_factory=list)


def _sender_keys(session: Session):
    def keys(manifest: dict[str, Any]) -> list[Ed25519PublicKey]:
        point = session.get(Point, uuid.UUID(str(manifest["sender_id"])))
        return point_verifiers(session, point) if point is not None and point.sign_public_key else []
    return keys


def import_point_bundle(session: Session, path: Path, *, keyring: Keyring, data_dir: Path,
                        actor: str = "cli") -> ImportReport:
    """Verify a point's bundle whole, then ingest each envelope as a push would, then store its scans."""
    bundle = read_bundle(path, _sender_keys(session))
    point = session.get(Point, uuid.UUID(bundle.sender_id))
    if point.status == "revoked":
        raise BundleError("point_revoked", f"point {point.name} was revoked; its bundle is refused")
    fingerprints = set(session.exec(select(HubKey.fingerprint)).all())
    if bundle.recipient not in fingerprints:
        raise BundleError("wrong_hub", "this bundle was made for another hub (its recipient fingerprint is not "
                          "one of this hub's keys); nothing was applied")
    results = ingest_envelopes(session, bundle.envelopes, keyring=keyring).results
    note_holdings(session, point, bundle.holds)
    scans = {scan_id: store_bundled_scan(session, data_dir, point.id, scan_id, sealed)
             for scan_id, sealed in bundle.scans.items()}
    delivered = 0
    if bundle.cursor is not None:
        delivered = mark_delivered(session, point, bundle.cursor)
    append_audit(session, actor=actor, action="bundle_imported", subject=f"point:{point.name}",
                 detail={"point_id": str(point.id), "envelopes": len(bundle.envelopes), "cursor": bundle.cursor,
                         "scans": len(scans)})
    session.commit()
    return ImportReport(point.name, results, delivered, scans)


def note_holdings(session: Session, point: Point, holds: dict[str, Any]) -> None:
    """Keep the county data a point's bundle says it holds (what its next hub bundle need not carry)."""
    catalog, calendar = holds.get("catalog"), holds.get("calendar")
    if isinstance(catalog, int) and not isinstance(catalog, bool) and 0 <= catalog < 2**31:
        point.catalog_held = catalog
    if isinstance(calendar, str):
        point.calendar_held = format_held_years(parse_held_years(calendar))[:400]
    session.add(point)


def county_data_for(session: Session, point: Point, keyring: Keyring) -> dict[str, Any]:
    """The catalog and calendar years ``point`` lacks, as it last said what it holds (none when it is current)."""
    data: dict[str, Any] = {}
    try:
        catalog = catalog_answer(session, point.catalog_held or None, keyring.current, protocol=point.protocol)
    except CatalogError:
        catalog = None  # the hub has no catalog yet
    if catalog is not None:
        data["catalog"] = catalog
    years = year_documents(session, parse_held_years(point.calendar_held))
    if years:
        data["calendar"] = years
    return data


def point_acks(session: Session, point: Point, *, days: int = ACK_WINDOW_DAYS) -> list[dict[str, Any]]:
    """The hub's answer for each envelope it holds from ``point`` received in the last ``days``."""
    since = utc_now() - timedelta(days=days)
    rows = session.exec(select(RawEnvelope).where(RawEnvelope.point_id == point.id,
                                                  RawEnvelope.received_at >= since)
                        .order_by(RawEnvelope.seq)).all()
    return [{"envelope_id": row.envelope_id, "status": _ACK_STATUS.get(row.outcome, "accepted"),
             "reason": row.reason if row.outcome in _ACK_STATUS else ""} for row in rows]


def point_scan_acks(session: Session, point: Point, *, days: int = ACK_WINDOW_DAYS) -> list[dict[str, Any]]:
    """How much of each scan of ``point``'s cases (listed in the last ``days``) the hub holds."""
    since = utc_now() - timedelta(days=days)
    rows = session.exec(select(CaseScan).where(CaseScan.point_id == point.id, CaseScan.created_at >= since)
                        .order_by(CaseScan.created_at)).all()
    return [{"scan_id": row.scan_id, "offset": row.received, "status": row.status} for row in rows]


def export_point_bundle(session: Session, name: str, path: Path, *, keyring: Keyring,
                        actor: str = "cli") -> ExportReport:
    """Write the point's undelivered messages and the hub's acks to ``path``, signed by the hub; with the audit
    county head over every chain as it stood before this export, signed, for the point to keep
    (hub/trust/auditheads.py)."""
    write_county_head(session)
    head = signed_head(session, keyring.current)
    point = find_point(session, name)
    if point is None:
        raise BundleError("unknown_point", f"no point named {name!r}; see 'pointkit-hub points list'")
    if point.status != "active":
        raise BundleError("point_not_active", f"point {point.name} is {point.status}; only an enrolled, "
                          "unrevoked point gets bundles")
    messages = session.exec(select(OutMessage).where(OutMessage.point_id == point.id,
                                                     OutMessage.delivered_at.is_(None))  # type: ignore[union-attr]
                            .order_by(OutMessage.seq)).all()
    seal_pending(session, messages, keyring)
    acks = point_acks(session, point)
    cursor = messages[-1].seq if messages else 0
    county_data = county_data_for(session, point, keyring)
    write_bundle(path, [message.envelope for message in messages], signer=keyring.current.sign_key,
                 sender_id=HUB_SENDER_ID, recipient=str(point.id), acks=acks, cursor=cursor,
                 scan_acks=point_scan_acks(session, point),
                 numbers={"last_seq": point.last_seq, "last_receipt": point.last_receipt},
                 county_data=county_data, audit_head=head)
    append_audit(session, actor=actor, action="bundle_exported", subject=f"point:{point.name}",
                 detail={"point_id": str(point.id), "messages": len(messages), "acks": len(acks),
                         "catalog": (county_data.get("catalog") or {}).get("document", {}).get("version"),
                         "calendar_years": len(county_data.get("calendar", []))})
    session.commit()
    return ExportReport(point.name, len(messages), len(acks), cursor,
                        catalog_version=(county_data.get("catalog") or {}).get("document", {}).get("version"),
                        calendar_years=[year["document"]["year"] for year in county_data.get("calendar", [])])

