"""Plain new cases go in bulk (hub/intake/bulk.py); everything else in a batch still goes one by one, in order."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from hub.intake import bulk as bulk_module
from hub.core.audit import verify_audit
from hub.core.models import AuditEntry, Case, CaseEvent, CaseScan, Conflict, OutMessage, RawEnvelope, ReviewTask
from sync.envelope import Kind
from sync.clock import utcnow


def _amend(case_id: str, field: str, value: str) -> dict:
    return {"case_id": case_id, "base_version": 1, "form": {field: value},
            "amended_at": datetime.now(timezone.utc).isoformat(), "staff": "staff"}


def _scan(number: int) -> dict:
    return {"scan_id": f"00000000-0000-4000-8000-{number:012d}", "name": f"id-{number}.jpg", "material": "id_card",
            "size": 1000, "sha256": "0" * 64, "key_b64": "A" * 43 + "="}


def test_a_batch_mixing_plain_cases_with_others_answers_each_in_order(hub):
    point = hub.enroll_point()
    first = point.submit()
    twin_of_first = point.submit(applicant=dict(first["applicant"]))
    last = point.submit()
    plain = point.submit(scans=[_scan(1)])
    same_scan = point.submit(scans=[_scan(1)])
    plain_frame = point.seal(Kind.SUBMIT, plain)
    frames = [
        point.seal(Kind.SUBMIT, first),
        point.seal(Kind.AMEND, _amend(first["case_id"], "insured_category", "学生")),  # needs the case above
        point.seal(Kind.SUBMIT, twin_of_first),  # the same resident: a duplicate application
        plain_frame,
        plain_frame,  # the same envelope again
        point.seal(Kind.SUBMIT, same_scan),  # lists a scan the case before it lists
        point.seal(Kind.SUBMIT, {"case_id": "not a case"}),
        point.seal(Kind.SUBMIT, last),
    ]
    answers = [(result.status, result.reason) for result in point.client.push(frames)]
    assert answers == [("accepted", ""), ("accepted", ""), ("conflict", "duplicate"), ("accepted", ""),
                       ("duplicate", ""), ("rejected", "scan_id_taken"), ("rejected", "invalid_payload"),
                       ("accepted", "")]
    with hub.db() as session:
        amended = session.get(Case, first["case_id"])
        assert amended.form["insured_category"] == "学生" and amended.version == 2
        [conflict] = session.exec(select(Conflict)).all()
        assert (conflict.kind, conflict.case_id, conflict.other_case_id) == (
            "duplicate", twin_of_first["case_id"], first["case_id"])
        assert [scan.case_id for scan in session.exec(select(CaseScan)).all()] == [plain["case_id"]]
        assert session.get(Case, same_scan["case_id"]) is None
        # One status message per case, numbered in the order the cases arrived.
        statuses = session.exec(select(OutMessage).where(OutMessage.kind == int(Kind.STATUS))
                                .order_by(OutMessage.seq)).all()
        assert [message.case_id for message in statuses] == [
            first["case_id"], twin_of_first["case_id"], plain["case_id"], last["case_id"]]
        assert [message.seq for message in session.exec(select(OutMessage).order_by(OutMessage.seq))] == list(
            range(1, len(session.exec(select(OutMessage)).all()) + 1))
        assert verify_audit(session).broken is None


def _state_shape(detail: dict) -> dict:
    """An entry's detail without what differs between two cases: row ids, digests, its receipt and times."""
    if "case" not in detail:
        return {name: value for name, value in detail.items() if name != "line"}

    def plain(fingerprint: dict) -> dict:
        return {name: "digest" if name.endswith("_sha256") else value for name, value in fingerprint.items()
                if name not in ("receipt_no", "received_at")}

    return {"case": plain(detail["case"]),
            "tasks": sorted((plain(task) for task in detail["tasks"].values()),
                            key=lambda task: (task["stage"], task["department_code"]))}


def _shape(session, case_id: str) -> dict:
    """What a case's rows say, without ids and times."""
    case = session.get(Case, case_id)
    raw = session.exec(select(RawEnvelope).where(RawEnvelope.case_id == case_id)).one()
    events = session.exec(select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.at)).all()
    audit = session.exec(select(AuditEntry).where(AuditEntry.subject == f"case:{case_id}")
                         .order_by(AuditEntry.id)).all()
    tasks = session.exec(select(ReviewTask).where(ReviewTask.case_id == case_id)
                         .order_by(ReviewTask.stage, ReviewTask.department_code)).all()
    [status] = session.exec(select(OutMessage).where(OutMessage.case_id == case_id)).all()
    return {
        "case": {key: value for key, value in case.model_dump().items()
                 if key not in ("id", "receipt_no", "applicant", "received_at", "hub_received_at", "resident_key")},
        "raw": (raw.outcome, raw.reason, raw.kind),
        "events": [(event.actor, event.action, event.note) for event in events],
        "audit": [(entry.actor, entry.action, _state_shape(entry.detail)) for entry in audit],
        "tasks": [(task.department_code, task.stage, task.status, task.decided_by, task.result_fields)
                  for task in tasks],
        "status": (status.kind, status.envelope, status.payload["status"], status.payload["note"]),
    }


def test_a_run_that_breaks_a_constraint_goes_one_by_one_with_the_same_rows(hub, monkeypatch):
    point = hub.enroll_point()
    staged = "451030-RS-002"
    bulk = [point.submit(), point.submit(staged)]
    results = point.client.push([point.seal(Kind.SUBMIT, payload) for payload in bulk])
    assert [result.status for result in results] == ["accepted", "accepted"]

    writes = []

    def broken(connection, model, rows):
        writes.append(model.__tablename__)
        raise IntegrityError("INSERT", {}, Exception("injected"))

    monkeypatch.setattr(bulk_module, "insert_rows", broken)
    one_by_one = [point.submit(), point.submit(staged)]
    results = point.client.push([point.seal(Kind.SUBMIT, payload) for payload in one_by_one])
    assert [result.status for result in results] == ["accepted", "accepted"] and writes == ["rawenvelope"]
    with hub.db() as session:
        for written, applied in zip(bulk, one_by_one):
            assert _shape(session, written["case_id"]) == _shape(session, applied["case_id"])
        assert verify_audit(session).broken is None


def test_a_clock_offset_a_case_reports_counts_for_the_cases_after_it_in_the_batch(hub):
    point, other = hub.enroll_point(), hub.enroll_point("另一个村便民服务站")
    # The point's clock runs five days behind the hub's: its laptop says intake was five days ago.
    five_days = 5 * 24 * 3600 * 1000
    behind = (utcnow() - timedelta(days=5)).isoformat()
    reporting, silent = point.submit(received_at=behind, clock_offset_ms=five_days), point.submit(received_at=behind)
    results = point.client.push([point.seal(Kind.SUBMIT, reporting), point.seal(Kind.SUBMIT, silent)])
    # Without the first case's offset counting for the second, the second would claim an intake five days before
    # the point was enrolled: parked as a suspicious intake time.
    assert [result.status for result in results] == ["accepted", "accepted"], results
    elsewhere = other.push_case()
    with hub.db() as session:
        due = {case_id: session.get(Case, case_id).due_date
               for case_id in (reporting["case_id"], silent["case_id"], elsewhere)}
    # On the hub's clock both were received now, as the case from elsewhere.
    assert due[reporting["case_id"]] == due[silent["case_id"]] == due[elsewhere]
