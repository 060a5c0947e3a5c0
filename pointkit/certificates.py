"""E-certificates at the point (电子证照, 免提交): the clerk's lookup at intake, the offline check of a certificate's
QR code, the revocations the hub announces, and what the hub found about the references a case carried.

- **Lookup** (``look_up``): with the resident present and her ID number entered, one click asks the hub online
  (signed request, sync/client.py ``certificate_lookup``) for her valid certificates of the types the item's
  materials accept. Each record is checked here too (a trusted hub key signed it, it is hers, of an asked type)
  and kept (CertificateCopy), so the form and the receipt can name it. Without a link the clerk is told so and
  takes the paper.
- **Intake** (``spared_materials``): a material the clerk marks 免提交 with one of the copies held for this
  resident counts as received, carries no scan, and travels in the SUBMIT as a reference the hub checks again.
- **Verify** (``verify_code``): any point checks a certificate's QR text offline: the signature against the hub
  keys it trusts and the key's generation, the validity date, and revocations as last learned.
- **Revocations** (``apply_revocation``): CERTIFICATE_REVOKED from the hub, kept for the offline check.
- **The hub's finding** (``note_hub_answer``): the SUBMIT's push answer says whether the case was parked on a
  reference and why; the case page and the receipt reprint show it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from flask_babel import lazy_gettext
from sqlmodel import Session, select

from sync.catalog import ServiceItem
from sync.client import HubRefused, HubUnreachable
from sync.clock import utcnow
from sync.keys import unb64
from sync.kit.certcode import PARKED_REASON, CertificateDocument, CodeError, read_code, read_findings, state_on
from sync.kit.idnumber import normalize_id_number
from sync.messages import CertificateRef, CertificateRevoked
from sync.signing import SignatureError, verify_document

from . import audit
from .models import CaseCertificate, CertificateCopy, CertificateRevocation, HubKey, PointState
from .state import as_utc, hub_client, local_now

NOT_SPARED = ("no valid e-certificate with this number is held for this resident and material: look again or take "
              "the paper")
NO_ID, UNREACHABLE, NOT_ENROLLED = "no_id", "unreachable", "not_enrolled"


def accepting_materials(item: ServiceItem) -> dict[str, list[str]]:
    """material code -> the certificate types that stand in for it."""
    return {m.code: list(m.certificates) for m in item.materials if m.certificates}


# -- lookup at intake ----------------------------------------------------------------------------------------

@dataclass
class Lookup:
    """What one lookup came to: the copies found per material, or why nothing could be asked."""

    found: dict[str, list[CertificateCopy]] = field(default_factory=dict)
    problem: str = ""


def _trusted_keys(session: Session, state: PointState) -> list[tuple[int, bytes]]:
    """(generation, raw signing key) of every hub key this point trusts, newest first."""
    rows = session.exec(select(HubKey).order_by(HubKey.generation.desc(), HubKey.id.desc())).all()
    keys = [(row.generation, unb64(row.sign_public_key)) for row in rows]
    current = unb64(state.hub_sign_public_key) if state.hub_sign_public_key else b""
    if current and all(raw != current for _, raw in keys):
        keys.insert(0, (state.hub_generation or 1, current))
    return keys


def signing_generation(session: Session, state: PointState, signed: dict) -> int | None:
    """The generation of the trusted hub key that signed ``signed``, or None if none did."""
    for generation, raw in _trusted_keys(session, state):
        try:
            verify_document(signed, Ed25519PublicKey.from_public_bytes(raw))
            return generation
        except SignatureError:
            continue
    return None


def _keep(session: Session, state: PointState, record: dict, holder: str, types: set[str]) -> CertificateCopy | None:
    """A record from the hub kept as a copy, if it holds: signed by a trusted key, this holder's, an asked type."""
    try:
        signed = record["signed"]
        document = CertificateDocument.model_validate(signed["document"])
    except (KeyError, TypeError, ValueError):
        return None
    if (document.holder_id != holder or document.cert_type not in types
            or signing_generation(session, state, signed) is None):
        return None
    copy = session.get(CertificateCopy, document.number) or CertificateCopy(number=document.number)
    copy.cert_type, copy.name_zh, copy.holder_id = document.cert_type, document.name_zh, document.holder_id
    copy.valid_until, copy.code, copy.fetched_at = document.valid_until, str(record.get("code", "")), utcnow()
    session.add(copy)
    return copy


def look_up(session: Session, state: PointState | None, identity, item: ServiceItem, id_number: str, *,
            actor: str) -> Lookup:
    """Ask the hub for the resident's valid certificates the item's materials accept (one request)."""
    holder = normalize_id_number(id_number or "")
    wanted = accepting_materials(item)
    if not holder:
        return Lookup(problem=NO_ID)
    if state is None or not state.point_id or not state.hub_url:
        return Lookup(problem=NOT_ENROLLED)
    types = sorted({t for accepted in wanted.values() for t in accepted})
    try:
        with hub_client(state, identity, attempts=1) as client:
            records = client.certificate_lookup(holder, types)
    except (HubRefused, HubUnreachable):
        return Lookup(problem=UNREACHABLE)
    kept = [copy for record in records if (copy := _keep(session, state, record, holder, set(types)))]
    audit.record(session, actor, "certificates_looked_up", item.code, types=types, found=len(kept))
    return Lookup(found=held_for(session, item, holder))


def held_for(session: Session, item: ServiceItem, id_number: str) -> dict[str, list[CertificateCopy]]:
    """The copies held here for this resident that a material of ``item`` accepts, not revoked nor expired."""
    holder = normalize_id_number(id_number or "")
    if not holder:
        return {}
    today = local_now().date()
    copies = session.exec(select(CertificateCopy).where(CertificateCopy.holder_id == holder)).all()
    revoked = set(session.exec(select(CertificateRevocation.number)).all())
    usable = [c for c in copies if c.number not in revoked and (c.valid_until is None or c.valid_until >= today)]
    return {code: [c for c in usable if c.cert_type in types]
            for code, types in accepting_materials(item).items()
            if any(c.cert_type in types for c in usable)}


# -- intake ----------------------------------------------------------------------------------------------------

class SpareRefused(ValueError):
    """A 免提交 mark that cannot stand; ``material`` names it."""

    def __init__(self, material: str, message: str):
        super().__init__(message)
        self.material = material


def spared_materials(session: Session, item: ServiceItem, id_number: str,
                     marks: dict[str, str]) -> list[tuple[CertificateRef, CertificateCopy]]:
    """The clerk's 免提交 marks (material code -> certificate number) as references, each checked against the
    copies held here for this resident; SpareRefused for one that is not."""
    held = held_for(session, item, id_number)
    refs = []
    for material, number in marks.items():
        number = (number or "").strip()
        if not number:
            continue
        copy = next((c for c in held.get(material, []) if c.number == number), None)
        if copy is None:
            raise SpareRefused(material, NOT_SPARED)
        refs.append((CertificateRef(material=material, cert_type=copy.cert_type, number=copy.number), copy))
    return refs


def record_spared(session: Session, case_id: str, refs: list[tuple[CertificateRef, CertificateCopy]]) -> None:
    for ref, copy in refs:
        session.add(CaseCertificate(case_id=case_id, material_code=ref.material, number=ref.number,
                                    name_zh=copy.name_zh))


def case_certificates(session: Session, case_id: str) -> list[CaseCertificate]:
    return list(session.exec(select(CaseCertificate).where(CaseCertificate.case_id == case_id)
                             .order_by(CaseCertificate.id)).all())


# What the hub found about a reference, for the point's pages.
HUB_FINDINGS = {
    "unknown": lazy_gettext("not in the county's register"), "not_holder": lazy_gettext("held by someone else"),
    "wrong_type": lazy_gettext("not a kind this material accepts"), "revoked": lazy_gettext("revoked"),
    "expired": lazy_gettext("expired"),
}


def spared_view(session: Session, case_id: str) -> dict[str, dict]:
    """material code -> what the receipt and the case page say of the certificate that stood in for it."""
    return {row.material_code: {"number": row.number, "name_zh": row.name_zh, "hub_finding": row.hub_finding,
                                "finding_text": str(HUB_FINDINGS.get(row.hub_finding, ""))}
            for row in case_certificates(session, case_id)}


def note_hub_answer(session: Session, case_id: str, reason: str, message: str) -> None:
    """Record what the hub found about the case's references from the SUBMIT's answer."""
    rows = case_certificates(session, case_id)
    if not rows:
        return
    findings = read_findings(message) if reason == PARKED_REASON else {}
    for row in rows:
        row.hub_finding = findings.get(row.material_code, "valid")
        session.add(row)


# -- the offline check ---------------------------------------------------------------------------------------

@dataclass
class Verdict:
    """What the offline check of a QR code found. ``state``: valid, expired, revoked, or refused (``reason``)."""

    state: str
    reason: str = ""
    document: CertificateDocument | None = None
    generation: int | None = None
    revoked_reason: str = ""
    revoked_at: datetime | None = None


def verify_code(session: Session, state: PointState, text: str, today: date | None = None) -> Verdict:
    """Check a certificate's QR text offline: signature and key generation, validity, revocation as learned."""
    try:
        signed, document = read_code(text)
    except CodeError as exc:
        return Verdict("refused", exc.reason)
    generation = signing_generation(session, state, signed)
    if generation is None:
        return Verdict("refused", "bad_signature", document)
    if generation != document.generation:
        return Verdict("refused", "wrong_generation", document, generation)
    revocation = session.exec(select(CertificateRevocation).where(
        CertificateRevocation.number == document.number,
        CertificateRevocation.cert_type == document.cert_type)).first()
    today = today or local_now().date()
    return Verdict(state_on(document, today, revocation is not None), "", document, generation,
                   revocation.reason if revocation else "", as_utc(revocation.revoked_at) if revocation else None)


def last_learned(session: Session, state: PointState):
    """When this point last heard from the hub (revocations are as of then)."""
    return as_utc(state.last_sync_at) if state.last_sync_at else None


# -- revocations -----------------------------------------------------------------------------------------------

def apply_revocation(session: Session, payload: dict) -> str:
    """Apply a CERTIFICATE_REVOKED message; returns the certificate number."""
    message = CertificateRevoked.model_validate(payload)
    if session.get(CertificateRevocation, message.number) is None:
        session.add(CertificateRevocation(number=message.number, cert_type=message.cert_type,
                                          reason=message.reason, revoked_at=message.revoked_at,
                                          learned_at=utcnow()))
        audit.record(session, audit.HUB_ACTOR, "certificate_revoked", message.number, cert_type=message.cert_type)
    return message.number
