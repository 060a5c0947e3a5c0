"""Helpers for point tests (their fixtures, ``point`` and ``api``, are in conftest.py beside this): an "enrolled" point
data directory without a hub process.

The test plays the hub: it holds a real hub Identity, answers enrollment
with its public keys, signs the catalog, opens the point's outbox envelopes
and seals RESULT/STATUS messages the way the hub does. Everything the point
does with them runs through pointkit's own functions.
"""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlmodel import select

from pointkit import db
from pointkit.catalog import store_catalog
from pointkit.enrollment import record_enrollment
from pointkit.inbox import apply_messages
from pointkit.models import Case, Outbox
from pointkit.state import get_state, load_identity
from sync.envelope import Envelope, Kind, seal_envelope
from sync.keys import Identity
from sync.framing import decode_frames, encode_frames
from sync.signing import sign_document
from sync.clock import now_ms, utcnow
from sync.envelope import HUB_SENDER_ID
from sync.messages import CATALOG_DOCUMENT_TYPE, CaseCopy
from sync.rotation import read_point_keys

GOOD_ID = "11010519491231002X"
OTHER_ID = "440524198001010013"

DEPARTMENTS = [{"code": "MZ", "name_zh": "县民政局", "name_en": "County Civil Affairs Bureau"}]
ITEMS = [
    {
        "code": "T-001", "name_zh": "测试事项甲", "name_en": "Test item A", "departments": ["MZ"],
        "legal_days": 10, "promised_days": 3, "levels": ["county", "township", "village"],
        "complaint_channel": "12345政务服务便民热线",
        "materials": [
            {"code": "id_card", "name_zh": "居民身份证", "name_en": "Resident ID card", "required": True},
            {"code": "hukou", "name_zh": "户口簿", "name_en": "Household register", "required": True},
            {"code": "photo", "name_zh": "照片", "name_en": "Photo", "required": False},
        ],
        "fields": [
            {"name": "category", "label_zh": "类别", "label_en": "Category", "type": "choice", "required": True,
             "choices": ["普通居民", "低保对象"]},
            {"name": "household_size", "label_zh": "家庭人口", "label_en": "Household size", "type": "number",
             "required": True},
            {"name": "expected_date", "label_zh": "预计日期", "label_en": "Expected date", "type": "date"},
            {"name": "spouse_id", "label_zh": "配偶身份证号", "label_en": "Spouse ID number", "type": "id_number"},
            {"name": "contact_phone", "label_zh": "联系电话", "label_en": "Contact phone", "type": "phone"},
            {"name": "note", "label_zh": "备注", "label_en": "Note", "type": "text"},
        ],
    },
    {
        "code": "T-002", "name_zh": "宅基地审批", "name_en": "Homestead approval", "departments": ["MZ"],
        "legal_days": 20, "promised_days": 15, "levels": ["county", "township"],
        "materials": [], "fields": [],
    },
]


def catalog_document(version: int = 1, items: list | None = None) -> dict:
    return {"type": CATALOG_DOCUMENT_TYPE, "version": version, "issued_at": "2026-01-05T08:00:00+00:00",
            "departments": DEPARTMENTS, "items": ITEMS if items is None else items}


def valid_form() -> dict:
    return {"category": "普通居民", "household_size": "4", "expected_date": "2026-06-01"}


GOOD_CASE = {"item_code": "T-001", "applicant": {"name": "王小明", "id_number": GOOD_ID, "phone": "13800138000"},
             "form": valid_form(), "materials": ["id_card", "hukou"]}


@dataclass
class FakeHubSide:
    """The hub's half of the protocol, held by the test."""

    data_dir: Path
    hub: Identity
    token: str
    hub_seq: int = 0
    retired_hubs: list[Identity] = field(default_factory=list)
    point_sign_keys: list[bytes] = field(default_factory=list)
    received: list[tuple[Kind, dict]] = field(default_factory=list)
    revoked: bool = False
    # The signed audit head push answers carry beside their results (None: none, as a hub of an older release).
    audit_head: dict | None = None

    @property
    def point_identity(self) -> Identity:
        return load_identity(self.data_dir)

    def point_id(self) -> str:
        with db.session_scope(self.data_dir) as session:
            return get_state(session).point_id

    def outbox(self) -> list[Outbox]:
        with db.session_scope(self.data_dir) as session:
            return list(session.exec(select(Outbox).order_by(Outbox.seq)).all())

    def open_outbox(self, row: Outbox) -> dict:
        envelope = Envelope.parse(row.envelope)
        envelope.verify(self.point_identity.sign_key.public_key())
        return envelope.open(self.hub.enc_key)

    def result_document(self, case: Case, decision: str = "approved") -> dict:
        now = utcnow().isoformat()
        return {"type": "pointkit.result/v1", "case_id": case.id, "receipt_no": case.receipt_no,
                "point_id": self.point_id(), "item_code": case.item_code, "item_name": case.item_name,
                "department": "MZ", "decision": decision, "reason": "" if decision == "approved" else "材料不符",
                "certificate_no": "MZ-2026-0001" if decision == "approved" else "",
                "decided_at": now, "decided_by": "reviewer", "issued_at": now}

    def seal(self, kind: Kind, payload: dict, *, signer: Identity | None = None,
             sender_id: uuid.UUID = HUB_SENDER_ID) -> bytes:
        self.hub_seq += 1
        return seal_envelope(kind=kind, payload=payload, sender_id=sender_id, seq=self.hub_seq,
                             sender_key=(signer or self.hub).sign_key,
                             recipient_key=self.point_identity.enc_key.public_key()).to_bytes()

    def result_message(self, case: Case, decision: str = "approved", *, document: dict | None = None,
                       doc_signer: Identity | None = None) -> bytes:
        document = document or self.result_document(case, decision)
        signed = sign_document(document, (doc_signer or self.hub).sign_key)
        return self.seal(Kind.RESULT, signed)

    def case_copy(self, receipt_no: str, *, id_number: str = GOOD_ID, closed: bool = False,
                  case_id: str | None = None) -> bytes:
        """A CASE_COPY of a case this point took (as the hub sends a point restored from an older backup)."""
        copy = CaseCopy.model_validate({
            "case": {"case_id": case_id or str(uuid.uuid4()), "receipt_no": receipt_no, "item_code": "T-001",
                     "catalog_version": 1, "applicant": {"name": "王小明", "id_number": id_number, "phone": ""},
                     "form": valid_form(), "materials": ["id_card", "hukou"], "received_at": utcnow(),
                     "promised_date": "2026-06-03", "staff": "staff"},
            "item_name": "测试事项甲", "version": 1, "closed_at": utcnow() if closed else None, "copied_at": utcnow()})
        return self.seal(Kind.CASE_COPY, copy.model_dump(mode="json"))

    def hub_opening_keys(self) -> dict:
        keys = {}
        for identity in (*self.retired_hubs, self.hub):
            keys.update(identity.opening_keys())
        return keys

    def transport(self, pending: list[bytes] | None = None) -> httpx.MockTransport:
        """The hub's sync endpoints at the transport seam: verify and open pushes like the hub, serve ``pending``."""
        pending = pending if pending is not None else []

        def handle(request: httpx.Request) -> httpx.Response:
            headers = {"X-Pointkit-Hub-Time": str(now_ms())}
            revoked = {"error": "this point was revoked at the hub", "reason": "point_revoked"}
            if request.url.path == "/sync/v1/push":
                answer = {"results": [self._ingest(data) for data in decode_frames(request.content)]}
                if self.audit_head is not None:
                    answer["audit_head"] = self.audit_head
                return httpx.Response(200, json=answer, headers=headers)
            if self.revoked:
                return httpx.Response(403, json=revoked, headers=headers)
            if request.url.path == "/sync/v1/pull":
                after = int(request.url.params["after"])
                fresh = [data for data in pending if Envelope.parse(data).header.seq > after]
                if not fresh:
                    return httpx.Response(204, headers={**headers, "X-Pointkit-Cursor": str(after)})
                cursor = max(Envelope.parse(data).header.seq for data in fresh)
                return httpx.Response(200, content=encode_frames(fresh),
                                      headers={**headers, "X-Pointkit-Cursor": str(cursor)})
            return httpx.Response(200, json=sign_document(catalog_document(), self.hub.sign_key), headers=headers)

        return httpx.MockTransport(handle)

    def _ingest(self, data: bytes) -> dict:
        envelope = Envelope.parse(data)
        answer = {"envelope_id": str(envelope.header.envelope_id), "status": "accepted", "reason": "", "message": ""}
        if self.revoked:
            return {**answer, "status": "rejected", "reason": "point_revoked"}
        if not self.point_sign_keys:
            self.point_sign_keys.append(self.point_identity.sign_public)
        for raw in self.point_sign_keys:
            try:
                envelope.verify(Ed25519PublicKey.from_public_bytes(raw))
                break
            except ValueError:
                continue
        else:
            return {**answer, "status": "rejected", "reason": "bad_signature"}
        payload = envelope.open(self.hub_opening_keys())
        self.received.append((envelope.header.kind, payload))
        if envelope.header.kind == Kind.POINT_KEYS:
            self.point_sign_keys.append(read_point_keys(payload, self.point_id()).sign_public)
        return answer

    def apply(self, *messages: bytes):
        with db.session_scope(self.data_dir) as session:
            state = get_state(session)
            return apply_messages(session, state, self.point_identity, list(messages), self.hub_seq,
                                  identity=self.point_identity)


def jpeg_photo(size: tuple[int, int] = (64, 48)) -> bytes:
    """A small real JPEG, as a phone photo of a material would be."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, (200, 180, 150)).save(out, "JPEG")
    return out.getvalue()


def make_point(data_dir: Path, *, level: str = "village", name: str = "古障村便民服务站") -> FakeHubSide:
    hub = Identity.generate()
    token = "s3cret-token." + hub.fingerprint[:16]
    response = {"point_id": str(uuid.uuid4()), "name": name, "level": level,
                "hub": {**hub.public().to_json(), "fingerprint": hub.fingerprint}, "hub_time_ms": None}
    record_enrollment(data_dir, identity=Identity.generate(), response=response, token=token,
                      hub_url="http://127.0.0.1:9")
    with db.session_scope(data_dir) as session:
        store_catalog(session, get_state(session), sign_document(catalog_document(), hub.sign_key))
    return FakeHubSide(data_dir, hub, token)


def rows(data_dir: Path, model) -> list:
    with db.session_scope(data_dir) as session:
        return list(session.exec(select(model)).all())
