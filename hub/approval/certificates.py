"""The certificate register (电子证照) and the 免提交 references cases carry.

- **Register**: every approved result of an item with a ``certificate_type`` enters it (``register_result``, called
  where results are signed). The holder is the applicant's ID number (an enterprise's: its credit code). The
  number is the first result field whose name ends in ``_no`` or ``_code``, in the item's order (结婚证字号 is
  ``certificate_no``, a business licence's number its ``credit_code``), else the result's own certificate number.
  The validity is the result field ``valid_until`` when there is one (no date: valid until revoked). The record is
  a CertificateDocument (sync/kit/certcode.py) signed by the hub's current key, whose generation it names.
- **Lookup**: a point asks, for a resident at its window, for her certificates of some types (``holder_records``):
  only that holder's, only those types, only valid ones, as signed records and QR codes.
- **Check at ingest**: every reference a SUBMIT carries is checked again (``check_references``). A reference the
  register does not hold, of another holder, of a type the material does not accept, revoked or expired parks the
  case: the department sees why on the case page and cannot approve until it settles it, by asking for the paper
  (补正, which settles the materials it asks for) or by going on (``settle``).
- **Revocation** (``revoke``): with a reason, in the audit chain, announced to every point (CERTIFICATE_REVOKED).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

from sqlmodel import Session, select

from sync.catalog import ServiceItem
from sync.envelope import Kind
from sync.keys import Identity
from sync.kit.certcode import CertificateDocument, certificate_code
from sync.kit.workdays import county_date
from sync.messages import CertificateRef, CertificateRevoked
from sync.signing import sign_document

from hub.core.audit import append_audit
from hub.core.clock import utc_now
from hub.core.models import Case, CaseCertificate, Certificate, HubKey, Point
from hub.core.outbox import enqueue
from hub.core.timeline import HUB_ACTOR, record_event

log = logging.getLogger(__name__)

VALID, EXPIRED, REVOKED = "valid", "expired", "revoked"
# Why a reference does not hold (besides expired and revoked).
UNKNOWN, NOT_HOLDER, WRONG_TYPE = "unknown", "not_holder", "wrong_type"
GO_ON, SUPPLEMENT = "go_on", "supplement"
MAX_LOOKUP_TYPES = 16
# Result fields that hold a certificate's number: 结婚证字号 (certificate_no), licence_no, registration_no, ...; a
# business licence's number is its credit code.
NUMBER_SUFFIXES = ("_no", "_code")


class CertificateError(ValueError):
    """A refused register action; ``reason`` is a stable word, ``status`` the HTTP answer."""

    def __init__(self, reason: str, message: str, status: int = 422):
        super().__init__(message)
        self.reason, self.status = reason, status


# -- the register --------------------------------------------------------------------------------------------

def certificate_number(item: ServiceItem, result_fields: dict[str, str], certificate_no: str) -> str:
    """The number a result's certificate is registered under (the module's rule)."""
    for spec in item.result_fields:
        value = (result_fields.get(spec.name) or "").strip()
        if spec.name.endswith(NUMBER_SUFFIXES) and value:
            return value[:64]
    return certificate_no[:64]


def holder_of(case: Case) -> str:
    """The holder's ID: the applicant's ID number, which for an enterprise is its unified social credit code."""
    return str((case.applicant or {}).get("id_number") or "").strip().upper()


def _valid_until(result_fields: dict[str, str]) -> date | None:
    try:
        return date.fromisoformat(result_fields["valid_until"])
    except (KeyError, ValueError):
        return None


def current_generation(session: Session, identity: Identity) -> int:
    """The hub key generation ``identity`` is (the newest one with its fingerprint; 1 if none is listed)."""
    row = session.exec(select(HubKey).where(HubKey.fingerprint == identity.fingerprint)
                       .order_by(HubKey.generation.desc())).first()
    return row.generation if row is not None else 1


def register_result(session: Session, case: Case, item: ServiceItem | None, document: dict,
                    identity: Identity) -> Certificate | None:
    """Enter an approved result's certificate in the register (None when the item issues none, or it is there)."""
    if item is None or not item.certificate_type or document.get("decision") != "approved":
        return None
    fields = document.get("result_fields") or {}
    number, holder = certificate_number(item, fields, document.get("certificate_no", "")), holder_of(case)
    if not number or not holder:
        return None
    if session.exec(select(Certificate).where(Certificate.cert_type == item.certificate_type,
                                              Certificate.number == number)).first() is not None:
        return None  # a merged duplicate's copy of the same result: one certificate
    generation = current_generation(session, identity)
    record = CertificateDocument(
        number=number, cert_type=item.certificate_type, name_zh=item.certificate_name_zh or item.name_zh,
        name_en=item.certificate_name_en or "", holder_id=holder[:18],
        holder_name=str((case.applicant or {}).get("name") or "")[:64], item_code=case.item_code,
        case_id=case.id, issued_at=utc_now(), valid_until=_valid_until(fields), generation=generation)
    signed = sign_document(record.model_dump(mode="json", exclude_none=True), identity.sign_key)
    certificate = Certificate(
        number=number, cert_type=record.cert_type, name_zh=record.name_zh, holder_id=record.holder_id,
        holder_name=record.holder_name, item_code=case.item_code, case_id=case.id, issued_at=record.issued_at,
        valid_until=record.valid_until, key_generation=generation, signed=signed)
    session.add(certificate)
    record_event(session, case.id, actor=HUB_ACTOR, action="certificate_registered",
                 note=f"certificate {record.cert_type} {number} entered the register",
                 data={"cert_type": record.cert_type, "name_zh": record.name_zh, "number": number})
    log.info("case %s: certificate %s %s registered", case.id, record.cert_type, number)
    return certificate


def status_of(certificate: Certificate, today: date | None = None) -> str:
    """valid, expired or revoked today (county date)."""
    if certificate.status == REVOKED:
        return REVOKED
    today = today or county_date(utc_now())
    return EXPIRED if certificate.valid_until is not None and certificate.valid_until < today else VALID


def find_certificate(session: Session, number: str, cert_type: str = "") -> Certificate | None:
    query = select(Certificate).where(Certificate.number == number.strip())
    if cert_type:
        query = query.where(Certificate.cert_type == cert_type)
    return session.exec(query.order_by(Certificate.issued_at.desc())).first()


def public_record(certificate: Certificate, today: date | None = None) -> dict:
    """A certificate as a point receives it: compact, signed, with its QR text and today's status."""
    return {"number": certificate.number, "cert_type": certificate.cert_type, "name_zh": certificate.name_zh,
            "valid_until": certificate.valid_until.isoformat() if certificate.valid_until else None,
            "status": status_of(certificate, today), "signed": certificate.signed,
            "code": certificate_code(certificate.signed)}


def holder_records(session: Session, holder_id: str, cert_types: list[str]) -> list[dict]:
    """The holder's valid certificates of ``cert_types``: nothing of anyone else, nothing of other types."""
    holder = holder_id.strip().upper()
    types = [t for t in dict.fromkeys(cert_types) if t][:MAX_LOOKUP_TYPES]
    if not holder or not types:
        return []
    rows = session.exec(select(Certificate).where(Certificate.holder_id == holder,
                                                  Certificate.cert_type.in_(types))  # type: ignore[attr-defined]
                        .order_by(Certificate.issued_at)).all()
    today = county_date(utc_now())
    return [public_record(row, today) for row in rows if status_of(row, today) == VALID]


# -- the check at ingest -------------------------------------------------------------------------------------

@dataclass
class Finding:
    material: str
    number: str
    finding: str


def finding_for(session: Session, ref: CertificateRef, holder: str, item: ServiceItem | None) -> str:
    accepted = next((m.certificates for m in (item.materials if item else []) if m.code == ref.material), [])
    certificate = find_certificate(session, ref.number, ref.cert_type)
    if certificate is None:
        return UNKNOWN
    if certificate.cert_type not in accepted:
        return WRONG_TYPE
    if certificate.holder_id != holder:
        return NOT_HOLDER
    return status_of(certificate)


def check_references(session: Session, case: Case, refs: list[CertificateRef],
                     item: ServiceItem | None) -> list[Finding]:
    """Check each 免提交 reference of a case as it arrives and record what was found; the ones that do not hold
    come back (the case is parked on them)."""
    holder = holder_of(case)
    bad: list[Finding] = []
    for ref in {ref.material: ref for ref in refs}.values():
        finding = finding_for(session, ref, holder, item)
        session.add(CaseCertificate(case_id=case.id, material_code=ref.material, number=ref.number,
                                    finding=finding))
        if finding != VALID:
            bad.append(Finding(ref.material, ref.number, finding))
    if bad:
        record_event(session, case.id, actor=HUB_ACTOR, action="certificate_parked",
                     note="parked for the department: " + ", ".join(f"{b.material} {b.number}: {b.finding}"
                                                                   for b in bad),
                     data={"findings": [{"material": b.material, "number": b.number, "finding": b.finding}
                                        for b in bad]})
    return bad


def case_certificates(session: Session, case_id: str) -> list[CaseCertificate]:
    return list(session.exec(select(CaseCertificate).where(CaseCertificate.case_id == case_id)
                             .order_by(CaseCertificate.material_code)).all())


def unsettled(session: Session, case_id: str) -> list[CaseCertificate]:
    """The case's references that did not hold and that its department has not settled yet."""
    return [row for row in case_certificates(session, case_id) if row.finding != VALID and not row.settled]


def settle(session: Session, case_id: str, *, how: str, actor: str, materials: list[str] | None = None) -> int:
    """The department settles the parked references (all, or those of ``materials``): ``go_on`` or
    ``supplement`` (the paper is asked for). Returns how many it settled."""
    rows = [row for row in unsettled(session, case_id) if materials is None or row.material_code in materials]
    for row in rows:
        row.settled, row.settled_by, row.settled_at = how, actor, utc_now()
        session.add(row)
    if rows:
        record_event(session, case_id, actor=actor, action="certificate_settled",
                     note=f"{how}: " + ", ".join(row.material_code for row in rows),
                     data={"how": how, "materials": [row.material_code for row in rows]})
    return len(rows)


# -- revocation ----------------------------------------------------------------------------------------------

def revoke(session: Session, number: str, *, reason: str, actor: str, cert_type: str = "") -> Certificate:
    """Revoke a certificate with a reason: in the audit chain, and announced to every point on its next pull."""
    reason = reason.strip()
    if not reason:
        raise CertificateError("reason_required", "a revocation needs a reason")
    certificate = find_certificate(session, number, cert_type)
    if certificate is None:
        raise CertificateError("not_found", f"no certificate numbered {number} in the register", 404)
    if certificate.status == REVOKED:
        raise CertificateError("already_revoked", f"certificate {number} is already revoked", 409)
    now = utc_now()
    certificate.status, certificate.revoked_at = REVOKED, now
    certificate.revoked_by, certificate.revoked_reason = actor[:64], reason[:500]
    session.add(certificate)
    append_audit(session, actor=actor, action="certificate_revoked", subject=certificate.number,
                 detail={"cert_type": certificate.cert_type, "case_id": certificate.case_id, "reason": reason[:500]})
    message = CertificateRevoked(number=certificate.number, cert_type=certificate.cert_type, reason=reason[:500],
                                 revoked_at=now).model_dump(mode="json")
    for point in session.exec(select(Point).where(Point.status == "active")).all():
        if point.enc_public_key:
            enqueue(session, point=point, kind=Kind.CERTIFICATE_REVOKED, payload=message)
    log.info("certificate %s %s revoked by %s", certificate.cert_type, certificate.number, actor)
    return certificate


def register_rows(session: Session, *, query: str = "", limit: int = 100) -> list[Certificate]:
    """The register for the county's page: newest first, or those whose number or holder is ``query``."""
    statement = select(Certificate)
    query = query.strip().upper()
    if query:
        statement = statement.where((Certificate.number == query) | (Certificate.holder_id == query))
    return list(session.exec(statement.order_by(Certificate.issued_at.desc()).limit(limit)).all())
