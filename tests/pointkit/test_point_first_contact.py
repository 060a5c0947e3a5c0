"""首问责任制 at the point: staff posts, the first-contact person on each case and in its SUBMIT, the referral slip
number typed at intake, and referrals (转办) through the page and the API, sealed for the hub."""

from __future__ import annotations

import json
import re

from click.testing import CliRunner
from tests.pointkit.hubside import GOOD_CASE, rows
from tests.pointkit.test_point_pages import (  # noqa: F401 (fixtures)
    app,
    client,
    csrf,
    intake_form,
    shown,
    visible_text,
)

from pointkit import db
from pointkit.auth import create_staff
from pointkit.cli import main as point_cli
from pointkit.models import DEFAULT_POST, AuditEntry, Case, Referral, Staff
from sync.envelope import Kind


def text_of(page: str, element_id: str) -> str:
    """The text of an element that may hold others (a name in a span, then the post), tags and edges dropped."""
    inner = re.search(rf'id="{element_id}"[^>]*>(.*?)</(?:td|p)>', page, re.S).group(1)
    return re.sub(r"<[^>]+>", "", inner).strip()


def referral_form(client, **overrides) -> dict:  # noqa: F811
    data = {"csrf_token": csrf(client, "/referrals/new"), "resident_name": "王小明", "resident_phone": "13800138000",
            "resident_id_number": "", "item_code": "T-002", "matter": "", "to_kind": "department", "to_code": "MZ",
            "to_name": "", "reason": "宅基地审批由乡镇受理，本站不能办理"}
    data.update(overrides)
    return data


def test_staff_carry_a_post_set_on_the_command_line(point):
    runner = CliRunner()
    added = runner.invoke(point_cli, ["users", "add", "liwei", "--name", "李伟", "--post", "代办员",
                                      "--password", "window-pass-9", "--data", str(point.data_dir)])
    assert added.exit_code == 0, added.output
    plain = runner.invoke(point_cli, ["users", "add", "zhao", "--name", "赵敏", "--password", "window-pass-8",
                                      "--data", str(point.data_dir)])
    assert plain.exit_code == 0, plain.output
    moved = runner.invoke(point_cli, ["users", "post", "zhao", "站长", "--data", str(point.data_dir)])
    assert moved.exit_code == 0 and "站长" in moved.output
    too_long = runner.invoke(point_cli, ["users", "post", "zhao", "岗" * 65, "--data", str(point.data_dir)])
    assert too_long.exit_code == 1 and "at most 64" in too_long.output
    assert {row.username: row.post for row in rows(point.data_dir, Staff)} == {"liwei": "代办员", "zhao": "站长"}
    with db.session_scope(point.data_dir) as session:
        assert create_staff(session, "qian", "window-pass-7").post == DEFAULT_POST


def test_a_case_names_its_first_contact_person_here_and_in_its_submit(point, client):  # noqa: F811
    answer = client.post("/cases/new?item=T-001", data=intake_form(client, referral_no=" ZB-20261204-ABCDEF-0001 "))
    assert answer.status_code == 302, visible_text(answer.get_data(as_text=True))[:400]
    (case,) = rows(point.data_dir, Case)
    assert (case.staff_name, case.staff_post, case.referral_no) == ("张三", DEFAULT_POST, "ZB-20261204-ABCDEF-0001")
    (submit,) = [row for row in point.outbox() if row.kind == Kind.SUBMIT]
    sent = point.open_outbox(submit)
    assert (sent["first_contact_name"], sent["first_contact_post"], sent["referral_no"]) == (
        "张三", DEFAULT_POST, "ZB-20261204-ABCDEF-0001")
    receipt = client.get(f"/cases/{case.id}/receipt").get_data(as_text=True)
    assert text_of(receipt, "receipt-first-contact") == "张三（窗口工作人员）" and "经办人（首问责任人）" in receipt
    assert shown(receipt, "receipt-referral") == "ZB-20261204-ABCDEF-0001"
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert text_of(page, "case-first-contact") == "张三（窗口工作人员）"
    english = client.get(f"/cases/{case.id}?lang=en").get_data(as_text=True)
    assert text_of(english, "case-first-contact") == "张三 (窗口工作人员)"

    notice = client.post("/cases/new?item=T-001", data=intake_form(client, materials=["id_card"],
                                                                   applicant_id_number="440524198001010013"))
    printed = visible_text(client.get(notice.headers["Location"] + "?lang=zh").get_data(as_text=True))
    assert "首问责任人：张三（窗口工作人员）。再来办理时请找此人" in printed


def test_a_referral_is_checked_whole_then_recorded_sealed_and_printed(point, client):  # noqa: F811
    empty = client.post("/referrals/new", data=referral_form(client, resident_name="", item_code="", to_code="",
                                                             reason="", resident_phone="123"))
    page = empty.get_data(as_text=True)
    assert empty.status_code == 422 and rows(point.data_dir, Referral) == [] and point.outbox() == []
    assert shown(page, "error-resident_name").strip() == "必填" and shown(page, "error-reason").strip() == "必填"
    assert shown(page, "error-matter").strip() == "请选择事项或写明所办事情"
    assert shown(page, "error-to_code").strip() == "必填"
    assert shown(page, "error-resident_phone").strip() == "须为以1开头的11位数字"
    unknown = client.post("/referrals/new", data=referral_form(client, to_code="XX", item_code="NOPE"))
    marked = unknown.get_data(as_text=True)
    assert shown(marked, "error-to_code").strip() == "不是事项目录中的部门"
    assert shown(marked, "error-item_code").strip() == "不是事项目录中的事项"
    to_point = client.post("/referrals/new", data=referral_form(client, to_kind="point", to_code="MZ"))
    assert shown(to_point.get_data(as_text=True), "error-to_name").strip() == "必填"

    made = client.post("/referrals/new", data=referral_form(client))
    assert made.status_code == 302 and made.headers["Location"].endswith("/slip")
    (referral,) = rows(point.data_dir, Referral)
    assert referral.slip_no.startswith("ZB-") and referral.slip_no.endswith("-0001")
    assert (referral.to_name, referral.staff_name, referral.staff_post) == ("县民政局", "张三", DEFAULT_POST)
    (row,) = point.outbox()
    assert row.kind == Kind.REFERRAL and row.envelope_id == referral.envelope_id and row.case_id == ""
    sent = point.open_outbox(row)
    assert (sent["slip_no"], sent["to_code"], sent["first_contact_name"], sent["resident"]["name"]) == (
        referral.slip_no, "MZ", "张三", "王小明")
    (entry,) = [entry for entry in rows(point.data_dir, AuditEntry) if entry.action == "referral_made"]
    assert json.loads(entry.detail)["slip_no"] == referral.slip_no and "王小明" not in entry.detail

    slip = client.get(made.headers["Location"]).get_data(as_text=True)
    assert 'class="resident"' in slip
    assert shown(slip, "slip-no") == referral.slip_no and shown(slip, "slip-to") == "县民政局"
    assert shown(slip, "slip-first-contact") == "张三（窗口工作人员）"
    assert "宅基地审批" in shown(slip, "slip-matter")
    listing = visible_text(client.get("/referrals").get_data(as_text=True))
    assert referral.slip_no in listing and "等待发送" in listing
    second = client.post("/referrals/new", data=referral_form(client, item_code="", matter="咨询低保政策"))
    assert second.status_code == 302
    assert sorted(r.slip_no[-4:] for r in rows(point.data_dir, Referral)) == ["0001", "0002"]


def test_referrals_through_the_api(point, api):
    made = api.post("/api/referrals", json={"resident_name": "王小明", "to_kind": "point", "to_name": "古障镇政务服务中心",
                                             "matter": "办理营业执照", "reason": "本站不受理企业登记"})
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["to_name"] == "古障镇政务服务中心" and body["sync_state"] == "queued"
    assert body["slip_url"] == f"/referrals/{body['referral_id']}/slip"
    refused = api.post("/api/referrals", json={"resident_name": "王小明", "to_kind": "department", "to_code": "ZZ",
                                                "reason": "x"})
    assert refused.status_code == 422 and set(refused.json()["fields"]) == {"to_code", "matter"}
    listed = api.get("/api/referrals").json()["referrals"]
    assert [row["slip_no"] for row in listed] == [body["slip_no"]]
    case = api.post("/api/cases", json={**GOOD_CASE, "referral_no": body["slip_no"]})
    assert case.status_code == 201
    assert [row.referral_no for row in rows(point.data_dir, Case)] == [body["slip_no"]]
    assert "/api/referrals" in api.get("/api/openapi.json").json()["paths"]
