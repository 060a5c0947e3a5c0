"""Reconciliation on arrival: detect what points did apart from each other, park it for an operator.

Points work offline for days, residents go to two windows, laptops come back
from old backups. Ingest calls in here inside the same transaction that
applies an envelope, so a case and the conflicts found on it commit
together. Seven kinds are found:

- ``same_field``: an amendment made against an older case version touches a
  field changed since (a change to other fields is a ``parallel_update``,
  merged at once and listed as merged);
- ``duplicate``: the same resident applies for the same item while another
  case of hers for it is open (one point or two);
- ``after_decision``: a withdrawal or amendment arrives after the decision;
- ``catalog_drift``: a case received under an item version whose required
  materials or route changed since, or an item since withdrawn;
- ``fork``: the same point and sequence number with other content (a point
  restored from an old backup); both copies are kept and the point is told
  to continue from a fresh sequence number. A new case whose receipt number
  the same point gave another case is the same story (the restored point
  numbers receipts from where its backup stood): both cases are kept, the
  later one parked as a fork naming the receipt number;
- ``identity``: the same resident ID with another name from another point;
- ``suspicious_time``: a new case whose claimed intake time is before what the hub
  can vouch for (hub/intake/intaketime.py); it is not routed until an operator accepts a time.

Nothing is dropped or overwritten here: a parked change is kept whole on its
``Conflict`` row until an operator decides on the desk (hub/reconcile/desk.py).
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from sqlmodel import Session, func, select

from sync.clock import utcnow
from sync.envelope import Kind
from sync.messages import AmendCase, Reconciled, SubmitCase, WithdrawCase

from hub.approval.review import withdraw
from hub.catalog.versions import current_version_number, outdated_item_change, outdated_item_note
from hub.core.audit import append_audit
from hub.core.models import Case, CaseRevision, CatalogItem, Conflict, Point, RawEnvelope
from hub.core.outbox import enqueue, send_status
from hub.core.outcome import Outcome
from hub.core.timeline import HUB_ACTOR, record_event

CONFLICT_KINDS = ("same_field", "duplicate", "after_decision", "catalog_drift", "fork", "identity",
                  "suspicious_time")
# Listed on the desk but never blocking: merged by the hub itself.
PARALLEL_UPDATE = "parallel_update"
OPEN_STATUSES = ("accepted", "routed", "in_review", "needs_attention", "supplement_requested")
DECIDED_STATUSES = ("result_issued", "delivered", "closed", "withdrawn", "refused", "merged")
# Envelopes stored as the second copy of a used (point, seq) and not yet applied (see ingest).
FORK_UNAPPLIED = "fork_unapplied"


def resident_key(id_number: str) -> str:
    """The digest duplicates and identity checks look up by (the ID itself is in the sealed case).

    Unkeyed on purpose: the case row beside it holds the ID in clear, so a key
    would hide nothing; the digest only makes the lookup an indexed one.
    """
    return hashlib.sha256(b"pointkit resident\0" + id_number.strip().upper().encode("ascii", "replace")).hexdigest()


def park(session: Session, kind: str, *, point_id: uuid.UUID, raw: RawEnvelope | None = None, case_id: str | None,
         other_case_id: str | None = None, other_point_id: uuid.UUID | None = None, fields: list[str] | None = None,
         left: dict | None = None, right: dict | None = None, detail: dict | None = None,
         status: str = "open") -> Conflict:
    """Record one conflict (never personal data in the audit line; it stays on the row)."""
    conflict = Conflict(kind=kind, status=status, point_id=point_id, other_point_id=other_point_id,
                        case_id=case_id, other_case_id=other_case_id, envelope_id=raw.envelope_id if raw else "",
                        seq=raw.seq if raw else 0, fields=sorted(fields or []), left=left or {}, right=right or {},
                        detail=detail or {})
    session.add(conflict)
    session.flush()
    subject = f"case:{case_id}" if case_id else f"point:{point_id}"
    action = "conflict_merged" if status == "merged" else "conflict_parked"
    record_event_or_audit(session, case_id, action=action, subject=subject,
                          note=f"{kind} {conflict.id}" + (f": {', '.join(conflict.fields)}" if conflict.fields else ""),
                          data={"kind": kind, "fields": list(conflict.fields)})
    return conflict


def record_event_or_audit(session: Session, case_id: str | None, *, action: str, subject: str, note: str,
                          data: dict[str, Any] | None = None) -> None:
    """A case's timeline line (which audits too), or an audit line alone for a point-wide event."""
    if case_id is not None and session.get(Case, case_id) is not None:
        record_event(session, case_id, actor=HUB_ACTOR, action=action, note=note, data=data)
    else:
        append_audit(session, actor=HUB_ACTOR, action=action, subject=subject, detail={"note": note})


def case_summary(case: Case) -> dict[str, Any]:
    """The fields of a case an operator compares side by side."""
    applicant = case.applicant or {}
    return {"receipt_no": case.receipt_no, "item_code": case.item_code, "status": case.status,
            "name": applicant.get("name", ""), "id_number": applicant.get("id_number", ""),
            "phone": applicant.get("phone", ""), "catalog_version": str(case.catalog_version),
            **{f"form.{name}": value for name, value in (case.form or {}).items()}}


def differing(left: dict, right: dict) -> list[str]:
    return sorted(key for key in set(left) | set(right) if left.get(key) != right.get(key))


# -- arrival of a case ------------------------------------------------------------------------------

def check_submit(session: Session, case: Case, intent: SubmitCase, point: Point, raw: RawEnvelope) -> list[Conflict]:
    """Duplicate application, identity mismatch, a reused receipt number and catalog drift of a case just
    created."""
    case.resident_key = resident_key(intent.applicant.id_number)
    session.add(case)
    found = []
    # Without flushing the new case first (it is excluded anyway): its rows go out with the envelope's
    # savepoint, one flush for all of them, while earlier cases were flushed with their own.
    with session.no_autoflush:
        others = session.exec(select(Case).where(Case.resident_key == case.resident_key, Case.id != case.id)
                              .order_by(Case.received_at)).all()
    duplicate = next((other for other in others if other.item_code == case.item_code
                      and other.status in OPEN_STATUSES and other.merged_into is None), None)
    if duplicate is not None:
        left, right = case_summary(duplicate), case_summary(case)
        found.append(park(session, "duplicate", point_id=point.id, raw=raw, case_id=case.id,
                          other_case_id=duplicate.id, other_point_id=duplicate.point_id,
                          fields=differing(left, right), left=left, right=right))
    renamed = next((other for other in others if other.point_id != point.id
                    and (other.applicant or {}).get("name") != intent.applicant.name), None)
    if renamed is not None:
        left = {"name": renamed.applicant.get("name", ""), "receipt_no": renamed.receipt_no}
        right = {"name": intent.applicant.name, "receipt_no": case.receipt_no}
        found.append(park(session, "identity", point_id=point.id, raw=raw, case_id=case.id,
                          other_case_id=renamed.id, other_point_id=renamed.point_id, fields=["name"],
                          left=left, right=right))
    if raw.reason != FORK_UNAPPLIED:  # a reused sequence number is parked as a fork already (ingest)
        with session.no_autoflush:
            same_receipt = session.exec(select(Case).where(
                Case.point_id == point.id, Case.receipt_no == case.receipt_no, Case.id != case.id)
                .order_by(Case.received_at, Case.id)).first()
        if same_receipt is not None:
            left, right = case_summary(same_receipt), case_summary(case)
            found.append(park(session, "fork", point_id=point.id, raw=raw, case_id=case.id,
                              other_case_id=same_receipt.id, fields=differing(left, right), left=left,
                              right=right, detail={"receipt_no": case.receipt_no}))
    drift = catalog_drift(session, case.item_code, intent.catalog_version)
    parked_drift = None
    if drift is not None:
        left, right, detail = drift
        parked_drift = park(session, "catalog_drift", point_id=point.id, raw=raw, case_id=case.id,
                            fields=differing(left, right), left=left, right=right, detail=detail)
        found.append(parked_drift)
    note_catalog_change(session, case, intent.catalog_version, parked_drift)
    return found


def note_catalog_change(session: Session, case: Case, version: int, drift: Conflict | None) -> None:
    """Note on the case what the catalog changed since the version it was received under.

    Any change gets the note (reviewers check the case against the current guide); a change that
    matters is also the ``drift`` conflict, and the note names it, so one intake reads as one warning.
    """
    outdated = outdated_item_change(session, case.item_code, version)
    if outdated:
        suffix = f"; parked as conflict {drift.id} on the conflict desk" if drift is not None else ""
        record_event(session, case.id, actor=HUB_ACTOR, action="catalog_outdated",
                     note=outdated_item_note(outdated) + suffix,
                     data={**outdated, "changes": outdated["changes"][:40],
                           "conflict": str(drift.id) if drift is not None else None})


def _item_terms(item: dict[str, Any] | None) -> dict[str, str]:
    """What makes an intake under one item version wrong under another: required materials, route."""
    if item is None or item.get("withdrawn"):
        return {"state": "withdrawn", "required_materials": "", "route": ""}
    required = sorted(material["code"] for material in item.get("materials", []) if material.get("required"))
    return {"state": "listed", "required_materials": ", ".join(required),
            "route": f"{item.get('route', '')}: {', '.join(item.get('departments', []))}"}


def catalog_drift(session: Session, code: str, version: int) -> tuple[dict, dict, dict] | None:
    """(terms then, terms now, detail) when the item changed in what matters since ``version``; else None."""
    latest = current_version_number(session)
    if latest is None or version >= latest:
        return None
    then = session.exec(select(CatalogItem).where(CatalogItem.code == code, CatalogItem.version == version)).first()
    if then is None:
        return None  # a version the hub never issued for this item: nothing to compare against
    now = session.exec(select(CatalogItem).where(CatalogItem.code == code,
                                                 CatalogItem.version == latest)).first()
    left, right = _item_terms(then.item), _item_terms(now.item if now else None)
    if left == right:
        return None
    return left, right, {"intake_version": version, "current_version": latest}


# -- amendments and withdrawals ---------------------------------------------------------------------

def _forks(session: Session, point_id: uuid.UUID) -> list[Conflict]:
    return list(session.exec(select(Conflict).where(Conflict.kind == "fork", Conflict.point_id == point_id)).all())


def _known_to(revision: CaseRevision, point_id: uuid.UUID, seq: int, forks: list[Conflict]) -> bool:
    """Did the point know this change when it sent envelope ``seq``? Only its own earlier ones,
    and not those of a branch a restore from backup cut off."""
    if revision.point_id != point_id or revision.seq >= seq:
        return False
    return not any(fork.seq <= revision.seq and fork.created_at >= revision.created_at for fork in forks)


def apply_fields(session: Session, case: Case, values: dict[str, str], *, point_id: uuid.UUID | None, seq: int,
                 source: str, actor: str) -> list[str]:
    """Write ``values`` into the case's form as a new version; return the fields that changed."""
    changed = sorted(name for name, value in values.items() if (case.form or {}).get(name) != value)
    if not changed:
        return []
    case.form = {**(case.form or {}), **{name: values[name] for name in changed}}
    case.version = (case.version or 1) + 1
    session.add(case)
    session.add(CaseRevision(case_id=case.id, version=case.version, fields=changed, point_id=point_id, seq=seq,
                             source=source))
    record_event(session, case.id, actor=actor, action="amended",
                 note=f"version {case.version}: {', '.join(changed)}", data={"version": case.version, "fields": changed})
    return changed


def apply_amend(session: Session, case: Case, intent: AmendCase, point: Point,
                raw: RawEnvelope) -> Outcome:
    """Apply, merge as a parallel update, or park an amendment; answer as ingest does."""
    if case.status in DECIDED_STATUSES or case.decision:
        park(session, "after_decision", point_id=point.id, raw=raw, case_id=case.id,
             fields=sorted(intent.form), left={**_form_of(case, intent.form), "status": case.status},
             right={**intent.form, "status": "amended"}, detail={"intent": "amend", "form": intent.form})
        return Outcome.conflict("after_decision", "the case was decided before this amendment arrived; parked")
    forks = _forks(session, point.id)
    since = session.exec(select(CaseRevision).where(CaseRevision.case_id == case.id,
                                                    CaseRevision.version > intent.base_version)).all()
    foreign = {name for revision in since if not _known_to(revision, point.id, raw.seq, forks)
               for name in revision.fields}
    overlap = sorted(foreign & set(intent.form))
    if overlap:
        park(session, "same_field", point_id=point.id, raw=raw, case_id=case.id, fields=overlap,
             left=_form_of(case, intent.form), right=dict(intent.form),
             detail={"base_version": intent.base_version, "version": case.version, "form": intent.form})
        return Outcome.conflict("same_field", f"fields changed since version {intent.base_version}: parked")
    changed = apply_fields(session, case, intent.form, point_id=point.id, seq=raw.seq, source=raw.envelope_id,
                           actor=point.name)
    if foreign and changed:
        park(session, PARALLEL_UPDATE, point_id=point.id, raw=raw, case_id=case.id, fields=changed,
             left={name: "" for name in sorted(foreign)}, right={name: intent.form[name] for name in changed},
             detail={"base_version": intent.base_version, "version": case.version}, status="merged")
        return Outcome.accepted("merged with changes made since; listed on the conflict desk", reason=PARALLEL_UPDATE)
    return Outcome.accepted("amendment applied" if changed else "nothing changed")


def _form_of(case: Case, names: dict[str, str]) -> dict[str, str]:
    return {name: (case.form or {}).get(name, "") for name in names}


def apply_withdraw(session: Session, case: Case, intent: WithdrawCase, point: Point, raw: RawEnvelope) -> Outcome:
    """Withdraw an undecided case; park a withdrawal that comes after the decision."""
    if case.status == "withdrawn":
        return Outcome.duplicate("already_withdrawn", "the case was already withdrawn")
    if case.status in DECIDED_STATUSES or case.decision:
        park(session, "after_decision", point_id=point.id, raw=raw, case_id=case.id, fields=["status"],
             left={"status": case.status, "decision": case.decision or ""},
             right={"status": "withdrawn", "reason": intent.reason},
             detail={"intent": "withdraw", "reason": intent.reason})
        return Outcome.conflict("after_decision", "the case was decided before this withdrawal arrived; parked")
    withdraw(session, case, actor=point.name, note=intent.reason, data={"reason": intent.reason[:200]})
    send_status(session, case, point, "withdrawn", "withdrawn at the point")
    return Outcome.accepted("case withdrawn")


# -- forks ------------------------------------------------------------------------------------------

def record_fork(session: Session, first: RawEnvelope, second: RawEnvelope, point: Point,
                case_id: str | None) -> Conflict:
    """Keep both copies of a reused (point, seq), flag the point and tell it where to continue."""
    highest = session.exec(select(func.max(RawEnvelope.seq)).where(RawEnvelope.point_id == point.id)).one() or 0
    resume_seq = highest + 1
    describe = lambda raw: {"envelope_id": raw.envelope_id, "kind": Kind(raw.kind).name,  # noqa: E731
                            "case_id": raw.case_id or "", "received_at": raw.received_at.isoformat()[:19]}
    left, right = describe(first), describe(second)
    right["case_id"] = case_id or ""
    conflict = park(session, "fork", point_id=point.id, raw=second, case_id=case_id,
                    other_case_id=first.case_id if first.case_id != case_id else None,
                    fields=differing(left, right), left=left, right=right,
                    detail={"seq": second.seq, "resume_seq": resume_seq})
    tell_points(session, conflict, [point.id], outcome="resume",
                note=f"sequence {second.seq} was used twice (restored from a backup?); continue from {resume_seq}",
                resume_seq=resume_seq)
    return conflict


def tell_points(session: Session, conflict: Conflict, point_ids: list[uuid.UUID], *, outcome: str, note: str,
                resume_seq: int = 0) -> None:
    """Send each point involved the hub's word on ``conflict`` (a RECONCILED message per point)."""
    for point_id in dict.fromkeys(point_ids):
        point = session.get(Point, point_id)
        if point is None or not point.enc_public_key:
            continue
        case = _point_case(session, conflict, point_id)
        message = Reconciled(conflict_id=str(conflict.id), conflict_type=conflict.kind,
                             case_id=case.id if case else "", outcome=outcome, note=note[:2000],
                             version=case.version if case else 0, resume_seq=resume_seq, at=utcnow())
        enqueue(session, point=point, kind=Kind.RECONCILED, payload=message.model_dump(mode="json"),
                case_id=case.id if case else None)


def _point_case(session: Session, conflict: Conflict, point_id: uuid.UUID) -> Case | None:
    """The case of ``conflict`` that ``point_id`` received (its case page shows the outcome)."""
    for case_id in (conflict.case_id, conflict.other_case_id):
        case = session.get(Case, case_id) if case_id else None
        if case is not None and case.point_id == point_id:
            return case
    return None
