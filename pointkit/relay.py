"""A township relays for its villages: the same sync endpoints as the hub, served on the LAN.

A village enrolled with ``--via`` this township keeps the township's address
as its hub address and syncs exactly as it would with the hub:

- ``POST /sync/v1/push``: the township checks the framing, that the sender is
  one of its villages and the envelope's signature (it cannot open it: it is
  sealed to the hub), and stores it durably before answering. The answer is
  ``relayed`` until the hub has answered for that envelope, then the hub's own
  answer (accepted, duplicate, conflict, rejected). A village keeps its
  outbox row queued on ``relayed`` and sends it again in its next round, so it
  marks an envelope done only on the hub's ack, as when it pushes directly;
  the township stores each envelope id once and the hub dedupes as always,
  so nothing is lost and nothing is doubled, whoever crashes when.
- ``GET /sync/v1/pull``: the village's messages the township fetched from the
  hub for it, unchanged (sealed to the village, signed by the hub); the
  village's ``after`` tells the township, and through it the hub, what the
  village holds.
- ``GET /sync/v1/catalog``: the hub-signed catalog the township holds.
- ``HEAD``/``GET``/``PATCH /sync/v1/scans/<id>``: the village's scans, held
  and forwarded with the village's signed grant (pointkit/relayscans.py).

The township learns its villages and their keys from the hub (a hub-signed
document) and checks the villages' signed requests itself. In its own sync
round it forwards what it holds with an ordinary push and pulls each
village's messages with its own signed requests (hub/web/relay.py).
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from flask import Blueprint, Response, current_app, request
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, delete, select

from sync.client import HubRefused, HubUnreachable, Narrowing
from sync.clock import now_ms, utcnow
from sync.envelope import Envelope, EnvelopeError, peek_envelope_id
from sync.framing import CONTENT_TYPE, decode_frames, take_within
from sync.http import HEADER_CALENDAR, HEADER_CATALOG_VERSION, HEADER_HUB_TIME, format_held_years, parse_held_years
from sync.keys import unb64
from sync.kit.web import (
    ChunkRequest,
    api_error,
    pull_answer,
    read_chunk_request,
    scan_answer,
    scan_refusal,
    verify_signed_request,
)
from sync.kit.workdays import CALENDAR_YEARS_TYPE
from sync.resumable import PACKED_CONTENT_TYPE, pack_json, ranged_response
from sync.signing import HEADER_POINT, REQUEST_WINDOW_MS, SignatureError
from sync.uploads import ScanError

from . import db
from .calendar import held_versions
from .hubheads import keep_hub_head
from .models import CalendarYear
from .relayscans import MAX_CHUNK_BYTES, forward_scans, held_scan, receive_chunk, status_of
from .relaystore import RelayEnvelope, RelayMessage, RelayNonce, RelayVillage
from .runtime import wake_sync
from .state import get_state, hub_client, load_identity
from .trust import verify_hub_document

log = logging.getLogger("pointkit.relay")
bp = Blueprint("relay", __name__, url_prefix="/sync/v1")

VILLAGES_DOCUMENT_TYPE = "pointkit.relay-villages/v1"
RELAYED = "relayed"
VILLAGES_REFRESH = timedelta(minutes=10)
# A township asks the hub about an unknown sender at most this often (an unknown sender cannot make it hammer the hub).
ON_DEMAND_GAP_S = 5.0
FORWARD_BATCH = 64
FORWARD_MAX_BYTES = 256 * 1024
PULL_MAX_MESSAGES = 200
PULL_MAX_BYTES = 1024 * 1024
MAX_PULL_BATCHES = 50
_ENVELOPE_REFUSALS = (400, 413, 422)

# When each data directory last refreshed its village list, on its round ("round") or for a request ("demand").
_refreshed: dict[tuple[Path, str], datetime] = {}
_refreshed_guard = threading.Lock()


class RelayError(ValueError):
    """The hub's list of villages could not be trusted or fetched."""


# The township's side of its own sync round.

def refresh_villages(data_dir: str | Path, client, *, why: str = "round", now: datetime | None = None) -> int:
    """Fetch and verify the hub-signed list of villages this township relays for; return how many. ``now``: the
    time its next refresh is counted from (a simulated one in bench_sync)."""
    signed = client.relay_villages()
    with db.session_scope(data_dir) as session:
        state = get_state(session)
        try:
            document = verify_hub_document(session, state, signed)
        except SignatureError:
            raise RelayError("the hub's list of villages is not signed by a trusted hub key") from None
        if document.get("type") != VILLAGES_DOCUMENT_TYPE or document.get("relay_id") != state.point_id:
            raise RelayError("the hub's list of villages is not meant for this township")
        listed = set()
        for item in document.get("villages", []):
            village = session.get(RelayVillage, item["point_id"]) or RelayVillage(
                point_id=item["point_id"], name="", status="", updated_at=utcnow())
            village.name, village.status = str(item["name"])[:128], str(item["status"])[:16]
            village.sign_public_keys = json.dumps(item["sign_public_keys"])
            village.updated_at = utcnow()
            session.add(village)
            listed.add(village.point_id)
        for village in session.exec(select(RelayVillage)).all():
            if village.point_id not in listed and village.status != "moved":
                village.status = "moved"
                session.add(village)
    with _refreshed_guard:
        _refreshed[(Path(data_dir).resolve(), why)] = now or utcnow()
    return len(listed)


def _refreshed_within(data_dir: str | Path, seconds: float, why: str = "round", now: datetime | None = None) -> bool:
    with _refreshed_guard:
        last = _refreshed.get((Path(data_dir).resolve(), why))
    return last is not None and abs(((now or utcnow()) - last).total_seconds()) < seconds


def relay_round(data_dir: str | Path, client, report, *, now: datetime | None = None) -> None:
    """A township's part of its sync round: refresh its villages (every VILLAGES_REFRESH, judged at ``now``),
    forward their envelopes, fetch their messages."""
    with db.session_scope(data_dir) as session:
        if get_state(session).level != "township":
            return
    if not _refreshed_within(data_dir, VILLAGES_REFRESH.total_seconds(), now=now):
        try:
            refresh_villages(data_dir, client, now=now)
        except RelayError as exc:
            report.errors.append(str(exc))
            return
    with db.session_scope(data_dir) as session:
        villages = [village.point_id for village in session.exec(
            select(RelayVillage).where(RelayVillage.status == "active")).all()]
        waiting = session.exec(select(RelayEnvelope.id).where(RelayEnvelope.hub_status == "").limit(1)).first()
    if waiting is not None:
        _forward(data_dir, client, report)
    for village_id in villages:
        report.relayed += _fetch_messages(data_dir, client, village_id)
    forward_scans(data_dir, client, report)


def _forward(data_dir: str | Path, client, report) -> None:
    """Push held village envelopes to the hub; record the hub's answer for each as it comes.

    As a point's own push does (pointkit/syncagent.py), a batch the hub refuses or fails on goes again one
    envelope at a time: an envelope the hub fails on stays held for the next round and the others go on, and
    a second failure in a row ends forwarding for this round, never the round itself (the township's scans
    and its villages' messages still go).
    """
    narrowing, held_back = Narrowing(), set()
    while True:
        with db.session_scope(data_dir) as session:
            rows = session.exec(select(RelayEnvelope).where(RelayEnvelope.hub_status == "",
                                                            RelayEnvelope.id.not_in(held_back))  # type: ignore[union-attr]
                                .order_by(RelayEnvelope.village_id, RelayEnvelope.seq)
                                .limit(1 if narrowing.single else FORWARD_BATCH)).all()
        batch = take_within(rows, FORWARD_MAX_BYTES, lambda row: len(row.envelope))
        if not batch:
            return
        try:
            results = [(r.envelope_id, r.status, r.reason, r.message) for r in client.push([r.envelope for r in batch])]
        except HubUnreachable as exc:
            if not narrowing.hub_failed(exc, len(batch), report.errors):
                return
            if len(batch) == 1:
                held_back.add(batch[0].id)
                report.errors.append(f"the county hub failed on village envelope {batch[0].envelope_id} (HTTP "
                                     f"{exc.status}); it is held and goes again next round")
            continue
        except HubRefused as exc:
            if exc.status not in _ENVELOPE_REFUSALS:
                report.errors.append(f"the hub refused the relayed push ({exc.reason}): {exc}")
                return
            if len(batch) > 1:
                narrowing.single = True
                continue
            results = [(batch[0].envelope_id, "rejected", f"hub_refused:{exc.reason}", str(exc))]
        narrowing.answered()
        with db.session_scope(data_dir) as session:
            for envelope_id, status, reason, message in results:
                row = session.exec(select(RelayEnvelope).where(RelayEnvelope.envelope_id == envelope_id)).first()
                if row is not None and status in ("accepted", "duplicate", "conflict", "rejected"):
                    row.hub_status, row.hub_reason, row.hub_message = status, reason[:200], message[:500]
                    row.forwarded_at = utcnow()
                    session.add(row)
            # With the answers: a village told the hub's answer is told the head it came with.
            keep_hub_head(session, get_state(session), client.hub_audit_head)
        report.relayed += len(results)
        log.info("relayed %d village envelope(s) to the hub", len(results))


def _fetch_messages(data_dir: str | Path, client, village_id: str) -> int:
    """Hold the hub's new messages for one village; tell the hub what the village confirmed it holds."""
    fetched = 0
    for _ in range(MAX_PULL_BATCHES):
        with db.session_scope(data_dir) as session:
            village = session.get(RelayVillage, village_id)
            after, delivered = village.hub_cursor, village.delivered
        result = client.relay_pull(village_id, after, delivered)
        with db.session_scope(data_dir) as session:
            village = session.get(RelayVillage, village_id)
            for data in result.envelopes:
                seq = Envelope.parse(data).header.seq
                known = session.exec(select(RelayMessage).where(RelayMessage.village_id == village_id,
                                                                RelayMessage.seq == seq)).first()
                if known is None and seq > village.delivered:
                    session.add(RelayMessage(village_id=village_id, seq=seq, envelope=data, received_at=utcnow()))
            village.hub_cursor = max(village.hub_cursor, result.cursor)
            village.last_seq = max(village.last_seq, client.hub_last_seq or 0)
            village.last_receipt = max(village.last_receipt, client.hub_last_receipt or "")
            session.add(village)
        fetched += len(result.envelopes)
        if not result.envelopes or result.cursor <= after:
            break
    return fetched


# The villages' side: the endpoints a village syncs with.

def _data_dir() -> str:
    return current_app.config["DATA_DIR"]


def _township_clock(session: Session) -> int:
    """This township's best idea of the hub's time: villages learn their clock offset from it."""
    return now_ms() + get_state(session).clock_offset_ms


@bp.after_request
def _stamp_time(response: Response) -> Response:
    with db.session_scope(_data_dir()) as session:
        response.headers[HEADER_HUB_TIME] = str(_township_clock(session))
    return response


def _refresh_on_demand() -> bool:
    """Ask the hub for the village list now (a village enrolled since the last refresh); False if it cannot."""
    data_dir = _data_dir()
    if _refreshed_within(data_dir, ON_DEMAND_GAP_S, "demand"):
        return True
    with db.session_scope(data_dir) as session:
        state = get_state(session)
    if state.level != "township":
        return False
    try:
        with hub_client(state, load_identity(data_dir), attempts=1) as client:
            refresh_villages(data_dir, client, why="demand")
    except (HubUnreachable, HubRefused, RelayError) as exc:
        log.warning("could not refresh the village list from the hub: %s", exc)
        return False
    return True


def _village(point_id: str, *, refresh: bool) -> RelayVillage | None:
    with db.session_scope(_data_dir()) as session:
        village = session.get(RelayVillage, point_id)
    if village is None and refresh and _refresh_on_demand():
        with db.session_scope(_data_dir()) as session:
            village = session.get(RelayVillage, point_id)
    return village if village is not None and village.status != "moved" else None


def _village_keys(village: RelayVillage) -> list[Ed25519PublicKey]:
    return [Ed25519PublicKey.from_public_bytes(unb64(key)) for key in json.loads(village.sign_public_keys)]


def _verify_envelope(envelope: Envelope, village: RelayVillage) -> RelayVillage | None:
    """The village if one of its keys signed ``envelope`` (asking the hub again once: it may have new keys)."""
    for attempt in range(2):
        for key in _village_keys(village):
            try:
                envelope.verify(key)
                return village
            except EnvelopeError:
                continue
        if attempt == 0 and not (_refresh_on_demand() and (village := _village(village.point_id, refresh=False))):
            return None
    return None


def _relay_one(session: Session, frame: bytes, villages: dict[str, RelayVillage | None]) -> dict[str, Any]:
    try:
        envelope = Envelope.parse(frame)
    except EnvelopeError as exc:
        return {"envelope_id": peek_envelope_id(frame), "status": "rejected", "reason": exc.reason,
                "message": str(exc)}
    envelope_id, sender = str(envelope.header.envelope_id), str(envelope.header.sender_id)
    if sender not in villages:
        villages[sender] = _village(sender, refresh=True)
    village = villages[sender]
    if village is None:
        return {"envelope_id": envelope_id, "status": "rejected", "reason": "not_relayed",
                "message": "this township does not relay for this point; ask the county to set its relay"}
    if village.status == "revoked":
        return {"envelope_id": envelope_id, "status": "rejected", "reason": "point_revoked",
                "message": "this point was revoked at the hub"}
    if _verify_envelope(envelope, village) is None:
        return {"envelope_id": envelope_id, "status": "rejected", "reason": "bad_signature",
                "message": "envelope signature does not verify with any key of this village"}
    held = session.exec(select(RelayEnvelope).where(RelayEnvelope.envelope_id == envelope_id)).first()
    if held is None:
        session.add(RelayEnvelope(envelope_id=envelope_id, village_id=sender, seq=envelope.header.seq,
                                  envelope=frame, received_at=utcnow()))
        session.flush()
        return {"envelope_id": envelope_id, "status": RELAYED, "reason": "", "message": "held for the county hub"}
    if held.village_id != sender:
        return {"envelope_id": envelope_id, "status": "rejected", "reason": "envelope_id_taken",
                "message": "another point already sent an envelope with this id"}
    if not held.hub_status:
        return {"envelope_id": envelope_id, "status": RELAYED, "reason": "", "message": "held for the county hub"}
    return {"envelope_id": envelope_id, "status": held.hub_status, "reason": held.hub_reason,
            "message": held.hub_message}


@bp.post("/push")
def relay_push():
    """Hold the villages' envelopes for the hub; answer per envelope (``relayed`` or the hub's answer)."""
    if request.mimetype != CONTENT_TYPE:
        return api_error(415, "unsupported_media_type", f"send Content-Type: {CONTENT_TYPE}")
    try:
        frames = decode_frames(request.get_data())
    except EnvelopeError as exc:
        return api_error(400, exc.reason, f"the body is not a frames body: {exc}")
    villages: dict[str, RelayVillage | None] = {}
    with db.session_scope(_data_dir()) as session:
        results = [_relay_one(session, frame, villages) for frame in frames]
        clock = _township_clock(session)
        hub_head = get_state(session).hub_audit_head
    # Answered only after the commit above: "relayed" means held on this township's disk.
    if any(result["status"] == RELAYED for result in results):
        wake_sync()
    answer: dict[str, Any] = {"results": results, "hub_time_ms": clock}
    if hub_head:  # the hub's head as this township holds it: its villages keep it as the hub's own answer
        answer["audit_head"] = json.loads(hub_head)
    return answer


def _authenticated_village() -> RelayVillage | tuple[Response, int]:
    """Verify a village's signed request and spend its nonce; return the village or the error answer."""
    village = _village(request.headers.get(HEADER_POINT, "")[:36], refresh=True)
    if village is None:
        return api_error(401, "unknown_point", "this township does not relay for this point")
    if village.status == "revoked":
        return api_error(403, "point_revoked", "this point was revoked at the hub")
    data_dir = _data_dir()
    with db.session_scope(data_dir) as session:
        clock = _township_clock(session)
    try:
        signed = verify_signed_request(_village_keys(village), now=clock)
    except SignatureError as refusal:
        return api_error(401, refusal.reason, str(refusal))
    try:
        with db.session_scope(data_dir) as session:
            horizon = utcnow() - timedelta(milliseconds=2 * REQUEST_WINDOW_MS)
            session.exec(delete(RelayNonce).where(RelayNonce.seen_at < horizon))
            session.add(RelayNonce(village_id=village.point_id, nonce=signed.nonce, seen_at=utcnow()))
    except IntegrityError:
        return api_error(401, "replayed", "this request was already used (nonce seen); sign a new one")
    return village


@bp.get("/pull")
def relay_pull():
    """The hub's messages for this village after its cursor, as the hub signed and sealed them; 204 if none."""
    village = _authenticated_village()
    if not isinstance(village, RelayVillage):
        return village
    raw_after = request.args.get("after", "0")
    if not raw_after.isdigit() or len(raw_after) > 18:
        return api_error(400, "bad_cursor", "'after' must be a non-negative integer")
    after = int(raw_after)
    with db.session_scope(_data_dir()) as session:
        held = session.get(RelayVillage, village.point_id)
        held.delivered = max(held.delivered, after)
        session.add(held)
        # The village holds everything up to ``after``: those copies are no longer needed here.
        session.exec(delete(RelayMessage).where(RelayMessage.village_id == village.point_id,
                                                RelayMessage.seq <= after))
        rows = session.exec(select(RelayMessage).where(RelayMessage.village_id == village.point_id,
                                                       RelayMessage.seq > after)
                            .order_by(RelayMessage.seq).limit(PULL_MAX_MESSAGES)).all()
        # With what the hub said of the village's numbering, as the hub's own pull answer says it, and the
        # catalog version this township serves (the village fetches it in its next round, not hourly).
        answer = pull_answer(take_within(rows, PULL_MAX_BYTES, lambda row: len(row.envelope)), after,
                             last_seq=held.last_seq, last_receipt=held.last_receipt)
        if get_state(session).catalog_version:
            answer.headers[HEADER_CATALOG_VERSION] = str(get_state(session).catalog_version)
        answer.headers[HEADER_CALENDAR] = format_held_years(held_versions(session))
        return answer


@bp.get("/catalog")
def relay_catalog():
    """The hub-signed catalog this township holds (the village verifies the hub's signature itself): 204 when
    the village's ``?have=`` is that version; with ``?pack=1`` compressed and resumable, as the hub serves it
    (a township holds only its current version, so it sends that whole, never a delta)."""
    village = _authenticated_village()
    if not isinstance(village, RelayVillage):
        return village
    with db.session_scope(_data_dir()) as session:
        state = get_state(session)
    if not state.catalog_document:
        return api_error(404, "no_catalog", "this township has no catalog from the hub yet; try again later")
    if request.args.get("have") == str(state.catalog_version):
        return "", 204
    signed = {"document": json.loads(state.catalog_document), "signature": state.catalog_signature}
    if request.args.get("pack") == "1":
        return ranged_response(request, pack_json(signed), PACKED_CONTENT_TYPE)
    return signed


@bp.get("/calendar")
def relay_calendar():
    """The hub-signed calendar years this township holds beyond the village's ``?have=`` (the village verifies the
    hub's signature itself), packed and resumable as the hub serves them; 204 when it holds them all."""
    village = _authenticated_village()
    if not isinstance(village, RelayVillage):
        return village
    have = parse_held_years(request.args.get("have"))
    with db.session_scope(_data_dir()) as session:
        years = [{"document": json.loads(row.document), "signature": row.signature}
                 for row in session.exec(select(CalendarYear).order_by(CalendarYear.year)).all()
                 if have.get(row.year, 0) < row.version]
    if not years:
        return "", 204
    return ranged_response(request, pack_json({"type": CALENDAR_YEARS_TYPE, "years": years}), PACKED_CONTENT_TYPE)


@bp.route("/scans/<scan_id>", methods=("GET", "HEAD"))
def relay_scan_offset(scan_id: str):
    """How much of a village's scan this township holds, and whether the hub has it whole yet."""
    village = _authenticated_village()
    if not isinstance(village, RelayVillage):
        return village
    try:
        row = held_scan(_data_dir(), village.point_id, scan_id)
    except ScanError as exc:
        return scan_refusal(exc.status, exc.reason, exc.message, offset=exc.offset)
    return scan_answer(row.scan_id, row.received, row.total, status_of(row))


@bp.patch("/scans/<scan_id>")
def relay_scan_chunk(scan_id: str):
    """Keep the next chunk of a village's scan for the hub (the first one with the village's grant)."""
    asked = read_chunk_request(MAX_CHUNK_BYTES)
    if not isinstance(asked, ChunkRequest):
        return asked
    village = _authenticated_village()
    if not isinstance(village, RelayVillage):
        return village
    try:
        row = receive_chunk(_data_dir(), village.point_id, _village_keys(village), scan_id, asked)
    except ScanError as exc:
        return scan_refusal(exc.status, exc.reason, exc.message, offset=exc.offset)
    if row.received == row.total:
        wake_sync()
    return scan_answer(row.scan_id, row.received, row.total, status_of(row))
