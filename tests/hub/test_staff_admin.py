"""Departments and reviewers managed at the hub: the admin page and ``pointkit-hub users``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from sqlmodel import select

from hub.cli import main
from hub.core.models import AuditEntry, Staff
from hub.catalog.versions import load_catalog_file
from tests.hub.hubkit import REVIEWER_PASSWORD, SAMPLE_CATALOG, csrf_from

HUB_COMMAND = str(Path(sys.executable).parent / "pointkit-hub")


def _actions(hub, subject: str) -> list[str]:
    with hub.db() as session:
        return [e.action for e in session.exec(select(AuditEntry).where(AuditEntry.subject == subject)
                                               .order_by(AuditEntry.id)).all()]


def test_a_disabled_account_cannot_log_in_or_use_its_token_until_enabled(hub):
    api = hub.api("yb-li")
    page = hub.browser("yb-li")
    assert api.get("/api/queue").status_code == 200

    disabled = subprocess.run([HUB_COMMAND, "users", "disable", "yb-li", "--data", str(hub.data_dir)],
                              capture_output=True, text=True, timeout=60)
    assert disabled.returncode == 0 and "Disabled yb-li" in disabled.stdout, disabled.stderr

    assert api.get("/api/queue").status_code == 401, "the token it already held stops working"
    assert page.get("/queue").url.path == "/login", "the open page session ends"
    login = hub.http().post("/api/login", json={"username": "yb-li", "password": REVIEWER_PASSWORD})
    assert login.status_code == 403 and login.json()["reason"] == "account_disabled"
    wrong = hub.http().post("/api/login", json={"username": "yb-li", "password": "wrong-password"})
    assert wrong.status_code == 401, "a wrong password does not learn the account is disabled"
    form = page.get("/login")
    refused = page.post("/login", data={"username": "yb-li", "password": REVIEWER_PASSWORD,
                                        "csrf_token": csrf_from(form.text)})
    assert refused.status_code == 403 and "该账号已停用" in refused.text

    runner = CliRunner()
    listed = runner.invoke(main, ["users", "list", "--data", str(hub.data_dir)])
    lines = {line.split("\t")[0]: line.split("\t") for line in listed.output.splitlines()}
    assert lines["yb-li"][:3] == ["yb-li", "reviewer", "YB"] and lines["yb-li"][4].startswith("disabled 20")
    assert lines["admin"][1:5] == ["admin", "-", "admin", "enabled"]
    assert list(lines)[0] == "admin", "admins first"

    again = runner.invoke(main, ["users", "disable", "yb-li", "--data", str(hub.data_dir)])
    assert again.exit_code == 0 and "already disabled" in again.output
    last_admin = runner.invoke(main, ["users", "disable", "admin", "--data", str(hub.data_dir)])
    assert last_admin.exit_code == 1 and "last enabled admin" in last_admin.output
    unknown = runner.invoke(main, ["users", "enable", "nobody", "--data", str(hub.data_dir)])
    assert unknown.exit_code == 1 and "no account 'nobody'" in unknown.output

    enabled = runner.invoke(main, ["users", "enable", "yb-li", "--data", str(hub.data_dir)])
    assert enabled.exit_code == 0 and "Enabled yb-li" in enabled.output
    assert hub.api("yb-li").get("/api/queue").status_code == 200
    assert api.get("/api/queue").status_code == 401, "tokens from before the disabling stay dead"
    assert _actions(hub, "staff:yb-li") == ["user_added", "user_disabled", "user_enabled"]


def test_admin_page_lists_departments_adds_a_reviewer_and_disables_one(hub):
    admin = hub.browser("admin")
    page = admin.get("/departments")
    assert page.status_code == 200 and "部门与人员" in page.text
    # Every department of the sample catalog, each with its reviewers; those without one are flagged.
    assert page.text.count('<h3 id="dept-') == len(load_catalog_file(SAMPLE_CATALOG).departments)
    assert 'id="staff-yb-li"' in page.text and "该部门没有启用的审批人员" in page.text
    english = admin.get("/departments?lang=en").text
    assert "Departments and staff" in english and "部门与人员" not in english

    token = csrf_from(admin.get("/departments?lang=zh").text)
    assert admin.post("/departments/reviewers", data={"department": "MZ", "username": "mz-lan",
                                                       "password": "reviewer-pass"}).status_code == 400, "CSRF"
    short = admin.post("/departments/reviewers", data={"csrf_token": token, "department": "MZ", "username": "mz-lan",
                                                        "display_name": "蓝海燕", "password": "short"})
    assert short.status_code == 422 and "密码至少需要8位" in short.text
    assert 'value="mz-lan"' in short.text and 'value="MZ" selected' in short.text, "the form comes back filled"
    added = admin.post("/departments/reviewers", data={"csrf_token": token, "department": "MZ",
                                                        "username": "mz-lan", "display_name": "蓝海燕",
                                                        "password": "reviewer-pass"})
    assert added.status_code == 200 and 'id="staff-mz-lan"' in added.text
    assert hub.api("mz-lan").get("/api/queue").status_code == 200

    with hub.db() as session:
        reviewer = session.exec(select(Staff).where(Staff.username == "mz-lan")).one()
        me = session.exec(select(Staff).where(Staff.username == "admin")).one()
    assert reviewer.department_code == "MZ" and reviewer.role == "reviewer"
    disabled = admin.post(f"/staff/{reviewer.id}/disable", data={"csrf_token": token})
    assert disabled.status_code == 200
    row = disabled.text.split('id="staff-mz-lan"')[1].split("</tr>")[0]
    assert "已停用" in row and ">启用</button>" in row
    assert hub.http().post("/api/login", json={"username": "mz-lan", "password": "reviewer-pass"}).status_code == 403

    own = admin.post(f"/staff/{me.id}/disable", data={"csrf_token": token})
    assert own.status_code == 409 and "不能停用自己的账号" in own.text
    assert _actions(hub, "staff:mz-lan") == ["user_added", "user_disabled"]
    with hub.db() as session:
        assert session.exec(select(AuditEntry).where(AuditEntry.subject == "staff:mz-lan")).first().actor == "admin"

    assert hub.browser("op").get("/departments").status_code == 403, "admins only"
