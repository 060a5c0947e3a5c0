"""The clerk's offline check of an e-certificate's QR code (电子证照核验), at any point, with or without a link.

The clerk scans the code (a scanner types it) or pastes its text; the point checks it against what it holds:
the hub keys it trusts and their generations, the validity date, and the revocations it learned on its last pull
(pointkit/certificates.py ``verify_code``). Nothing is sent anywhere.
"""

from __future__ import annotations

from flask import Blueprint, g, render_template, request
from flask_babel import lazy_gettext

from . import audit, db
from .auth import login_required
from .certificates import last_learned, verify_code
from .runtime import data_dir
from .state import get_state

bp = Blueprint("certverify", __name__)

MAX_TEXT = 4000
VERDICTS = {
    "valid": lazy_gettext("Valid"),
    "expired": lazy_gettext("Expired"),
    "revoked": lazy_gettext("Revoked"),
    "refused": lazy_gettext("Not a genuine certificate"),
}
REFUSALS = {
    "not_a_code": lazy_gettext("This is not the code of an e-certificate. Scan the code printed beside the "
                               "certificate, or paste its whole text."),
    "damaged": lazy_gettext("The code is damaged or was altered: it cannot be read as the county issued it."),
    "bad_signature": lazy_gettext("The signature does not match any key of the county centre this point trusts: "
                                  "the certificate was altered or not issued by the county."),
    "wrong_generation": lazy_gettext("The certificate names a key generation other than the one that signed it: "
                                     "treat it as altered."),
}


@bp.route("/certificates/verify", methods=("GET", "POST"))
@login_required
def verify():
    """Paste or scan a certificate's QR text; the verdict, what it certifies and why."""
    text = request.form.get("code", "")[:MAX_TEXT + 1] if request.method == "POST" else ""
    verdict, learned = None, None
    with db.session_scope(data_dir()) as session:
        state = get_state(session)
        learned = last_learned(session, state)
        if text.strip():
            verdict = verify_code(session, state, text)
            audit.record(session, g.staff.username, "certificate_verified",
                         verdict.document.number if verdict.document else "",
                         verdict=verdict.state, reason=verdict.reason, generation=verdict.generation)
    status = 422 if verdict is not None and verdict.state == "refused" else 200
    return render_template("certificate_verify.html", text=text, verdict=verdict, learned=learned,
                           verdicts=VERDICTS, refusals=REFUSALS), status
