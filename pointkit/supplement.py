"""补正 at the window: the hub's supplement request, the notice for the resident, and her return.

When a department asks for missing or corrected materials, the case waits
here with the request (see inbox.apply_supplement_request). Staff print a
supplement notice (补正通知书) listing exactly what to bring; when the
resident comes back, staff attach the scans and send one SUPPLEMENT
envelope; the hub hands the case back to the department that asked and the
time limit runs again.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlmodel import Session

from sync.clock import utcnow
from sync.envelope import Kind
from sync.keys import Identity
from sync.messages import SupplementCase, SupplementRequest

from . import audit
from .models import Case
from .outbox import seal_into_outbox
from .scans import PreparedScan, attach_scans
from .state import get_state


class SupplementError(ValueError):
    """A supplement that cannot be sent; ``reason`` is the API's stable word."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def open_request(case: Case) -> SupplementRequest | None:
    """The supplement request the case waits on, if any."""
    if case.status != "supplement_requested" or not case.supplement_json:
        return None
    return SupplementRequest.model_validate(json.loads(case.supplement_json))


def send_supplement(session: Session, staff: str, case: Case, *, note: str, identity: Identity,
                    scans: Sequence[PreparedScan] = ()) -> Case:
    """The resident brought the materials: queue the SUPPLEMENT (scans follow like intake's)."""
    request = open_request(case)
    if request is None:
        raise SupplementError("not_waiting", "this case is not waiting for materials")
    strays = sorted({p.scan.material for p in scans if p.scan.material and p.scan.material not in request.materials})
    if strays:
        raise SupplementError("unknown_material", "not a material the department asked for: " + ", ".join(strays))
    if not scans:
        raise SupplementError("scans_required", "attach a scan or photo of each material the resident brought")
    brought = list(dict.fromkeys(p.scan.material for p in scans if p.scan.material)) or request.materials
    payload = SupplementCase(case_id=case.id, materials=brought, note=note.strip()[:2000], supplemented_at=utcnow(),
                             staff=staff, scans=[p.scan for p in scans]).model_dump(mode="json")
    attach_scans(session, case.id, list(scans))
    seal_into_outbox(session, get_state(session), identity, kind=Kind.SUPPLEMENT, payload=payload, case_id=case.id,
                     actor=staff)
    case.status = "supplemented"
    session.add(case)
    audit.record(session, staff, "case_supplemented", case.id, materials=brought, scans=len(scans))
    session.flush()
    return case
