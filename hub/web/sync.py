"""The sync endpoints points talk to: enroll, push, pull, catalog (``/sync/v1``)."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from flask import Blueprint, Response, request
from sqlalchemy.exc import IntegrityError
from sqlmodel import delete

from sync.clock import now_ms
from sync.envelope import EnvelopeError
from sync.framing import CONTENT_TYPE, decode_frames
from sync.http import HEADER_CALENDAR, HEADER_CATALOG_VERSION, HEADER_HUB_TIME, format_held_years, parse_held_years
from sync.kit.openapi import documented
from sync.kit.web import (
    ChunkRequest,
    api_error,
    parse_json_body,
    pull_answer,
    read_chunk_request,
    scan_answer,
    scan_refusal,
    verify_signed_request,
)
from sync.kit.workdays import CALENDAR_YEARS_TYPE
from sync.resumable import PACKED_CONTENT_TYPE, pack_json, ranged_response
from sync.signing import HEADER_POINT, REQUEST_WINDOW_MS, SignatureError, request_protocol
from sync.uploads import HEADER_SCAN_GRANT, ScanError

from hub.approval.scans import MAX_CHUNK_BYTES, append_chunk, scan_offset
from hub.catalog.calendar import calendar_versions, year_documents
from hub.catalog.files import CatalogError
from hub.catalog.versions import catalog_answer, current_version_number, packed_catalog_answer
from hub.core.clock import utc_now
from hub.core.db import reads_only
from hub.core.models import Point, SeenNonce
from hub.core.outbox import mark_delivered, note_protocol
from hub.intake.ingest import ingest_envelopes
from hub.intake.intaketime import note_sealed
from hub.intake.sealing import messages_after
from hub.trust.countyheads import DEFAULT_COUNTY_HEAD_EVERY_S, signed_county_head
from hub.trust.enrollment import EnrollmentError, enroll
from hub.trust.points import point_verifiers
from hub.web.context import configured_budget_mib, current_keyring, get_session
from hub.web.schemas import EnrollRequest, EnrollResponse

bp = Blueprint("sync", __name__, url_prefix="/sync/v1")
log = logging.getLogger(__name__)

PUSH_MAX_BYTES = 16 * 1024 * 1024


@bp.after_app_request
def _stamp_hub_time(response: Response) -> Response:
    # Points learn their clock offset from every sync answer, refusals and unknown paths included
    # (village clocks drift; a stale refusal is how a far-off point learns the hub's time).
    if request.path.startswith(bp.url_prefix + "/"):
        response.headers[HEADER_HUB_TIME] = str(now_ms())
    return response


@bp.post("/enroll")
@documented("Enroll a point: one-time token, new public keys, proof of possession", body=EnrollRequest,
            answer=EnrollResponse, auth=False,
            errors={403: ("token_unknown", "token_used", "token_expired", "token_superseded", "name_mismatch",
                          "bad_proof"),
                    409: ("point_exists",), 422: ("bad_keys",)})
def post_enroll():
    """Enroll a point: one-time token, new public keys, proof of possession."""
    body = parse_json_body(EnrollRequest)
    if not isinstance(body, EnrollRequest):
        return body
    db = get_session()
    try:
        answer = enroll(db, token=body.token, name=body.name, sign_public_key=body.sign_public_key,
                        enc_public_key=body.enc_public_key, proof=body.proof, keyring=current_keyring())
    except EnrollmentError as exc:
        db.rollback()
        log.info("enrollment refused: %s", exc.reason)
        return api_error(exc.status, exc.reason, str(exc))
    db.commit()
    log.info("point %s enrolled", answer["point_id"])
    return answer


@bp.after_request
def _log_refusals(response: Response) -> Response:
    """One log line for every refused sync request (who asked is in the headers, never a resident)."""
    if 400 <= response.status_code < 500:
        reason = (response.get_json(silent=True) or {}).get("reason", "")
        log.warning("refused %s %s from %s: %s %s", request.method, request.path,
                    request.headers.get(HEADER_POINT, "-")[:36], response.status_code, reason)
    return response

@bp.post("/push")
def post_push():
    """Accept a frames body of envelopes; answer per envelope."""
    from flask import current_app

    limit = current_app.config.get("PUSH_MAX_BYTES", PUSH_MAX_BYTES)
    if request.content_length is not None and request.content_length > limit:
        return api_error(413, "too_large", f"push bodies are limited to {limit} bytes; send fewer envelopes")
    if request.mimetype != CONTENT_TYPE:
        return api_error(415, "unsupported_media_type", f"send Content-Type: {CONTENT_TYPE}")
    body = request.stream.read(limit + 1)
    if len(body) > limit:
        return api_error(413, "too_large", f"push bodies are limited to {limit} bytes; send fewer envelopes")
    try:
        frames = decode_frames(body)
    except EnvelopeError as exc:
        return api_error(400, exc.reason, f"the body is not a frames body: {exc}")
    # The keyring is read without the write lock: another process may hold it while applying its batch.
    reads_only(get_session())
    keyring = current_keyring()
    batch = ingest_envelopes(get_session(), frames, keyring=keyring,
                             county_head_every=current_app.config.get("COUNTY_HEAD_EVERY_S", DEFAULT_COUNTY_HEAD_EVERY_S),
                             ingest_budget_mib=configured_budget_mib())
    # The newest county head, signed: the point keeps it as evidence outside this database (a point of a release
    # from before the chains were split keeps only heads of the one hub chain, and leaves it).
    # Beside "results": a point of an older release reads only the keys it knows at this level.
    return {"results": batch.results, "hub_time_ms": now_ms(),
            "audit_head": signed_county_head(get_session(), keyring.current)}


def _authenticated_point() -> Point | tuple[Response, int]:
    """Verify a signed request and spend its nonce; return the point or the error answer."""
    try:
        point_id = uuid.UUID(request.headers.get(HEADER_POINT, ""))
    except ValueError:
        return api_error(401, "unsigned", "request is not signed by an enrolled point")
    db = get_session()
    point = db.get(Point, point_id)
    if point is None:
        return api_error(401, "unknown_point", "the hub does not know this point; enroll it")
    if point.status == "revoked":
        return api_error(403, "point_revoked", "this point was revoked at the hub")
    if point.status != "active":
        return api_error(403, "point_pending", "this point has not finished enrollment")
    try:
        signed = verify_signed_request(point_verifiers(db, point))
    except SignatureError as refusal:
        return api_error(401, refusal.reason, str(refusal))
    now = utc_now()
    db.exec(delete(SeenNonce).where(SeenNonce.point_id == point.id,
                                    SeenNonce.seen_at < now - timedelta(milliseconds=2 * REQUEST_WINDOW_MS)))
    db.add(SeenNonce(point_id=point.id, nonce=signed.nonce, seen_at=now))
    point.last_contact = now
    db.add(point)
    try:
        db.commit()
    except IntegrityError:
        db.rollback()
        return api_error(401, "replayed", "this request was already used (nonce seen); sign a new one")
    if signed.protocol > point.protocol:
        note_protocol(db, point, signed.protocol)
        db.commit()
    return point


@bp.get("/pull")
def get_pull():
    """Hub messages after the point's cursor, as frames; 204 when there are none."""
    point = _authenticated_point()
    if not isinstance(point, Point):
        return point
    asked_for = request.args.get("point")
    if asked_for is not None and asked_for != str(point.id):
        log.warning("point %s asked for another point's messages; refused", point.id)
        return api_error(403, "wrong_point", "a point may pull only its own messages")
    raw_after = request.args.get("after", "0")
    if not raw_after.isdigit() or len(raw_after) > 18:
        return api_error(400, "bad_cursor", "'after' must be a non-negative integer")
    after = int(raw_after)
    db = get_session()
    note_sealed(point, request.args.get("sealed"), utc_now())
    mark_delivered(db, point, after)
    messages = messages_after(db, point.id, after, keyring=current_keyring())
    db.commit()
    return pull_answer(messages, after, last_seq=point.last_seq, last_receipt=point.last_receipt)


@bp.get("/catalog")
def get_catalog():
    """The catalog for a point that holds version ``?have=``: 204 when that is current (an idle point's hourly
    check costs a few hundred bytes); with ``?delta=1`` a hub-signed delta of the changed items when that is
    smaller; else the whole hub-signed document (what points before deltas understand). With ``?pack=1``,
    compressed and resumable: ETag and ``Range: bytes=N-`` (sync/resumable.py)."""
    point = _authenticated_point()
    if not isinstance(point, Point):
        return point
    raw_have = request.args.get("have", "")
    have = int(raw_have) if raw_have.isdigit() and len(raw_have) < 10 else None
    deltas = request.args.get("delta") == "1"
    _note_held(point, catalog=have or 0)
    # A point refuses fields its protocol does not know: it gets the catalog as it can read it.
    protocol = request_protocol(request.headers)
    if request.args.get("pack") == "1":
        try:
            packed = packed_catalog_answer(get_session(), have, current_keyring().current, deltas=deltas,
                                           protocol=protocol)
        except CatalogError:
            return api_error(404, "no_catalog", "the hub has no catalog yet; ask the admin to import one")
        return ("", 204) if packed is None else ranged_response(request, packed, PACKED_CONTENT_TYPE)
    try:
        answer = catalog_answer(get_session(), have, current_keyring().current, deltas=deltas, protocol=protocol)
    except CatalogError:
        return api_error(404, "no_catalog", "the hub has no catalog yet; ask the admin to import one")
    return ("", 204) if answer is None else answer


@bp.get("/calendar")
def get_calendar():
    """The signed holiday-calendar years a point lacks (``?have=2027.1,2028.2``: the years and versions it holds
    from the hub), packed and resumable like the catalog; 204 when it holds every year in force."""
    point = _authenticated_point()
    if not isinstance(point, Point):
        return point
    have = parse_held_years(request.args.get("have"))
    _note_held(point, calendar=have)
    years = year_documents(get_session(), have)
    if not years:
        return "", 204
    return ranged_response(request, pack_json({"type": CALENDAR_YEARS_TYPE, "years": years}), PACKED_CONTENT_TYPE)


def _note_held(point: Point, *, catalog: int | None = None, calendar: dict[int, int] | None = None) -> None:
    """Keep what the point says it holds, for the hub bundles of a point that later syncs only by USB."""
    if catalog is not None:
        point.catalog_held = catalog
    if calendar is not None:
        point.calendar_held = format_held_years(calendar)[:400]
    db = get_session()
    db.add(point)
    db.commit()


@bp.after_request
def _announce_county_data(response: Response) -> Response:
    # Every pull answer names the current catalog version and the calendar years in force, so a point fetches
    # what is new in its next round instead of at its next hourly check, for a few dozen bytes.
    if request.endpoint == "sync.get_pull" and response.status_code in (200, 204):
        latest = current_version_number(get_session())
        if latest is not None:
            response.headers[HEADER_CATALOG_VERSION] = str(latest)
        # Named even when the hub holds no year (an empty value): a point then knows there is nothing to fetch.
        response.headers[HEADER_CALENDAR] = format_held_years(calendar_versions(get_session()))
    return response


def _scan_refusal(exc: ScanError):
    get_session().rollback()
    return scan_refusal(exc.status, exc.reason, exc.message, offset=exc.offset)


def _scan_answer(row) -> Response:
    return scan_answer(row.scan_id, row.received, row.total, row.status)


@bp.route("/scans/<scan_id>", methods=("GET", "HEAD"))
def get_scan_offset(scan_id: str):
    """How many bytes of a sealed scan the hub holds (the offset to resume from); HEAD for headers only."""
    point = _authenticated_point()
    if not isinstance(point, Point):
        return point
    from flask import current_app

    try:
        return _scan_answer(scan_offset(get_session(), current_app.config["DATA_DIR"], point.id, scan_id,
                                        grant=request.headers.get(HEADER_SCAN_GRANT, "")))
    except ScanError as exc:
        return _scan_refusal(exc)


@bp.patch("/scans/<scan_id>")
def patch_scan(scan_id: str):
    """Append the next chunk of a sealed scan at ``?offset=`` (what the hub holds), checked by its SHA-256."""
    from flask import current_app

    asked = read_chunk_request(MAX_CHUNK_BYTES)
    if not isinstance(asked, ChunkRequest):
        return asked
    point = _authenticated_point()
    if not isinstance(point, Point):
        return point
    try:
        row = append_chunk(get_session(), current_app.config["DATA_DIR"], point.id, scan_id, offset=asked.offset,
                           chunk=asked.chunk, chunk_sha256=asked.chunk_sha256, total=asked.total, grant=asked.grant)
    except ScanError as exc:
        return _scan_refusal(exc)
    return _scan_answer(row)
