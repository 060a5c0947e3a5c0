"""`pointkit-hub audit verify` against someone who can write the hub's database: entries cut off the end of the
chain, a decision, an applicant's name or a timeline note edited in place. Plain SQL on the hub's own database,
whichever it is; the verifier runs as the CLI."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner
from tests.support.cluster import wait_until
from sqlalchemy import text, update
from sqlmodel import select

from hub.trust.accounts import create_staff
from hub.trust.auditheads import heads_file, start_anchoring
from hub.trust.countyheads import latest_county_head
from hub.cli import main
from hub.core.models import AuditEntry, Case, CaseEvent
from sync.envelope import Kind
from sync.signing import verify_document
from sync.auditheads import read_head


def _loop_once(hub) -> str:
    point = hub.enroll_point()
    case_id = point.push_case()
    decided = hub.api("yb-li").post(f"/api/cases/{case_id}/decision",
                                    json={"decision": "rejected", "reason": "户口簿与身份证地址不一致"})
    assert decided.status_code == 200, decided.text
    point.client.pull(point.client.pull(0).cursor)
    return case_id


def _verify(hub, *args: str):
    return CliRunner().invoke(main, ["audit", "verify", "--data", str(hub.data_dir), *args])


def _last_entry(hub) -> int:
    with hub.db() as session:
        return session.exec(select(AuditEntry.id).order_by(AuditEntry.id.desc())).first()


def _state_entry(hub, case_id: str) -> int:
    """The newest entry recording what ``case_id``'s case row holds."""
    with hub.db() as session:
        return session.exec(select(AuditEntry.id).where(AuditEntry.subject == f"case:{case_id}",
                                                        AuditEntry.action == "case_state")
                            .order_by(AuditEntry.id.desc())).first()


def _line_entry(hub, line_id) -> int:
    """The entry written with a timeline line."""
    with hub.db() as session:
        return next(entry.id for entry in session.exec(select(AuditEntry)) if entry.detail.get("line") == str(line_id))


def _county(hub):
    with hub.db() as session:
        return latest_county_head(session)


def test_every_push_answer_carries_the_newest_county_head_signed_by_the_hub(hub):
    hub.app.config["COUNTY_HEAD_EVERY_S"] = 0  # a county head after every push (the default: every 5 s at most)
    point = hub.enroll_point()
    case_id = point.push_case()  # a plain case: written in bulk
    amend = {"case_id": case_id, "base_version": 1, "form": {"insured_category": "学生"},
             "amended_at": datetime.now(timezone.utc).isoformat(), "staff": "staff"}
    for push in (lambda: None, lambda: point.client.push([point.seal(Kind.AMEND, amend)])):  # and one by one
        push()
        head = read_head(point.client.hub_audit_head)
        assert verify_document(head.signed, hub.identity.sign_key.public_key())["type"] == "pointkit.audit-head/v1"
        county = _county(hub)
        assert (head.chain, head.entries, head.head) == ("county", county.seq, county.entry_hash)
        with hub.db() as session:
            last = session.exec(select(AuditEntry).where(AuditEntry.subject == f"case:{case_id}")
                                .order_by(AuditEntry.id.desc())).first()
        assert last.chain == f"point:{point.point_id}", "a case's entries are in its point's own chain"
        assert county.heads[last.chain] == [last.seq, last.entry_hash], "the state entries its commit wrote too"


@pytest.mark.parametrize("cut", [1, 10])
def test_entries_cut_off_the_end_fail_against_the_county_heads_and_the_heads_anchored_outside(hub, cut):
    _loop_once(hub)
    with hub.db() as session:
        for number in range(10):  # the last entries concern no case: only the heads can miss them
            create_staff(session, username=f"clerk-{number}", password="clerk-password", role="operator")
    anchoring = _verify(hub)
    assert anchoring.exit_code == 0, anchoring.output
    end = _last_entry(hub)
    with hub.db() as session:
        hub_end, end_hash = session.get(AuditEntry, end).seq, session.get(AuditEntry, end).entry_hash
    county = _county(hub)
    assert read_head(json.loads(heads_file(hub.data_dir).read_text().splitlines()[-1])).entries == county.seq
    assert county.heads["hub"] == [hub_end, end_hash]

    with hub.engine.begin() as db:
        db.execute(text("delete from auditentry where chain = 'hub' and seq > :keep"), {"keep": hub_end - cut})
    cut_short = _verify(hub)
    assert cut_short.exit_code == 1
    assert (f"it is missing: county head {county.seq} recorded the chain hub at entry {hub_end}, which the chain "
            "no longer has") in cut_short.output
    assert "Audit chain broken" not in cut_short.output, "what is left of the chain still holds"

    with hub.engine.begin() as db:  # the county heads removed too: the heads file outside the database remains
        db.execute(text("delete from countyhead"))
        db.execute(text("update auditchain set anchored_seq = 0"))
    cut_short = _verify(hub)
    assert cut_short.exit_code == 1
    assert f"Audit check failed at entry {county.seq}: it is missing" in cut_short.output
    assert "audit-heads.log line 1" in cut_short.output and "now ends at entry 0" in cut_short.output


def test_serve_anchors_the_county_head_on_a_timer(hub):
    _loop_once(hub)
    stop = start_anchoring(hub.engine, hub.data_dir, 0.05, machine="hub-a", holder="hub-a (test)")
    try:
        wait_until(lambda: heads_file(hub.data_dir).exists(), timeout=30, what="the head in audit-heads.log")
        county = wait_until(lambda: _county(hub), timeout=30, what="a county head")
    finally:
        stop.set()
    [line] = heads_file(hub.data_dir).read_text().splitlines()  # a head that did not move is written once
    assert read_head(json.loads(line)).entries == county.seq
    with hub.db() as session:
        last = session.get(AuditEntry, _last_entry(hub))
    assert county.heads.get(last.chain) == [last.seq, last.entry_hash] or county.seq > 1


def _edited(hub, statement, undo):
    """``audit verify`` with one row changed behind the hub's back (SQL on its database), then put back."""
    with hub.engine.begin() as db:
        db.execute(statement)
    try:
        return _verify(hub)
    finally:
        with hub.engine.begin() as db:
            db.execute(undo)


def test_a_decision_an_applicants_name_or_a_timeline_note_edited_in_the_database_fails_naming_the_entry(hub):
    case_id = _loop_once(hub)
    assert _verify(hub).exit_code == 0
    with hub.db() as session:
        case = session.get(Case, case_id)
        applicant, decision = dict(case.applicant), case.decision
        line = session.exec(select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.action == "rejected")).one()
        note_id, note = line.id, line.note
    cases, lines = Case.__table__, CaseEvent.__table__

    decided = _edited(hub, update(cases).where(cases.c.id == case_id).values(decision="approved"),
                      update(cases).where(cases.c.id == case_id).values(decision=decision))
    assert decided.exit_code == 1
    assert (f"Audit check failed at entry {_state_entry(hub, case_id)}: case {case_id}: the case no longer "
            "matches it: its decision is 'approved', the entry recorded 'rejected'") in decided.output

    renamed = _edited(hub, update(cases).where(cases.c.id == case_id).values(applicant={**applicant, "name": "韦秀英"}),
                      update(cases).where(cases.c.id == case_id).values(applicant=applicant))
    assert renamed.exit_code == 1
    assert f"at entry {_state_entry(hub, case_id)}: case {case_id}: the case no longer matches it: its " \
           "applicant is not what the entry recorded" in renamed.output
    assert "韦秀英" not in renamed.output and applicant["name"] not in renamed.output

    reworded = _edited(hub, update(lines).where(lines.c.id == note_id).values(note="户口簿齐全"),
                       update(lines).where(lines.c.id == note_id).values(note=note))
    assert reworded.exit_code == 1
    assert (f"at entry {_line_entry(hub, note_id)}: case {case_id}: timeline line {note_id} no longer matches it: "
            f"its note is '户口簿齐全', the entry recorded '{note}'") in reworded.output

    assert _verify(hub).exit_code == 0, "every edit was undone"
