"""Issue 27, case 2: what an enrolled point can make the hub store is bounded, and an operator hears of a flood.

A stolen laptop's keys sign whatever it likes. The hub holds each envelope to its kind's decompressed size
(sync/envelope.py MAX_PLAINTEXT_BY_KIND) and each field to at most what the point's own API takes
(sync/messages.py); an envelope over either is refused alone as ``too_large`` and the rest of the push goes
through. What it does accept counts against the point's daily ingest budget (hub/intake/budget.py): past it the
hub keeps accepting, and warns once a day in its log, its audit chain, the points page and the operators' queue.
Runs on SQLite and PostgreSQL (tests/hub/conftest.py).
"""

from __future__ import annotations

import logging

from click.testing import CliRunner
from sqlmodel import select

from hub.cli import main as hub_cli
from hub.core.models import AuditEntry, Case, PointIngestDay, RawEnvelope
from hub.intake.budget import MIB, OVER_BUDGET
from sync.envelope import Kind
from sync.framing import encode_frames
from sync.messages import MAX_FORM_ENTRIES, MAX_FORM_VALUE
from tests.hub.hubkit import VILLAGE, FakePoint

WIDE = "\U00020000"  # a CJK Ext. B character: 4 bytes in UTF-8, 12 in an ASCII-escaped JSON column


def widest_form(entries: int, length: int) -> dict[str, str]:
    return {f"field_{n:03d}": WIDE * length for n in range(entries)}


def outcomes(point: FakePoint, frames: list[bytes]) -> list[tuple[str, str]]:
    return [(result.status, result.reason) for result in point.client.push(frames)]


def test_envelopes_over_a_limit_are_refused_alone_as_too_large(hub):
    point = hub.enroll_point()
    first = point.submit()
    # The report's push: each SUBMIT compresses to a few KB and unpacks to some 1 MB (2.6 GiB stored for 480).
    bomb = point.submit(form=widest_form(120, 2000))
    too_long = point.submit(form={"insured_category": "x" * (MAX_FORM_VALUE + 1)})
    too_many = point.submit(form=widest_form(MAX_FORM_ENTRIES + 1, 1))
    widest = point.submit(form=widest_form(MAX_FORM_ENTRIES, MAX_FORM_VALUE))
    frames = [point.seal(Kind.SUBMIT, first), point.seal(Kind.SUBMIT, bomb), point.seal(Kind.SUBMIT, too_long),
              point.seal(Kind.SUBMIT, too_many),
              point.seal(Kind.AMEND, {"case_id": first["case_id"], "base_version": 1, "staff": "staff",
                                      "form": {"insured_category": "x" * 2000}, "amended_at": first["received_at"]}),
              point.seal(Kind.SUBMIT, widest)]
    assert len(encode_frames(frames)) < 64 * 1024
    assert outcomes(point, frames) == [("accepted", ""), ("rejected", "too_large"), ("rejected", "too_large"),
                                       ("rejected", "too_large"), ("rejected", "too_large"), ("accepted", "")]
    with hub.db() as session:
        cases = {case.id: case for case in session.exec(select(Case)).all()}
        assert set(cases) == {first["case_id"], widest["case_id"]}
        assert cases[first["case_id"]].form == first["form"], "the refused correction changed nothing"
        kept = session.exec(select(RawEnvelope.outcome, RawEnvelope.reason).where(
            RawEnvelope.outcome == "rejected")).all()
        assert sorted(kept) == [("rejected", "too_large")] * 4, "kept raw for the operator"


def test_a_point_over_its_daily_budget_is_still_served_and_an_operator_hears_of_it_once(hub, caplog):
    point = hub.enroll_point()
    set_budget = CliRunner().invoke(hub_cli, ["points", "budget", VILLAGE, "--mib", "1", "--data", str(hub.data_dir)])
    assert set_budget.exit_code == 0, set_budget.output
    cases = [point.submit(form=widest_form(MAX_FORM_ENTRIES, MAX_FORM_VALUE)) for _ in range(28)]
    with caplog.at_level(logging.WARNING, logger="hub.intake.budget"):
        first = outcomes(point, [point.seal(Kind.SUBMIT, case) for case in cases[:14]])
        second = outcomes(point, [point.seal(Kind.SUBMIT, case) for case in cases[14:]])
        third = outcomes(point, [point.seal(Kind.SUBMIT, point.submit())])
    assert first + second + third == [("accepted", "")] * 29, "a surge is never refused"
    warnings = [record.getMessage() for record in caplog.records if "daily ingest budget" in record.getMessage()]
    assert len(warnings) == 1 and VILLAGE in warnings[0], warnings
    with hub.db() as session:
        (day,) = session.exec(select(PointIngestDay)).all()
        assert day.envelopes == 29 and MIB < day.stored_bytes < 2 * MIB and day.over_budget_at is not None
        alerts = session.exec(select(AuditEntry).where(AuditEntry.action == OVER_BUDGET)).all()
        assert [(entry.subject, entry.detail["budget_bytes"]) for entry in alerts] == [(f"point:{VILLAGE}", MIB)]

    admin = hub.browser("admin")
    page = admin.get("/points").text
    assert 'id="over-budget"' in page and "超出当日接收预算" in page and VILLAGE in page
    assert "/ 1.0 MB" in page and "已超预算" in page
    queue = admin.get("/queue").text
    assert 'id="queue-over-budget"' in queue and VILLAGE in queue
    reviewer = hub.browser("yb-li")
    assert 'id="queue-over-budget"' not in reviewer.get("/queue").text
