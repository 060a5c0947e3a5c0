"""The point's hash-chained audit log: what it records, and `pointkit audit verify` against edits made with sqlite3."""

from __future__ import annotations

import json
import sqlite3

import pytest
from click.testing import CliRunner
from tests.pointkit.hubside import GOOD_ID, OTHER_ID, rows, valid_form

from pointkit import db
from pointkit.auth import create_staff
from pointkit.cli import main
from pointkit.intake import Applicant, receive_case
from pointkit.models import AuditEntry, Case
from pointkit.pickup import collect
from pointkit.state import get_state, load_identity
from pointkit.syncagent import sync_once
from sync.keys import Identity
from sync.signing import verify_document
from sync.auditheads import COUNTY_CHAIN, HUB_CHAIN, sign_head

COLUMNS = "at, actor, action, subject, detail, prev_hash, entry_hash"


def busy_day(point) -> int:
    """Two cases received and sent, one result applied and collected, one staff account added."""
    identity = load_identity(point.data_dir)
    with db.session_scope(point.data_dir) as session:
        first, code = receive_case(session, "staff", "T-001", Applicant("王小明", GOOD_ID), valid_form(),
                                   ["id_card", "hukou"], identity=identity)
        receive_case(session, "staff", "T-001", Applicant("李四", GOOD_ID), valid_form(), ["id_card", "hukou"],
                     identity=identity)
        create_staff(session, "li", "long-enough-1", actor="boss")
    sync_once(point.data_dir, transport=point.transport())
    point.apply(point.result_message(first))
    with db.session_scope(point.data_dir) as session:
        collect(session, "staff", first.receipt_no, code, GOOD_ID[-4:], identity=identity)
    db.dispose(point.data_dir)
    return len(rows(point.data_dir, AuditEntry))


def verify(point):
    db.dispose(point.data_dir)
    return CliRunner().invoke(main, ["audit", "verify", "--data", str(point.data_dir)])


def tamper(point, *statements: tuple[str, tuple]) -> None:
    db.dispose(point.data_dir)
    connection = sqlite3.connect(point.data_dir / "point.db")
    with connection:
        for sql, args in statements:
            connection.execute(sql, args)
    connection.close()


def test_every_state_change_is_in_the_chain(point):
    count = busy_day(point)
    actions = [entry.action for entry in rows(point.data_dir, AuditEntry)]
    for action in ("enrolled", "case_received", "envelope_queued", "case_sent", "envelope_accepted", "case_acked",
                   "staff_added", "result_applied", "case_collected"):
        assert action in actions
    details = " ".join(entry.detail for entry in rows(point.data_dir, AuditEntry))
    assert "王小明" not in details and GOOD_ID not in details
    result = verify(point)
    assert result.exit_code == 0 and f"audit chain holds: {count} entries" in result.output


def test_an_edited_detail_is_named(point):
    busy_day(point)
    tamper(point, ("UPDATE auditentry SET detail = ? WHERE id = 4", (json.dumps({"receipt_no": "forged"}),)))
    result = verify(point)
    assert result.exit_code == 1 and "entry 4:" in result.stderr and "edited" in result.stderr


def test_an_edited_actor_is_named(point):
    busy_day(point)
    tamper(point, ("UPDATE auditentry SET actor = 'nobody' WHERE id = 6", ()))
    result = verify(point)
    assert result.exit_code == 1 and "entry 6:" in result.stderr


def test_a_removed_entry_is_named(point):
    busy_day(point)
    tamper(point, ("DELETE FROM auditentry WHERE id = 5", ()))
    result = verify(point)
    assert result.exit_code == 1 and "entry 6:" in result.stderr and "removed or reordered" in result.stderr


def test_an_entry_cut_off_the_end_is_named(point):
    count = busy_day(point)
    tamper(point, ("DELETE FROM auditentry WHERE id = ?", (count,)))
    result = verify(point)
    assert result.exit_code == 1 and f"entry {count}:" in result.stderr and "removed from the end" in result.stderr


@pytest.mark.parametrize("how", ["contents", "ids"])
def test_swapped_entries_are_named(point, how):
    busy_day(point)
    if how == "contents":
        connection = sqlite3.connect(point.data_dir / "point.db")
        three, five = (connection.execute(f"SELECT {COLUMNS} FROM auditentry WHERE id = ?", (n,)).fetchone()
                       for n in (3, 5))
        connection.close()
        setter = "UPDATE auditentry SET at=?, actor=?, action=?, subject=?, detail=?, prev_hash=?, entry_hash=? WHERE id=?"
        tamper(point, (setter, (*five, 3)), (setter, (*three, 5)))
    else:
        tamper(point, ("UPDATE auditentry SET id = -3 WHERE id = 3", ()),
               ("UPDATE auditentry SET id = 3 WHERE id = 5", ()), ("UPDATE auditentry SET id = 5 WHERE id = -3", ()))
    result = verify(point)
    assert result.exit_code == 1 and "entry 3:" in result.stderr


def test_verify_on_a_directory_without_a_point_fails_cleanly(tmp_path):
    result = CliRunner().invoke(main, ["audit", "verify", "--data", str(tmp_path / "none")])
    assert result.exit_code == 1 and "no point database" in result.stderr


def _state_entry(point, case_id: str) -> int:
    """The newest entry recording what ``case_id`` holds."""
    return max(entry.id for entry in rows(point.data_dir, AuditEntry)
               if entry.subject == case_id and entry.action == "case_state")


@pytest.mark.parametrize(("column", "value", "named"), [
    ("decision", "rejected", "its decision is 'rejected', the entry recorded 'approved'"),
    ("applicant_name", "王小红", "its applicant is not what the entry recorded (compared by digest)"),
    ("id_number", OTHER_ID, "its applicant is not what the entry recorded (compared by digest)"),
    ("collected_by", "nobody", "its collected_by is 'nobody', the entry recorded 'staff'"),
])
def test_a_case_edited_in_the_database_is_named_with_the_entry_that_recorded_it(point, column, value, named):
    busy_day(point)
    [collected] = [case for case in rows(point.data_dir, Case) if case.status == "collected"]
    assert verify(point).exit_code == 0
    tamper(point, (f'UPDATE "case" SET {column} = ? WHERE id = ?', (value, collected.id)))
    result = verify(point)
    assert result.exit_code == 1
    assert (f"audit check failed at entry {_state_entry(point, collected.id)}: case {collected.id} no longer "
            f"matches it: {named}") in result.stderr
    assert not any(personal in result.stderr for personal in ("王小明", "王小红", GOOD_ID, OTHER_ID))


def test_entries_cut_off_the_end_with_the_head_row_moved_are_named_by_the_anchored_head(point):
    busy_day(point)
    assert verify(point).exit_code == 0  # anchors the head in audit-heads.log
    count = len(rows(point.data_dir, AuditEntry))
    [line] = [line for line in (point.data_dir / "audit-heads.log").read_text().splitlines()][-1:]
    assert json.loads(line)["document"]["entries"] == count
    keep = count - 3
    with sqlite3.connect(point.data_dir / "point.db") as connection:
        last_hash = connection.execute("SELECT entry_hash FROM auditentry WHERE id = ?", (keep,)).fetchone()[0]
    # The database alone then holds: the head row is moved to the new end too.
    tamper(point, ("DELETE FROM auditentry WHERE id > ?", (keep,)),
           ("UPDATE audithead SET last_id = ?, last_hash = ?", (keep, last_hash)))
    result = verify(point)
    assert result.exit_code == 1
    assert (f"audit check failed at entry {count}: it is missing: audit-heads.log line" in result.stderr
            and f"the chain now ends at entry {keep}" in result.stderr)


def _hub_head(point, entries: int, *, key=None) -> dict:
    return sign_head(HUB_CHAIN, entries, f"{entries:064x}", (key or point.hub).sign_key)


def test_the_point_keeps_the_longest_hub_head_signed_by_a_hub_key_it_trusts(point, caplog):
    identity = load_identity(point.data_dir)

    def push_with(head: dict | None) -> None:
        with db.session_scope(point.data_dir) as session:
            receive_case(session, "staff", "T-001", Applicant("王小明", GOOD_ID), valid_form(), ["id_card", "hukou"],
                         identity=identity)
        point.audit_head = head
        sync_once(point.data_dir, transport=point.transport())

    def held() -> str:
        with db.session_scope(point.data_dir) as session:
            return get_state(session).hub_audit_head

    push_with(None)  # a hub of an earlier release sends no head
    assert held() == ""
    refused = CliRunner().invoke(main, ["audit", "head", "--data", str(point.data_dir)])
    assert refused.exit_code == 1 and "holds no signed audit head from the county hub yet" in refused.stderr

    push_with(_hub_head(point, 10))
    push_with(_hub_head(point, 25, key=Identity.generate()))  # not the hub's signature
    assert json.loads(held())["document"]["entries"] == 10
    caplog.clear()
    push_with(_hub_head(point, 6))  # the hub's chain went backwards: the evidence stays
    assert json.loads(held())["document"]["entries"] == 10
    assert "its audit log went backwards" in caplog.text
    push_with(_hub_head(point, 12))
    printed = CliRunner().invoke(main, ["audit", "head", "--data", str(point.data_dir)])
    assert printed.exit_code == 0
    exported = json.loads(printed.output)
    assert exported["document"]["entries"] == 12 and exported["held_by"]["name"] == "古障村便民服务站"
    assert verify_document(exported, point.hub.sign_key.public_key())["head"] == f"{12:064x}"


def test_once_the_hub_sends_county_heads_the_point_keeps_them_instead_of_the_one_chains_head(point, caplog):
    identity = load_identity(point.data_dir)

    def push_with(head: dict) -> dict:
        with db.session_scope(point.data_dir) as session:
            receive_case(session, "staff", "T-001", Applicant("王小明", GOOD_ID), valid_form(), ["id_card", "hukou"],
                         identity=identity)
        point.audit_head = head
        sync_once(point.data_dir, transport=point.transport())
        with db.session_scope(point.data_dir) as session:
            return json.loads(get_state(session).hub_audit_head)["document"]

    def county(entries: int) -> dict:
        return sign_head(COUNTY_CHAIN, entries, f"{entries:064x}", point.hub.sign_key)

    assert push_with(_hub_head(point, 40))["chain"] == "hub"
    held = push_with(county(1))  # the hub split its chain: a first county head replaces the long hub head
    assert (held["chain"], held["entries"]) == ("county", 1)
    assert push_with(_hub_head(point, 50))["chain"] == "county", "a head of the one chain is no evidence any more"
    assert push_with(county(3))["entries"] == 3
    caplog.clear()
    assert push_with(county(2))["entries"] == 3 and "its audit log went backwards" in caplog.text
