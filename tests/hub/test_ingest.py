"""Push: verify, store raw, apply; one answer per envelope, one bad envelope blocks nothing."""

from __future__ import annotations

import logging
import re
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
from click.testing import CliRunner
from sqlmodel import select

from hub.web import create_app
from hub.cli import main as hub_cli
from hub.core.models import Case, CaseEvent, Conflict, OutMessage, Point, RawEnvelope, ReviewTask
from tests.hub.hubkit import VILLAGE
from sync.framing import CONTENT_TYPE, encode_frames
from sync.client import HubClient
from sync.keys import Identity
from sync.envelope import Kind, seal_envelope


def test_a_submitted_case_is_stored_raw_applied_and_routed(hub):
    point = hub.enroll_point()
    payload = point.submit()
    frame = point.seal(Kind.SUBMIT, payload)
    [result] = point.client.push([frame])
    assert result.status == "accepted", result
    with hub.db() as session:
        raw = session.exec(select(RawEnvelope)).one()
        assert raw.header + len(raw.ciphertext).to_bytes(4, "big") + raw.ciphertext + raw.signature == frame
        assert raw.outcome == "accepted" and raw.case_id == payload["case_id"] and raw.seq == 1
        case = session.get(Case, payload["case_id"])
        assert case.status == "routed" and case.item_name == "城乡居民基本医疗保险参保登记"
        assert case.applicant["name"] == "韦秀兰" and case.due_date is not None
        assert [(t.department_code, t.status) for t in session.exec(select(ReviewTask)).all()] == [("YB", "open")]
    # The point hears "routed" as a sealed STATUS message.
    messages, cursor = point.pull_all()
    assert cursor == 1
    [(envelope, status)] = messages
    assert envelope.header.kind == Kind.STATUS and status["status"] == "routed"
    assert status["case_id"] == payload["case_id"]


def test_the_same_envelope_twice_is_a_duplicate(hub):
    point = hub.enroll_point()
    frame = point.seal(Kind.SUBMIT, point.submit())
    assert point.client.push([frame])[0].status == "accepted"
    again = point.client.push([frame, frame])
    assert [r.status for r in again] == ["duplicate", "duplicate"]
    with hub.db() as session:
        assert len(session.exec(select(RawEnvelope)).all()) == 1
        assert len(session.exec(select(Case)).all()) == 1


def test_same_seq_with_same_content_is_duplicate_and_different_content_is_conflict(hub):
    point = hub.enroll_point()
    payload = point.submit()
    assert point.client.push([point.seal(Kind.SUBMIT, payload, seq=1)])[0].status == "accepted"
    # Re-sealed (new envelope id, new ciphertext) but the same intent: a resend.
    assert point.client.push([point.seal(Kind.SUBMIT, payload, seq=1)])[0].status == "duplicate"
    forked = point.client.push([point.seal(Kind.SUBMIT, point.submit(applicant=payload["applicant"]), seq=1)])[0]
    assert forked.status == "conflict" and forked.reason == "seq_reused"
    with hub.db() as session:
        outcomes = sorted(raw.outcome for raw in session.exec(select(RawEnvelope)).all())
        assert outcomes == ["accepted", "conflict"], "both versions are kept"
        # The second copy is a case received after a restore: applied, and parked as a fork until an operator looks.
        assert len(session.exec(select(Case)).all()) == 2
        # Same resident, same item: a duplicate application as well.
        conflicts = {c.kind: c for c in session.exec(select(Conflict)).all()}
        assert sorted(conflicts) == ["duplicate", "fork"]
        assert (conflicts["fork"].status, conflicts["fork"].seq) == ("open", 1)


def test_a_receipt_number_the_point_gave_another_case_is_kept_and_parked_as_a_fork(hub):
    """A point restored from an old backup numbers receipts from where the backup stood: the new cases come
    under fresh sequence numbers but with receipt numbers residents already hold. Both cases are kept, each
    reuse is parked, whether it comes alone, among plain cases or twice in one batch."""
    point = hub.enroll_point()
    first = point.submit(receipt_no="20261130-C5DEE5-0003")
    second = point.submit(receipt_no="20261130-C5DEE5-0004")
    assert [r.status for r in point.client.push([point.seal(Kind.SUBMIT, first), point.seal(Kind.SUBMIT, second)])] \
        == ["accepted", "accepted"]
    again_3 = point.submit(receipt_no="20261130-C5DEE5-0003")
    plain = point.submit(receipt_no="20261130-C5DEE5-0005")
    again_4 = point.submit(receipt_no="20261130-C5DEE5-0004")
    fresh, fresh_again = point.submit(receipt_no="20261130-C5DEE5-0006"), point.submit(receipt_no="20261130-C5DEE5-0006")
    results = point.client.push([point.seal(Kind.SUBMIT, payload)
                                 for payload in (again_3, plain, again_4, fresh, fresh_again)])
    assert [(r.status, r.reason) for r in results] == [
        ("conflict", "fork"), ("accepted", ""), ("conflict", "fork"), ("accepted", ""), ("conflict", "fork")]
    with hub.db() as session:
        assert len(session.exec(select(Case)).all()) == 7, "every case is kept"
        parked = {(c.case_id, c.other_case_id, c.detail.get("receipt_no"), c.status)
                  for c in session.exec(select(Conflict)).all()}
    assert parked == {(again_3["case_id"], first["case_id"], "20261130-C5DEE5-0003", "open"),
                      (again_4["case_id"], second["case_id"], "20261130-C5DEE5-0004", "open"),
                      (fresh_again["case_id"], fresh["case_id"], "20261130-C5DEE5-0006", "open")}
    # Each pull answer names the highest sequence and receipt numbers the hub holds from the point (what a
    # point restored from an old backup numbers on from); a refused payload's receipt number does not count.
    refused = point.client.push([point.seal(Kind.SUBMIT, point.submit(receipt_no="9" * 60))])[0]
    assert (refused.status, refused.reason) == ("rejected", "too_large")
    point.client.pull(0)
    assert (point.client.hub_last_seq, point.client.hub_last_receipt) == (point.seq, "20261130-C5DEE5-0006")
    # Looked up by receipt number, both cases show, with a warning.
    shown = CliRunner().invoke(hub_cli, ["cases", "show", "20261130-C5DEE5-0003", "--data", str(hub.data_dir)])
    assert shown.exit_code == 0, shown.output
    assert shown.output.count("receipt 20261130-C5DEE5-0003") == 2 and "names 2 cases" in shown.output
    assert shown.output.index(first["case_id"]) < shown.output.index(again_3["case_id"]), "first received first"
    # Another point's receipt numbers are its own (they carry its code; a test point's need not).
    other = hub.enroll_point("八达镇土黄村便民服务站")
    assert other.client.push([other.seal(Kind.SUBMIT, other.submit(receipt_no="20261130-C5DEE5-0003"))])[0].status \
        == "accepted"


def test_bad_signature_and_unknown_point_are_rejected_and_not_stored(hub):
    point = hub.enroll_point()
    forged = seal_envelope(kind=Kind.SUBMIT, payload=point.submit(), sender_id=point.point_id, seq=1,
                           sender_key=Identity.generate().sign_key, recipient_key=point.hub_keys.sealer())
    stranger = seal_envelope(kind=Kind.SUBMIT, payload=point.submit(), sender_id=uuid.uuid4(), seq=1,
                             sender_key=point.identity.sign_key, recipient_key=point.hub_keys.sealer())
    results = point.client.push([forged.to_bytes(), stranger.to_bytes()])
    assert [(r.status, r.reason) for r in results] == [("rejected", "bad_signature"), ("rejected", "unknown_point")]
    assert results[0].envelope_id == str(forged.header.envelope_id)
    with hub.db() as session:
        assert session.exec(select(RawEnvelope)).all() == []


def test_one_bad_envelope_does_not_block_the_rest_of_the_batch(hub):
    point = hub.enroll_point()
    good_1 = point.submit()
    bad = point.submit(applicant={"name": "", "id_number": "1"})
    good_2 = point.submit()
    frames = [point.seal(Kind.SUBMIT, good_1), b"PKE garbage", point.seal(Kind.SUBMIT, bad),
              point.seal(Kind.SUBMIT, good_2)]
    results = point.client.push(frames)
    assert [r.status for r in results] == ["accepted", "rejected", "rejected", "accepted"]
    assert results[1].reason in ("truncated", "malformed")
    assert results[2].reason == "invalid_payload" and "applicant" in results[2].message
    with hub.db() as session:
        assert {c.id for c in session.exec(select(Case)).all()} == {good_1["case_id"], good_2["case_id"]}
        rejected = session.exec(select(RawEnvelope).where(RawEnvelope.outcome == "rejected")).one()
        assert rejected.reason == "invalid_payload", "a signed but invalid envelope is still kept raw"
    # The rejected one stays rejected if the point sends it again.
    assert point.client.push([frames[2]])[0].status == "rejected"


def test_an_unknown_item_is_kept_for_an_operator_not_lost(hub):
    point = hub.enroll_point()
    payload = point.submit("451030-XX-999")
    [result] = point.client.push([point.seal(Kind.SUBMIT, payload)])
    assert result.status == "accepted" and result.reason == "unknown_item"
    with hub.db() as session:
        case = session.get(Case, payload["case_id"])
        assert case.status == "needs_attention"
        assert session.exec(select(ReviewTask)).all() == []
    queue = hub.api("op").get("/api/queue").json()["cases"]
    assert [c["status"] for c in queue if c["case_id"] == payload["case_id"]] == ["needs_attention"]


def test_revoked_and_pending_points_are_refused(hub):
    point = hub.enroll_point()
    hub.token("还没注册的村", "village")
    with hub.db() as session:
        pending = session.exec(select(Point).where(Point.name == "还没注册的村")).one()
        row = session.get(Point, point.point_id)
        row.status = "revoked"
        session.add(row)
        pending_id = pending.id
    impostor = seal_envelope(kind=Kind.SUBMIT, payload=point.submit(), sender_id=pending_id, seq=1,
                             sender_key=point.identity.sign_key, recipient_key=point.hub_keys.sealer())
    results = point.client.push([point.seal(Kind.SUBMIT, point.submit()), impostor.to_bytes()])
    assert [r.reason for r in results] == ["point_revoked", "point_pending"]


def test_collected_closes_the_case_after_its_result(hub):
    point = hub.enroll_point()
    case_id = point.push_case()
    collected = {"case_id": case_id, "collected_at": "2026-01-05T09:00:00+08:00", "staff": "staff"}
    early = point.client.push([point.seal(Kind.COLLECTED, collected)])[0]
    assert (early.status, early.reason) == ("rejected", "no_result")
    assert hub.api("yb-li").post(f"/api/cases/{case_id}/decision",
                                 json={"decision": "approved", "certificate_no": "YB-1"}).status_code == 200
    [result] = point.client.push([point.seal(Kind.COLLECTED, collected)])
    assert result.status == "accepted", result
    detail = hub.api("yb-li").get(f"/api/cases/{case_id}").json()
    assert detail["status"] == "closed"
    assert [e["action"] for e in detail["events"]][-1] == "closed"


def test_push_refuses_malformed_and_oversized_bodies(hub, live_server):
    point = hub.enroll_point()
    frames_body = encode_frames([point.seal(Kind.SUBMIT, point.submit())])
    headers = {"Content-Type": CONTENT_TYPE}
    bad = httpx.post(hub.url + "/sync/v1/push", content=b"not frames", headers=headers)
    assert bad.status_code == 400 and bad.json()["reason"] == "malformed"
    wrong_type = httpx.post(hub.url + "/sync/v1/push", content=frames_body, headers={"Content-Type": "text/plain"})
    assert wrong_type.status_code == 415
    # The same data directory served a second time with a tiny push limit.
    tiny = live_server(create_app(hub.data_dir, test_config={"PUSH_MAX_BYTES": 100}))
    too_big = httpx.post(tiny.url + "/sync/v1/push", content=frames_body, headers=headers)
    assert too_big.status_code == 413 and too_big.json()["reason"] == "too_large"
    assert "X-Pointkit-Hub-Time" in too_big.headers
    with hub.db() as session:
        assert session.exec(select(RawEnvelope)).all() == [] and session.exec(select(OutMessage)).all() == []


def test_last_contact_is_updated(hub):
    point = hub.enroll_point()
    admin = hub.api("admin")
    [before] = admin.get("/api/points").json()["points"]
    point.push_case()
    [after] = admin.get("/api/points").json()["points"]
    assert after["name"] == VILLAGE and after["status"] == "active"
    assert after["last_contact"] > before["last_contact"]


def test_concurrent_pushes_of_the_same_batch_apply_each_envelope_once(hub):
    point = hub.enroll_point()
    payloads = [point.submit() for _ in range(5)]
    frames = [point.seal(Kind.SUBMIT, payload) for payload in payloads]

    def push(_index: int) -> list[str]:
        with HubClient(hub.url, attempts=1) as client:
            return [result.status for result in client.push(frames)]

    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(push, range(4)))
    for position in range(len(frames)):
        statuses = sorted(answer[position] for answer in answers)
        assert statuses == ["accepted", "duplicate", "duplicate", "duplicate"], statuses
    with hub.db() as session:
        assert len(session.exec(select(Case)).all()) == 5
        assert len(session.exec(select(RawEnvelope)).all()) == 5
        assert len(session.exec(select(OutMessage)).all()) == 5


def test_an_envelope_stored_but_not_applied_before_a_crash_is_applied_when_it_comes_again(hub):
    """A hub from before one-transaction ingest committed the raw envelope, then applied it; killed in
    between, the disk holds a raw row marked "received" and no case. The point never got an answer, so it
    pushes again: that must apply the case, not answer "duplicate" (which would make the point drop it)."""
    from hub.intake.ingest import store_raw
    from sync.envelope import Envelope

    point = hub.enroll_point()
    payload = point.submit()
    frame = point.seal(Kind.SUBMIT, payload)
    # The first of that hub's two commits, and then the crash.
    with hub.db() as session:
        store_raw(session, Envelope.parse(frame), session.get(Point, point.point_id), "received")
        assert session.get(Case, payload["case_id"]) is None
    [again] = point.client.push([frame])
    assert again.status == "accepted", again
    with hub.db() as session:
        assert session.get(Case, payload["case_id"]).status == "routed"
        assert session.exec(select(RawEnvelope)).one().outcome == "accepted"


def test_each_push_logs_its_answers_and_how_long_it_waited_for_and_held_the_write_lock(hub, caplog):
    caplog.set_level(logging.INFO, logger="hub.intake")
    point = hub.enroll_point()
    answers = point.client.push([point.seal(Kind.SUBMIT, point.submit()) for _ in range(3)])
    assert [answer.status for answer in answers] == ["accepted"] * 3
    [line] = [record.getMessage() for record in caplog.records if record.getMessage().startswith("push of")]
    found = re.fullmatch(r"push of 3 envelope\(s\) for point\(s\) ([0-9a-f-]{36}): 3 accepted; waited ([\d.]+) ms "
                         r"for its locks, held them ([\d.]+) ms", line)
    assert found and found[1] == str(point.point_id) and float(found[3]) > 0, line


def test_a_verifying_push_pauses_while_a_push_of_its_process_holds_the_write_lock():
    from hub.intake.turns import WriterFirst

    turns, verified = WriterFirst(), threading.Event()

    def verify_next_envelope() -> None:
        turns.wait()
        verified.set()

    with turns.writing():
        threading.Thread(target=verify_next_envelope, daemon=True).start()
        assert not verified.wait(0.3), "verified while the writing push held the lock"
    assert verified.wait(10), "still waiting after the writing push released the lock"


def test_a_case_timeline_keeps_the_order_of_lines_written_within_one_millisecond(hub):
    # The hub's clock counts milliseconds, and a new case's "received" and "routed" lines, or a decision's
    # lines, are written in the same one: the timeline must still read in the order they were written.
    from hub.approval.cases import case_detail
    from hub.core.timeline import record_event

    point = hub.enroll_point()
    payload = point.submit()
    [answer] = point.client.push([point.seal(Kind.SUBMIT, payload)])
    assert answer.status == "accepted", answer
    with hub.db() as session:
        for number in range(12):
            record_event(session, payload["case_id"], actor="hub", action=f"step-{number}")
        session.commit()
        events = case_detail(session, session.get(Case, payload["case_id"]))["events"]
    assert [event["action"] for event in events] == ["received", "routed"] + [f"step-{n}" for n in range(12)]


def test_a_copy_request_sends_back_the_points_own_cases_each_with_its_messages_once(hub):
    """A point restored from an older backup asks for the cases behind envelope numbers it never used: each
    comes back as a CASE_COPY (no scan keys) followed by its messages again; another point's case never does."""
    point, other = hub.enroll_point(), hub.enroll_point("那劳镇政务服务中心", "township")
    kept, lost = point.push_case(), point.push_case()
    other.push_case()

    def ask(from_seq: int, to_seq: int):
        [answer] = point.client.push([point.seal(Kind.COPY_REQUEST, {
            "from_seq": from_seq, "to_seq": to_seq, "asked_at": "2026-12-01T08:00:00+00:00"})])
        return answer

    _before, cursor = point.pull_all()
    first = ask(2, 2)
    assert (first.status, first.reason) == ("accepted", ""), first
    sent, cursor = point.pull_all(cursor)
    assert [(envelope.header.kind, payload.get("case_id") or payload["case"]["case_id"])
            for envelope, payload in sent] == [(Kind.CASE_COPY, lost), (Kind.STATUS, lost)]
    copy = sent[0][1]
    assert copy["case"]["applicant"]["name"] == "韦秀兰" and copy["case"]["scans"] == []
    assert (copy["version"], copy["closed_at"], copy["item_name"]) == (1, None, "城乡居民基本医疗保险参保登记")

    assert ask(1, 50).status == "accepted"
    again, _cursor = point.pull_all(cursor)
    assert [envelope.header.kind for envelope, _payload in again] == [Kind.CASE_COPY, Kind.STATUS] * 2, \
        "a message already sent again goes once more, not twice"
    nothing = ask(50, 60)
    assert (nothing.status, nothing.reason) == ("accepted", "nothing_to_copy")
    with hub.db() as session:
        notes = session.exec(select(CaseEvent.action).where(CaseEvent.case_id == lost)).all()
    assert notes.count("copy_sent") == 2
