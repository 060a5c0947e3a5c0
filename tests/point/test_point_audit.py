"""The point's hash-chained audit log: what it records, and `pointkit audit verify` against edits made with sqlite3."""

from __future__ import annotations

import json
import sqlite3

import pytest
from click.testing import CliRunner
from hubside import GOOD_ID, rows, valid_form, point  # noqa: F401  (fixture)

from pointkit import db
from pointkit.auth import create_staff
from pointkit.cli import main
from pointkit.intake import Applicant, receive_case
from pointkit.models import AuditEntry
from pointkit.pickup import collect
from pointkit.state import load_identity
from pointkit.syncagent import sync_once

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
