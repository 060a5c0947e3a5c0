"""County data reaches every point: next year's holidays and every catalog change, online and by USB.

The holiday year here is one the test builds (a made-up 2031 schedule), never a guessed real one.
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
from datetime import date
from pathlib import Path

import httpx
from tests.support.cluster import command, wait_until

from pointkit import db
from pointkit.calendar import point_calendar
from pointkit.state import get_state
from sync.kit.idnumber import check_character
from sync.kit.workdays import default_calendar

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
VILLAGE = "八达镇周邦村便民服务站"
USB_VILLAGE = "八达镇新丰村便民服务站"
MEDICAL_INSURANCE = "451030-YB-001"
SAMPLE_CATALOG = Path(__file__).resolve().parents[2] / "hub" / "data" / "sample_catalog.json"
IDLE = 3600.0
TEST_YEAR = 2031
# A week off in March of the test year (Monday 3/3 to Sunday 3/9), with Saturday 3/1 made a working day.
TEST_SCHEDULE = {"year": TEST_YEAR, "source": "pointkit test schedule (made up)", "holidays": [
    {"name_zh": "测试假期", "name_en": "Test holiday", "rest": ["2031-03-03", "2031-03-09"],
     "workdays": ["2031-03-01"]}]}


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=120)


def write_year(path: Path, schedule: dict) -> Path:
    path.write_text(json.dumps(schedule, ensure_ascii=False), encoding="utf-8")
    return path


def calendar_years(point) -> dict[int, int]:
    with sqlite3.connect(point.data / "point.db") as conn:
        return dict(conn.execute("select year, version from calendaryear").fetchall())


def counts_the_test_holiday(data_dir: Path) -> bool:
    with db.session_scope(data_dir) as session:
        calendar = point_calendar(session)
    # Friday 2031-02-28 + 1 working day: Saturday 3/1 is a make-up day in the test year, a rest day without it.
    return calendar.add_working_days(date(2031, 2, 28), 1) == date(2031, 3, 1) and TEST_YEAR in calendar.years


def test_a_year_imported_at_the_hub_reaches_a_point_online_and_one_by_usb_only(cluster, tmp_path):
    assert TEST_YEAR not in default_calendar().years, "the test year must not ship with the release"
    hub = cluster.start_hub()
    online = cluster.start_point(VILLAGE, "village", sync_interval=1.0)
    usb = cluster.start_point(USB_VILLAGE, "village", sync_interval=IDLE, dirname="usb-village")
    cluster.stop_server(usb)
    with db.session_scope(usb.data) as session:  # from here on the USB village cannot reach the hub, served or not
        get_state(session).hub_url = "http://127.0.0.1:9"
    hub_cmd, point_cmd = command("pointkit-hub"), command("pointkit")

    # A malformed year is refused with its reason and changes nothing.
    broken = dict(TEST_SCHEDULE, holidays=[dict(TEST_SCHEDULE["holidays"][0], workdays=["2031-03-04"])])
    refused = run(hub_cmd, "calendar", "import", str(write_year(tmp_path / "2031.json", broken)),
                  "--data", str(hub.data))
    assert refused.returncode == 1, refused.stdout
    assert "holiday 1 (测试假期)" in refused.stderr and "nothing was imported" in refused.stderr
    assert "2031" not in run(hub_cmd, "calendar", "list", "--data", str(hub.data)).stdout
    # A point without the year keeps working and keeps warning (weekends only in 2031).
    assert not counts_the_test_holiday(online.data)

    imported = run(hub_cmd, "calendar", "import", str(write_year(tmp_path / "2031.json", TEST_SCHEDULE)),
                   "--data", str(hub.data))
    assert imported.returncode == 0 and "new version 1" in imported.stdout, imported.stderr
    listed = run(hub_cmd, "calendar", "list", "--data", str(hub.data)).stdout
    assert "2031  version 1" in listed and "pointkit test schedule" in listed and "2026  shipped" in listed
    audit = run(hub_cmd, "audit", "verify", "--data", str(hub.data))
    assert audit.returncode == 0, audit.stdout + audit.stderr

    # Online: the next sync round brings it (the pull answer names the year), signed and checked.
    wait_until(lambda: calendar_years(online) == {TEST_YEAR: 1}, timeout=60, what="the year at the online point")
    assert counts_the_test_holiday(online.data)

    # A correction is the year's next version, and replaces the first.
    corrected = dict(TEST_SCHEDULE, source="pointkit test schedule, corrected")
    assert "new version 2" in run(hub_cmd, "calendar", "import", str(write_year(tmp_path / "2031.json", corrected)),
                                  "--data", str(hub.data)).stdout
    wait_until(lambda: calendar_years(online) == {TEST_YEAR: 2}, timeout=60, what="the correction online")

    # A catalog change made at the hub: a new material for the medical insurance item.
    catalog = json.loads(SAMPLE_CATALOG.read_text(encoding="utf-8"))
    item = next(entry for entry in catalog["items"] if entry["code"] == MEDICAL_INSURANCE)
    item["materials"].append({"code": "residence_permit", "name_zh": "居住证明（测试新增）", "name_en": "Residence proof",
                              "form": "copy", "copies": 1, "required": False})
    write_year(tmp_path / "v2.json", catalog)
    assert "new version 2" in run(hub_cmd, "catalog", "import", str(tmp_path / "v2.json"), "--data",
                                  str(hub.data)).stdout

    # USB only: the hub bundle carries what the village lacks, and the village applies it with the same checks.
    bundle = tmp_path / "county-to-usb-village.pkb"
    exported = run(hub_cmd, "export-bundle", "--data", str(hub.data), "--point", USB_VILLAGE, str(bundle))
    assert exported.returncode == 0, exported.stderr
    assert "catalog version 2" in exported.stdout and "holiday calendar of 2031" in exported.stdout
    applied = run(point_cmd, "import-bundle", "--data", str(usb.data), str(bundle))
    assert applied.returncode == 0, applied.stderr
    assert "catalog now version 2" in applied.stdout and "holiday calendar from the hub: 2031" in applied.stdout
    assert calendar_years(usb) == {TEST_YEAR: 2} and counts_the_test_holiday(usb.data)
    status = json.loads(run(point_cmd, "status", "--data", str(usb.data), "--json").stdout)
    assert status["catalog_version"] == 2 and status["last_sync"]["path"] == "usb"
    assert {"year": TEST_YEAR, "from": "hub v2", "source": "pointkit test schedule, corrected"} in status["calendar"]

    # Its intake page shows the new material list.
    usb = cluster.start_point(USB_VILLAGE, "village", sync_interval=IDLE, dirname="usb-village")
    page = usb.api("staff").get(f"/api/items?q={MEDICAL_INSURANCE}")
    assert page.status_code == 200 and "居住证明（测试新增）" in page.text, page.text[:500]
    cluster.stop_server(usb)

    # Its own bundle says what it holds, so the next hub bundle carries nothing more of either.
    back = tmp_path / "usb-village-to-county.pkb"
    assert run(point_cmd, "export-bundle", "--data", str(usb.data), str(back)).returncode == 0
    assert run(hub_cmd, "import-bundle", "--data", str(hub.data), str(back)).returncode == 0
    again = run(hub_cmd, "export-bundle", "--data", str(hub.data), "--point", USB_VILLAGE, str(bundle))
    assert "carries catalog" not in again.stdout and "holiday calendar" not in again.stdout, again.stdout

    text = run(point_cmd, "status", "--data", str(usb.data)).stdout
    assert "catalog version:  2" in text and "calendar 2031:    hub v2" in text and "(by USB bundle)" in text


def schedule_with_a_holiday_on(day: date) -> dict:
    """A made-up schedule for ``day``'s year: the shipped one (if the release has that year) with ``day`` made a
    one-day holiday (and no longer anyone's make-up workday)."""
    shipped = Path(__file__).resolve().parents[2] / "sync" / "kit" / "holidays" / f"{day.year}.json"
    schedule = (json.loads(shipped.read_text(encoding="utf-8")) if shipped.exists()
                else {"year": day.year, "holidays": []})
    for holiday in schedule["holidays"]:
        holiday["workdays"] = [worked for worked in holiday.get("workdays", []) if worked != day.isoformat()]
    schedule["holidays"].append({"name_zh": "测试假期", "name_en": "Test holiday", "rest": [day.isoformat()] * 2,
                                 "workdays": []})
    schedule["source"] = f"pointkit test schedule for {day.year} (made up)"
    return schedule


def test_the_dates_of_running_cases_follow_a_new_schedule_at_the_hub_the_point_and_the_kiosk(cluster, tmp_path):
    hub = cluster.start_hub()
    cluster.add_reviewer("yb-li", "YB", "reviewer-pass-1")
    point = cluster.start_point(VILLAGE, "village", sync_interval=1.0)
    staff, reviewer = point.api("staff"), hub.api("yb-li")
    cases = {}
    for name, id17 in (("韦秀兰", "45102719800101234"), ("农志强", "45102719600315002")):
        taken = staff.post("/api/cases", json={
            "item_code": MEDICAL_INSURANCE, "applicant": {"name": name, "id_number": id17 + check_character(id17)},
            "form": {"insured_category": "普通居民"}, "materials": ["id_card", "hukou"]})
        assert taken.status_code == 201, taken.text
        cases[name] = taken.json()
    running, decided = cases["韦秀兰"], cases["农志强"]
    for case in cases.values():
        wait_until(lambda c=case: staff.get(f"/api/cases/{c['case_id']}").json()["hub_status"] == "routed",
                   timeout=30, what="the hub's STATUS at the point")
    assert reviewer.post(f"/api/cases/{decided['case_id']}/decision", json={
        "decision": "approved", "certificate_no": "YB-1"}).status_code == 200
    due = date.fromisoformat(running["promised_date"])
    decided_due = hub.api("admin").get(f"/api/cases/{decided['case_id']}").json()["due_date"]

    # The county publishes a schedule that makes the running case's due day a holiday.
    imported = run(command("pointkit-hub"), "calendar", "import",
                   str(write_year(tmp_path / f"{due.year}.json", schedule_with_a_holiday_on(due))),
                   "--data", str(hub.data))
    assert imported.returncode == 0 and "1 moved" in imported.stdout, imported.stdout + imported.stderr
    moved = hub.api("admin").get(f"/api/cases/{running['case_id']}").json()
    new_due = date.fromisoformat(moved["due_date"])
    assert new_due > due and "dates_recounted" in [event["action"] for event in moved["events"]]
    assert hub.api("admin").get(f"/api/cases/{decided['case_id']}").json()["due_date"] == decided_due, \
        "a decided case never changes"

    # At the point: the case, and the residents' kiosk, with why it moved.
    shown = wait_until(lambda: (c := staff.get(f"/api/cases/{running['case_id']}").json())[
        "current_promised_date"] == new_due.isoformat() and c, timeout=60, what="the new date at the point")
    assert shown["promised_date"] == due.isoformat(), "the date printed at intake is kept beside the new one"
    kiosk = httpx.Client(base_url=point.url)
    token = CSRF.search(kiosk.get("/status").text).group(1)
    page = kiosk.post("/status", data={"csrf_token": token, "receipt_no": running["receipt_no"],
                                       "pickup_code": running["pickup_code"]}).text
    assert new_due.isoformat() in page and f"<del" in page and f"{due.year}年节假日安排重新计算" in page, page[-1500:]
