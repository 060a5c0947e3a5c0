"""The offline check of an e-certificate's QR code at a point (pointkit/certificates.py ``verify_code``): the hub's
signature and key generation, validity, and the revocations the point learned, on the point's own database."""

from __future__ import annotations

import base64
from datetime import date, timedelta

from pointkit import db
from pointkit.certificates import apply_revocation, verify_code
from pointkit.state import get_state
from sync.clock import utcnow
from sync.keys import Identity
from sync.kit.certcode import certificate_code
from sync.signing import sign_document

HOLDER = "45102719800101234X"


def record(**changes) -> dict:
    document = {"type": "pointkit.certificate/v1", "number": "CJR-0001", "cert_type": "disability_card",
                "name_zh": "中华人民共和国残疾人证", "holder_id": HOLDER, "holder_name": "韦秀兰",
                "item_code": "451030-CL-020", "case_id": "0" * 36, "issued_at": utcnow().isoformat(),
                "valid_until": (date.today() + timedelta(days=365)).isoformat(), "generation": 1}
    return {**document, **changes}


def check(point, code: str):
    with db.session_scope(point.data_dir) as session:
        return verify_code(session, get_state(session), code)


def test_a_genuine_code_is_valid_and_names_the_key_generation(point):
    verdict = check(point, certificate_code(sign_document(record(), point.hub.sign_key)))
    assert (verdict.state, verdict.reason, verdict.generation) == ("valid", "", 1)
    assert verdict.document.number == "CJR-0001"


def test_forged_and_altered_codes_are_refused_offline(point):
    genuine = certificate_code(sign_document(record(), point.hub.sign_key))
    forged = certificate_code(sign_document(record(), Identity.generate().sign_key))
    assert (check(point, forged).state, check(point, forged).reason) == ("refused", "bad_signature")
    # Another holder's ID under the genuine signature: the signature no longer holds.
    prefix, _document, signature = genuine.split(".")
    swapped = certificate_code({"document": record(holder_id="451027198501011234"), "signature": ""}).split(".")[1]
    assert check(point, ".".join([prefix, swapped, signature])).reason == "bad_signature"
    # A flipped character in the compressed document: it does not even read.
    broken = _document[:10] + ("A" if _document[10] != "A" else "B") + _document[11:]
    assert check(point, ".".join([prefix, broken, signature])).state == "refused"
    assert check(point, "PKR1.abc.def").reason == "not_a_code"
    assert check(point, "PKC1." + base64.urlsafe_b64encode(b"junk").decode() + ".x").reason == "damaged"
    # A document claiming a generation other than the key that signed it.
    claimed = certificate_code(sign_document(record(generation=2), point.hub.sign_key))
    assert check(point, claimed).reason == "wrong_generation"


def test_expiry_and_revocations_as_learned(point):
    expired = certificate_code(sign_document(record(valid_until=(date.today() - timedelta(days=3)).isoformat()),
                                             point.hub.sign_key))
    assert check(point, expired).state == "expired"
    genuine = certificate_code(sign_document(record(), point.hub.sign_key))
    with db.session_scope(point.data_dir) as session:
        apply_revocation(session, {"number": "CJR-0001", "cert_type": "disability_card", "reason": "评定结论撤销",
                                   "revoked_at": utcnow().isoformat()})
    verdict = check(point, genuine)
    assert (verdict.state, verdict.revoked_reason) == ("revoked", "评定结论撤销")
