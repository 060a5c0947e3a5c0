"""The point counts the receipt's promised date in the unit the item's rule states, shows limits with their
units, and tells the resident at the window and the kiosk when a special procedure stops the hub's clock."""

from __future__ import annotations

from datetime import timedelta

from tests.pointkit.hubside import ITEMS, catalog_document
from tests.pointkit.test_point_pages import app, client, hub_status, kiosk, receive_with_code, shown  # noqa: F401

from pointkit import db
from pointkit.catalog import store_catalog
from pointkit.calendar import point_calendar
from pointkit.state import as_utc, get_state
from sync.envelope import Kind
from sync.kit.workdays import COUNTY_TIMEZONE
from sync.signing import sign_document


def _natural_catalog(point) -> None:
    """Catalog version 2: test item A promises 20 natural days (日) and has a legal limit of 60."""
    items = [{**ITEMS[0], "promised_days": 20, "promised_unit": "natural_days", "legal_days": 60,
              "legal_unit": "natural_days"}, *ITEMS[1:]]
    with db.session_scope(point.data_dir) as session:
        store_catalog(session, get_state(session), sign_document(catalog_document(version=2, items=items),
                                                                 point.hub.sign_key))


def test_the_receipt_promises_natural_days_where_the_rule_counts_them(point, client):
    _natural_catalog(point)
    guide = client.get("/cases/new?item=T-001").get_data(as_text=True)
    assert "20日" in guide and "60日" in guide and "20个工作日" not in guide
    case, receipt, _code = receive_with_code(client)
    received_on = as_utc(case.received_at).astimezone(COUNTY_TIMEZONE).date()
    with db.session_scope(point.data_dir) as session:
        calendar = point_calendar(session)
    expected = received_on + timedelta(days=20)
    while not calendar.is_working_day(expected):
        expected += timedelta(days=1)
    assert case.promised_date == expected
    assert case.promised_date != calendar.add_working_days(received_on, 20), "not 20 working days"
    printed = client.get(receipt).get_data(as_text=True)
    assert shown(printed, "promised-date") == str(expected) and "20日" in printed


def test_a_running_procedure_shows_on_the_case_page_and_the_kiosk(point, client):
    case, _receipt, code = receive_with_code(client)
    due, until = case.promised_date + timedelta(days=3), case.promised_date + timedelta(days=10)
    point.apply(point.seal(Kind.STATUS, hub_status(
        case, "procedure_started", state="in_review", promised_date=str(case.promised_date),
        procedure="expert_review", procedure_since=str(case.promised_date), procedure_until=str(until))))
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert shown(page, "promised-date-procedure") == f"专家评审中（不计入办理时限），预计{until}结束；结束后日期按其所用天数顺延。"
    board = kiosk(client, case, code)
    assert f"专家评审中（不计入办理时限），预计{until}结束" in board
    # It ended: the next STATUS names no procedure and carries the moved date.
    point.apply(point.seal(Kind.STATUS, hub_status(case, "procedure_ended", state="in_review", promised_date=str(due),
                                                   paused_days=3)))
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "专家评审" not in page and shown(page, "promised-date") == str(due)
