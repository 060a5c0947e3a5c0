"""三级: townships as departments of their own. Villages placed under townships (CLI and points page), each
township's 乡镇人民政府 (XZ) reviewer seeing and deciding only her township's cases, county departments seeing all,
a village under no township seen by every township's reviewer, and a township's read-only staff."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from sqlmodel import select

from hub.approval.cards import responsible_reviewer
from hub.cli import main
from hub.core.models import AuditEntry, Point
from tests.hub.hubkit import MEDICAL_INSURANCE, REVIEWER_PASSWORD, FakePoint, csrf_from
from tests.support.pagecheck import report, text_problems

BADAI, MABANG = "八达镇政务服务中心", "马蚌镇政务服务中心"
BADAI_VILLAGE, MABANG_VILLAGE, UNPLACED = "八达镇周邦村便民服务站", "马蚌镇那岩村便民服务站", "古障镇央村便民服务站"
TEMPORARY_RELIEF = "451030-XZ-038"  # 临时救助申请（乡镇审批）: the township government decides it alone
APPROVE = {"decision": "approved", "reason": "", "certificate_no": ""}
SUPPLEMENT = {"materials": ["hardship_proof"], "note": "请补充困难情况证明"}


def cli(hub, *args: str, ok: bool = True) -> str:
    result = CliRunner().invoke(main, [*args, "--data", str(hub.data_dir)])
    assert (result.exit_code == 0) == ok, result.output
    return result.output


def enroll_by_cli(hub, name: str, *options: str) -> FakePoint:
    """``points add NAME --level village OPTIONS`` as an admin types it, then the point enrolls with the token."""
    token = cli(hub, "points", "add", name, "--level", "village", *options).strip().splitlines()[-1]
    return FakePoint(hub, name, "village", token)


@pytest.fixture
def county(hub):
    """Two townships with a village each (one placed with --township, one through --via), a village under no
    township, an XZ reviewer per township and 八达镇's read-only staff; a 临时救助 case from each village."""
    townships = {name: hub.enroll_point(name=name, level="township") for name in (BADAI, MABANG)}
    villages = {BADAI_VILLAGE: enroll_by_cli(hub, BADAI_VILLAGE, "--township", BADAI),
                MABANG_VILLAGE: enroll_by_cli(hub, MABANG_VILLAGE, "--via", MABANG),
                UNPLACED: enroll_by_cli(hub, UNPLACED)}
    cli(hub, "users", "add", "xz-badai", "--role", "reviewer", "--department", "XZ", "--township", BADAI,
        "--password", REVIEWER_PASSWORD)
    cli(hub, "users", "add", "xz-mabang", "--role", "reviewer", "--department", "XZ", "--township", MABANG,
        "--password", REVIEWER_PASSWORD)
    cli(hub, "users", "add", "badai-staff", "--role", "township", "--township", BADAI, "--password",
        REVIEWER_PASSWORD)
    cases = {name: point.push_case(TEMPORARY_RELIEF, materials=["application", "id_card", "hardship_proof"], form={})
             for name, point in villages.items()}
    return townships, villages, cases


USERNAMES = {"admin", "op", "yb-li", "ny-wang", "zr-zhao", "xz-badai", "xz-mabang", "xz-2", "badai-staff"}


def chinese_only(response) -> None:
    """No English word, raw state key or id among the visible words of the page's content (the header names the
    account and offers English)."""
    body = response.text.split("<main", 1)[1].split("</main>", 1)[0]
    problems = text_problems(str(response.url), re.sub(r"<[^>]*>", " ", body), USERNAMES)
    assert not problems, report(problems)


def queue_ids(client) -> set[str]:
    response = client.get("/api/queue")
    assert response.status_code == 200, response.text
    return {case["case_id"] for case in response.json()["cases"]}


def test_each_townships_reviewer_sees_and_decides_only_its_own_villages(hub, county):
    _townships, villages, cases = county
    badai, mabang = hub.api("xz-badai"), hub.api("xz-mabang")
    assert queue_ids(badai) == {cases[BADAI_VILLAGE], cases[UNPLACED]}
    assert queue_ids(mabang) == {cases[MABANG_VILLAGE], cases[UNPLACED]}
    assert queue_ids(hub.api("admin")) >= set(cases.values()), "the county sees every township's case"

    other = cases[MABANG_VILLAGE]
    assert badai.get(f"/api/cases/{other}").status_code == 404, "another township's case is not found, not forbidden"
    assert badai.post(f"/api/cases/{other}/decision", json=APPROVE).status_code == 404
    assert badai.post(f"/api/cases/{other}/supplement", json=SUPPLEMENT).status_code == 404
    assert badai.post(f"/api/cases/{other}/withdraw-unanswered", json={}).status_code == 404
    assert mabang.get(f"/api/cases/{other}").json()["status"] == "routed"

    decided = badai.post(f"/api/cases/{cases[BADAI_VILLAGE]}/decision", json=APPROVE)
    assert decided.status_code == 200 and decided.json()["status"] == "result_issued"
    assert mabang.post(f"/api/cases/{cases[UNPLACED]}/supplement", json=SUPPLEMENT).status_code == 200

    page = hub.browser("xz-badai")
    assert page.get(f"/cases/{other}").status_code == 404
    assert "decision-form" not in page.get(f"/cases/{cases[BADAI_VILLAGE]}").text
    unplaced = page.get(f"/cases/{cases[UNPLACED]}")
    assert re.search(r'id="case-township"><strong[^>]*>未划归乡镇<', unplaced.text), "the unplaced village is flagged"
    chinese_only(unplaced)
    queue_page = page.get("/queue").text
    assert MABANG_VILLAGE not in queue_page and MABANG not in queue_page and UNPLACED in queue_page

    # A county department is not split: its reviewer sees the villages of every township.
    county_cases = {villages[name].push_case(MEDICAL_INSURANCE) for name in (BADAI_VILLAGE, MABANG_VILLAGE)}
    assert county_cases <= queue_ids(hub.api("yb-li"))
    assert not county_cases & queue_ids(badai)


def test_supervision_counts_and_cards_name_per_township(hub, county):
    _townships, _villages, cases = county
    figures = hub.api("op").get("/api/supervision").json()["townships"]
    assert [(row["township"], row["department"], row["open"]) for row in figures] == [
        (BADAI, "XZ", 1), (MABANG, "XZ", 1), (None, "XZ", 1)]
    page = hub.browser("op").get("/supervision")
    assert 'id="township-figures"' in page.text
    chinese_only(page)
    with hub.db() as session:
        assert responsible_reviewer(session, cases[BADAI_VILLAGE], "XZ") == "xz-badai"
        assert responsible_reviewer(session, cases[MABANG_VILLAGE], "XZ") == "xz-mabang"
        assert responsible_reviewer(session, cases[UNPLACED], "XZ") == "", "two townships see it: nobody is named"


def test_township_staff_read_their_villages_and_are_refused_every_write(hub, county):
    _townships, _villages, cases = county
    mine, other = cases[BADAI_VILLAGE], cases[MABANG_VILLAGE]
    api = hub.api("badai-staff")
    assert queue_ids(api) == {mine}, "its township's villages only (not the unplaced one)"
    assert api.get(f"/api/cases/{other}").status_code == 404
    assert api.get(f"/api/cases/{mine}").json()["point_name"] == BADAI_VILLAGE
    for action, body in (("decision", APPROVE), ("supplement", SUPPLEMENT), ("withdraw-unanswered", {})):
        refused = api.post(f"/api/cases/{mine}/{action}", json=body)
        assert refused.status_code == 403 and refused.json()["reason"] == "read_only", refused.text

    browser = hub.browser("badai-staff")
    home = browser.get("/")
    assert home.url.path == "/township" and home.status_code == 200
    assert BADAI_VILLAGE in home.text and MABANG_VILLAGE not in home.text and UNPLACED not in home.text
    assert 'id="township-points"' in home.text
    chinese_only(home)
    case_page = browser.get(f"/cases/{mine}")
    assert case_page.status_code == 200 and "decision-form" not in case_page.text
    assert browser.get(f"/cases/{other}").status_code == 404

    # Every write the hub's pages and API take is refused, whatever the role list of its route says. The residents'
    # site (/residents/) is public: what a resident sends there is not a staff write.
    token = csrf_from(home.text)
    writes = [rule for rule in hub.app.url_map.iter_rules() if "POST" in rule.methods
              and not rule.rule.startswith(("/sync/", "/login", "/logout", "/api/login", "/residents/"))]
    assert len(writes) > 20
    for rule in writes:
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", lambda m: mine if m.group(1) == "case_id" else "x", rule.rule)
        if path.startswith("/api/"):
            answer = api.post(path, json={})
            assert answer.status_code == 403 and answer.json()["reason"] == "read_only", (path, answer.text)
        else:
            answer = browser.post(path, data={"csrf_token": token, "decision": "approved", "confirmed": "yes"})
            assert answer.status_code == 403, (path, answer.status_code)
            assert "只能查看" in answer.text, path
    with hub.db() as session:
        assert not session.exec(select(AuditEntry).where(AuditEntry.actor == "badai-staff")).all()


@pytest.mark.sqlite_only  # the CLI's refusals are checks before any query a database could answer differently
def test_cli_refuses_what_a_township_does_not_fit(hub, county):
    refused = cli(hub, "users", "add", "xz-nobody", "--role", "reviewer", "--department", "XZ", "--password",
                  REVIEWER_PASSWORD, ok=False)
    assert "one per township" in refused and "--township" in refused
    refused = cli(hub, "users", "add", "yb-badai", "--role", "reviewer", "--department", "YB", "--township", BADAI,
                  "--password", REVIEWER_PASSWORD, ok=False)
    assert "serves the whole county" in refused
    assert "--township" in cli(hub, "users", "add", "staff-x", "--role", "township", "--password",
                               REVIEWER_PASSWORD, ok=False)
    assert "not a township" in cli(hub, "users", "add", "staff-y", "--role", "township", "--township",
                                   BADAI_VILLAGE, "--password", REVIEWER_PASSWORD, ok=False)
    assert "for villages" in cli(hub, "points", "add", "那劳镇政务服务中心", "--level", "township", "--township",
                                 BADAI, ok=False)
    assert "no township point" in cli(hub, "points", "township", UNPLACED, "不存在镇", ok=False)

    listed = {line.split("\t")[1]: line.split("\t")[-1] for line in cli(hub, "points", "list").splitlines()}
    assert listed[BADAI_VILLAGE] == BADAI and listed[MABANG_VILLAGE] == MABANG and listed[UNPLACED] == "no township"
    assert "Village 古障镇央村便民服务站 belongs to township" in cli(hub, "points", "township", UNPLACED, BADAI)
    accounts = {line.split("\t")[0]: line.split("\t")[-1] for line in cli(hub, "users", "list").splitlines()}
    assert accounts["xz-badai"] == BADAI and accounts["badai-staff"] == BADAI and accounts["yb-li"] == "-"
    with hub.db() as session:
        placed = session.exec(select(Point).where(Point.name == UNPLACED)).one()
        assert placed.township_id == session.exec(select(Point.id).where(Point.name == BADAI)).one()
        assert session.exec(select(AuditEntry).where(AuditEntry.action == "point_township_set")).all()


@pytest.mark.sqlite_only  # page forms over the same domain functions the CLI test runs
def test_admin_places_villages_and_adds_township_reviewers_on_the_pages(hub, county):
    admin = hub.browser("admin")
    points = admin.get("/points")
    assert 'id="unplaced-villages"' in points.text and UNPLACED in points.text
    chinese_only(points)
    listed = hub.api("admin").get("/api/points").json()["points"]
    [village_id] = [point["point_id"] for point in listed if point["name"] == UNPLACED]
    placed = admin.post(f"/points/{village_id}/township", data={"csrf_token": csrf_from(points.text),
                                                                 "township": MABANG})
    assert placed.status_code == 200 and 'id="unplaced-villages"' not in placed.text

    page = admin.get("/departments")
    form = {"csrf_token": csrf_from(page.text), "department": "XZ", "username": "xz-2", "display_name": "",
            "password": REVIEWER_PASSWORD, "township": ""}
    assert admin.post("/departments/reviewers", data=form).status_code == 422
    assert admin.post("/departments/reviewers", data={**form, "township": BADAI}).status_code == 200
    departments = admin.get("/departments")
    assert re.search(r'id="staff-xz-2".*?<td>八达镇政务服务中心</td>', departments.text, re.DOTALL)
    chinese_only(departments)
