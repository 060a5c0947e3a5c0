"""Investment projects and agents (全程代办): filing with a checked credit code, stage gating (opens_early too),
materials given once and reused, the agent collecting results at the hub, the enterprise's lookup from a point with
its refusals and lockout, and which projects each agent sees.

A real hub on loopback (hubkit), the sample catalog's "enterprise_investment" template; departments decide through
the JSON API as an admin (who decides any open task), the way the proof test drives them."""

from __future__ import annotations

import re

import pytest
from sqlmodel import select

from sync.catalog import ProjectTemplate
from hub.catalog.versions import import_catalog, load_catalog_file
from hub.core.models import AuditEntry, Case, OutMessage, Point, Project
from hub.trust.accounts import AccountError, create_staff
from pointkit import create_app as create_point_app
from pointkit import db as point_db
from pointkit.enrollment import enroll
from pointkit.state import get_state
from sync.client import HubRefused
from sync.kit.creditcode import check_character, credit_code_problem

from tests.hub.hubkit import REVIEWER_PASSWORD, SAMPLE_CATALOG, csrf_from

TOWNSHIP = "那劳镇政务服务中心"
STAGE_1 = ("451030-FG-040", "451030-ZR-041", "451030-ZR-042", "451030-FG-046")
FILING = "451030-FG-040"
SITE = "451030-ZR-041"


def credit_code(first17: str = "91451030MA5L00001") -> str:
    return first17 + check_character(first17)


def project_body(**overrides) -> dict:
    body = {"template": "enterprise_investment", "name": "西林县砂糖橘冷链仓储项目", "enterprise_name": "西林县果业发展有限公司",
            "credit_code": credit_code(), "location": "八达镇工业集中区", "investment_wan": "3200.5",
            "contact_name": "黄志强", "contact_phone": "13877612345", "agent": "db-wei"}
    body.update(overrides)
    return body


@pytest.fixture
def agency(hub):
    """The hub with a county agent (db-wei), a township point and its agent (db-lan)."""
    township = hub.enroll_point(TOWNSHIP, "township")
    with hub.db() as session:
        create_staff(session, username="db-wei", password=REVIEWER_PASSWORD, role="agent", display_name="韦代办")
        create_staff(session, username="db-lan", password=REVIEWER_PASSWORD, role="agent", township=TOWNSHIP)
    hub.township = township
    return hub


def file(client, **overrides) -> dict:
    response = client.post("/api/projects", json=project_body(**overrides))
    assert response.status_code == 201, response.text
    return response.json()


def item_form(item_code: str) -> dict:
    """The item's required fields the project does not answer itself, filled in."""
    item = next(item for item in load_catalog_file(SAMPLE_CATALOG).items if item.code == item_code)
    values = {"number": "100", "date": "2027-01-04", "text": "按图施工"}
    return {spec.name: spec.choices[0] if spec.choices else values.get(spec.type, "是") for spec in item.fields
            if spec.required and spec.name not in ("project_name", "site_location", "investment")}


def apply(client, project_no: str, item_code: str, materials: list[str], **form) -> dict:
    response = client.post(f"/api/projects/{project_no}/applications",
                           json={"item_code": item_code, "form": {**item_form(item_code), **form},
                                 "materials": materials})
    assert response.status_code == 201, response.text
    return response.json()


def item_materials(hub, item_code: str) -> list[str]:
    catalog = load_catalog_file(SAMPLE_CATALOG)
    return [m.code for m in next(item for item in catalog.items if item.code == item_code).materials if m.required]


def approve(hub, case_id: str) -> None:
    """Every department of the case approves (an admin decides each open task in turn)."""
    admin = hub.api("admin")
    catalog = load_catalog_file(SAMPLE_CATALOG)
    for _ in range(6):
        case = admin.get(f"/api/cases/{case_id}").json()
        if case["status"] == "result_issued":
            return
        item = next(item for item in catalog.items if item.code == case["item_code"])
        fields = {spec.name: "X-1" for spec in item.result_fields if spec.required}
        if item.route == "joint" and not any(task["status"] == "open" for task in case["tasks"]):
            # Every department has given its opinion: the lead (an admin acting for it) issues the result.
            assert admin.post(f"/api/cases/{case_id}/joint/open", json={}).status_code == 200
            response = admin.post(f"/api/cases/{case_id}/joint/decision",
                                  json={"decision": "approved", "reason": "", "result_fields": fields})
        else:
            response = admin.post(f"/api/cases/{case_id}/decision",
                                  json={"decision": "approved", "result_fields": {} if item.route == "joint" else fields})
        assert response.status_code == 200, response.text
    raise AssertionError("the case did not reach a result")


def test_a_credit_code_s_check_character_is_gb_32100_s():
    # Published codes of real enterprises, and one character changed in each.
    for code in ("91350100M000100Y43", "91440300708461136T", "91110000600037341L", credit_code()):
        assert credit_code_problem(code) is None
        assert credit_code_problem(code.lower()) is None  # typed in small letters
        wrong = code[:17] + ("0" if code[17] != "0" else "1")
        assert credit_code_problem(wrong) == "check character does not match (mistyped character?)"
    assert credit_code_problem("91350100M000100Y4") == "must be 18 characters"
    assert "no I, O, S, V or Z" in credit_code_problem("91350100M000100YI3")
    assert "administrative division" in credit_code_problem("913501A0M000100Y43")


@pytest.mark.sqlite_only  # validation before any query; the filing itself runs on PostgreSQL in the next tests
def test_filing_refuses_a_bad_credit_code_phone_investment_and_agent_with_every_problem_at_once(agency):
    client = agency.api("db-wei")
    response = client.post("/api/projects", json=project_body(
        credit_code=credit_code()[:17] + "0" if credit_code()[17] != "0" else credit_code()[:17] + "1",
        contact_phone="12345", investment_wan="-3", agent="yb-li"))
    assert response.status_code == 422
    assert set(response.json()["fields"]) == {"credit_code", "contact_phone", "investment_wan", "agent"}
    with agency.db() as session:
        assert session.exec(select(Project)).all() == []


def test_stages_open_in_order_materials_are_reused_the_agent_collects_and_the_project_completes(agency):
    client = agency.api("db-wei")
    filed = file(client)
    number = filed["project_no"]
    assert number.startswith("XM-") and len(filed["code"]) == 6 and filed["investment_yuan"] == 32_005_000
    assert [stage["open"] for stage in filed["stages"]] == [True, False, False, False]
    # Everything stage 1 needs, each material once.
    assert {m["code"] for m in filed["materials_missing"]} >= {"business_licence", "authorisation", "project_info"}

    # Stage 2 is closed while stage 1 is not approved.
    refused = client.post(f"/api/projects/{number}/applications",
                          json={"item_code": "451030-HB-045", "materials": item_materials(agency, "451030-HB-045")})
    assert refused.status_code == 409 and refused.json()["reason"] == "stage_closed"

    first = apply(client, number, FILING, item_materials(agency, FILING), scale="冷库2万吨")
    assert first["materials_reused"] == [] and first["due_date"] and first["legal_due_date"]
    # The licence and the authorisation are not asked for again: given without them, the application is filed.
    second = apply(client, number, SITE, ["project_filing", "site_plan"])
    assert second["materials_reused"] == ["business_licence", "authorisation"]
    # A material neither held nor given is refused, naming it.
    missing = client.post(f"/api/projects/{number}/applications",
                          json={"item_code": "451030-ZR-042", "form": item_form("451030-ZR-042"),
                                "materials": ["land_contract"]})
    assert missing.status_code == 422 and missing.json()["reason"] == "materials_missing"
    assert missing.json()["fields"]["materials"] == "site_opinion"
    again = client.post(f"/api/projects/{number}/applications", json={"item_code": FILING, "materials": []})
    assert again.status_code == 409 and again.json()["reason"] == "already_filed"

    project = client.get(f"/api/projects/{number}").json()
    stage = project["stages"][0]
    assert [item["state"] for item in stage["items"]] == ["in_review", "in_review", "not_filed", "not_filed"]
    assert stage["items"][0]["waiting_on"] == ["FG"]
    assert project["next_deadline"] == min(first["due_date"], second["due_date"])
    assert {m["code"] for m in project["materials_held"]} == {"business_licence", "authorisation", "project_info",
                                                              "project_filing", "site_plan"}

    cases = [first["case_id"], second["case_id"]]
    cases += [apply(client, number, code, item_materials(agency, code))["case_id"] for code in STAGE_1[2:]]
    for case_id in cases:
        approve(agency, case_id)
    project = client.get(f"/api/projects/{number}").json()
    assert project["stages"][0]["done"] and project["stages"][1]["open"] and not project["stages"][2]["open"]
    assert project["stages"][0]["items"][0]["state"] == "ready"

    collected = client.post(f"/api/cases/{cases[0]}/collect")
    assert collected.status_code == 200 and collected.json()["status"] == "closed"
    assert client.post(f"/api/cases/{cases[0]}/collect").json()["reason"] == "already_collected"
    assert client.post(f"/api/cases/{cases[1]}/collect").status_code == 200
    page = agency.browser("admin").get(f"/cases/{cases[0]}").text
    assert "统一社会信用代码" in page and f">{number}</a>" in page
    detail = agency.api("admin").get(f"/api/cases/{cases[0]}").json()
    assert (detail["events"][-1]["actor"], detail["events"][-1]["action"]) == ("db-wei", "collected_by_agent")

    for stage in project["stages"][1:]:
        for item in stage["items"]:
            case_id = apply(client, number, item["item_code"], item_materials(agency, item["item_code"]))["case_id"]
            approve(agency, case_id)
    project = client.get(f"/api/projects/{number}").json()
    assert project["status"] == "completed" and project["current_stage"] is None

    with agency.db() as session:
        case = session.get(Case, cases[0])
        point = session.get(Point, case.point_id)
        # The hub's own agency point: never synced, nothing queued for it, not among the points.
        assert point.status == "hub" and point.level == "county"
        assert session.exec(select(OutMessage).where(OutMessage.point_id == point.id)).all() == []
        actions = {entry.action for entry in session.exec(select(AuditEntry)).all()}
    assert {"project_filed", "project_application", "filed_for_project", "collected_by_agent",
            "project_completed"} <= actions
    assert point.name not in {row["name"] for row in agency.api("admin").get("/api/points").json()["points"]}


@pytest.mark.sqlite_only  # the gating is computed in Python from the rows the other tests read on PostgreSQL
def test_a_stage_that_opens_early_opens_with_the_one_before_and_a_rejected_item_is_filed_again(agency):
    catalog = load_catalog_file(SAMPLE_CATALOG)
    template = catalog.projects[0]
    stages = [stage.model_copy(update={"opens_early": index == 1}) for index, stage in enumerate(template.stages)]
    catalog.projects = [ProjectTemplate.model_validate({**template.model_dump(), "code": "early", "stages": [
        stage.model_dump() for stage in stages]})]
    with agency.db() as session:
        import_catalog(session, catalog, identity=agency.identity)
    client = agency.api("db-wei")
    filed = file(client, template="early")
    assert [stage["open"] for stage in filed["stages"]] == [True, True, False, False]
    case_id = apply(client, filed["project_no"], "451030-HB-045", item_materials(agency, "451030-HB-045"))["case_id"]
    rejected = agency.api("admin").post(f"/api/cases/{case_id}/decision",
                                        json={"decision": "rejected", "reason": "环评报告表内容不全"})
    assert rejected.status_code == 200
    item = client.get(f"/api/projects/{filed['project_no']}").json()["stages"][1]["items"][1]
    assert item["state"] == "ready" and item["decision"] == "rejected"
    again = apply(client, filed["project_no"], "451030-HB-045", [])
    assert again["case_id"] != case_id and set(again["materials_reused"]) == set(item_materials(agency,
                                                                                               "451030-HB-045"))


def test_the_enterprise_s_lookup_from_a_point_refuses_alike_and_locks_after_five_wrong_codes(agency):
    filed = file(agency.api("db-wei"))
    point = agency.township.client
    point.point_id, point.identity = agency.township.point_id, agency.township.identity
    answer = point.project_lookup(filed["project_no"], filed["code"])
    assert answer["project_no"] == filed["project_no"] and answer["current_stage"] == "立项用地规划许可"
    assert answer["stages"][0]["items"][0]["state"] == "not_filed"
    assert "credit_code" not in answer and "contact_phone" not in answer
    for number, code in ((filed["project_no"], "000000" if filed["code"] != "000000" else "111111"),
                         ("XM-20000101-0001", filed["code"])):
        with pytest.raises(HubRefused) as refused:
            point.project_lookup(number, code)
        assert (refused.value.status, refused.value.reason) == (403, "wrong_code")
    wrong = "000000" if filed["code"] != "000000" else "111111"
    for _ in range(4):
        with pytest.raises(HubRefused):
            point.project_lookup(filed["project_no"], wrong)
    with pytest.raises(HubRefused) as locked:
        point.project_lookup(filed["project_no"], filed["code"])
    assert (locked.value.status, locked.value.reason) == (429, "locked")
    with agency.db() as session:
        failures = [entry for entry in session.exec(select(AuditEntry).where(
            AuditEntry.action == "project_lookup_failed")).all()]
    assert len(failures) == 5 and "locked_until" in failures[-1].detail


def test_an_agent_sees_their_own_projects_and_a_township_agent_the_township_s(agency):
    county = file(agency.api("db-wei"))
    township = file(agency.api("db-lan"), agent="", name="那劳镇茶叶加工厂")
    with agency.db() as session:
        create_staff(session, username="db-mo", password=REVIEWER_PASSWORD, role="agent")
        with pytest.raises(AccountError, match="no township point"):
            create_staff(session, username="db-x", password=REVIEWER_PASSWORD, role="agent", township="不存在镇")
    listed = {name: {p["project_no"] for p in agency.api(name).get("/api/projects").json()["projects"]}
              for name in ("db-wei", "db-lan", "db-mo", "op")}
    assert listed == {"db-wei": {county["project_no"]}, "db-lan": {township["project_no"]}, "db-mo": set(),
                      "op": {county["project_no"], township["project_no"]}}
    assert agency.api("db-mo").get(f"/api/projects/{county['project_no']}").status_code == 404
    assert agency.api("yb-li").get("/api/projects").status_code == 403
    # A township's agent assigns only the township's agents.
    assert agency.api("db-lan").post("/api/projects", json=project_body()).json()["fields"]["agent"]
    # The township's applications belong to the township's own agency point.
    case_id = apply(agency.api("db-lan"), township["project_no"], FILING, item_materials(agency, FILING))["case_id"]
    with agency.db() as session:
        point = session.get(Point, session.get(Case, case_id).point_id)
        township_point = session.exec(select(Point).where(Point.name == TOWNSHIP)).one()
    assert point.status == "hub" and point.township_id == township_point.id
    # An agent reads the cases of the projects they see, and no others; their queue holds those alone.
    assert agency.api("db-lan").get(f"/api/cases/{case_id}").status_code == 200
    assert agency.api("db-wei").get(f"/api/cases/{case_id}").status_code == 404
    assert [row["case_id"] for row in agency.api("db-lan").get("/api/queue").json()["cases"]] == [case_id]
    assert agency.api("db-wei").get("/api/queue").json()["cases"] == []


@pytest.mark.sqlite_only  # the lookup's rows are read on PostgreSQL in the lookup test above
def test_a_point_s_kiosk_shows_the_project_from_the_hub_and_says_so_when_the_hub_cannot_be_reached(agency, tmp_path):
    filed = file(agency.api("db-wei"))
    point_dir = tmp_path / "point"
    enroll(point_dir, hub_url=agency.url, token=agency.token("那劳镇那劳村便民服务站"), catalog_wait_s=0)
    kiosk = create_point_app(point_dir).test_client()

    def ask(code: str):
        token = re.search(r'name="csrf_token" value="([^"]+)"', kiosk.get("/status/project").get_data(as_text=True))
        return kiosk.post("/status/project", data={"csrf_token": token.group(1), "project_no": filed["project_no"],
                                                   "code": code})

    shown = ask(filed["code"])
    text = shown.get_data(as_text=True)
    assert shown.status_code == 200 and "立项用地规划许可" in text and "企业投资项目备案：未申报" in text
    assert "营业执照" in text  # what the enterprise must still bring
    wrong = ask("000000" if filed["code"] != "000000" else "111111")
    assert wrong.status_code == 422 and "项目编号或查询码不正确" in wrong.get_data(as_text=True)
    with point_db.session_scope(point_dir) as session:
        state = get_state(session)
        state.hub_url = "http://127.0.0.1:9"
        session.add(state)
    gone = ask(filed["code"])
    assert gone.status_code == 422 and "目前无法连接县政务服务中心" in gone.get_data(as_text=True)
    assert "立项用地规划许可" not in gone.get_data(as_text=True)
    point_db.dispose(point_dir)


def test_an_agent_withdraws_a_project_its_filed_applications_keep_running_and_it_files_nothing_new(agency, tmp_path):
    client = agency.api("db-wei")
    filed = file(client)
    number = filed["project_no"]
    running = apply(client, number, FILING, item_materials(agency, FILING))
    with agency.db() as session:
        create_staff(session, username="db-mo", password=REVIEWER_PASSWORD, role="agent")
    # Another county agent does not see it; an admin could, the project's own agent does; a reason is required.
    assert agency.api("db-mo").post(f"/api/projects/{number}/withdraw", json={"reason": "x"}).status_code == 404
    blank = client.post(f"/api/projects/{number}/withdraw", json={"reason": "  "})
    assert blank.status_code == 422 and blank.json()["fields"] == {"reason": "required"}

    withdrawn = client.post(f"/api/projects/{number}/withdraw", json={"reason": "企业调整投资计划，项目不再建设"})
    assert withdrawn.status_code == 200, withdrawn.text
    answer = withdrawn.json()
    assert answer["status"] == "withdrawn" and answer["withdrawal_reason"] == "企业调整投资计划，项目不再建设"
    assert answer["withdrawn_at"] and answer["running"] == [running["receipt_no"]]
    # Nothing new is filed; withdrawing twice is refused.
    refused = client.post(f"/api/projects/{number}/applications",
                          json={"item_code": SITE, "form": item_form(SITE), "materials": item_materials(agency, SITE)})
    assert refused.status_code == 409 and refused.json()["reason"] == "project_withdrawn"
    assert "was withdrawn" in refused.json()["error"]
    again = client.post(f"/api/projects/{number}/withdraw", json={"reason": "再次撤回"})
    assert again.status_code == 409 and again.json()["reason"] == "project_closed"

    # The application filed before runs on, and its timeline says why the project around it stopped.
    case = agency.api("admin").get(f"/api/cases/{running['case_id']}").json()
    assert case["status"] in ("routed", "in_review") and case["events"][-1]["action"] == "project_withdrawn"
    approve(agency, running["case_id"])
    page = agency.browser("db-wei").get(f"/projects/{number}").text
    assert "已撤回" in page and "企业调整投资计划，项目不再建设" in page and 'id="withdraw-form"' not in page
    assert 'id="collect-451030-FG-040"' in page  # its result is still collected for the enterprise
    assert "项目 " + number + " 已撤回；本申请继续办理" in agency.browser("admin").get(f"/cases/{running['case_id']}").text
    listed = agency.browser("db-wei").get("/projects").text
    assert "已撤回" in listed and "企业调整投资计划" in listed
    with agency.db() as session:
        entry = session.exec(select(AuditEntry).where(AuditEntry.action == "project_withdrawn",
                                                      AuditEntry.subject == f"project:{number}")).one()
    assert entry.actor == "db-wei" and entry.detail["reason"] == "企业调整投资计划，项目不再建设"

    # The enterprise's lookup at a kiosk says the project was withdrawn.
    point_dir = tmp_path / "point"
    enroll(point_dir, hub_url=agency.url, token=agency.token("那劳镇那劳村便民服务站"), catalog_wait_s=0)
    kiosk = create_point_app(point_dir).test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', kiosk.get("/status/project").get_data(as_text=True))
    shown = kiosk.post("/status/project", data={"csrf_token": token.group(1), "project_no": number,
                                                "code": filed["code"]})
    assert shown.status_code == 200
    assert re.search(r'id="project-stage">已撤回<', shown.get_data(as_text=True))
    point_db.dispose(point_dir)


@pytest.mark.sqlite_only  # the page form and the project row; the lookup's rows are read on PostgreSQL above
def test_the_project_page_withdraws_with_a_reason_and_only_the_project_s_agent_may(agency):
    township = file(agency.api("db-lan"), agent="", name="那劳镇茶叶加工厂")
    number = township["project_no"]
    with agency.db() as session:
        create_staff(session, username="db-nong", password=REVIEWER_PASSWORD, role="agent", township=TOWNSHIP)
    # A township's other agent sees the project but it is not theirs to give up.
    other = agency.browser("db-nong")
    page = other.get(f"/projects/{number}")
    assert page.status_code == 200 and 'id="withdraw-form"' not in page.text
    refused = other.post(f"/projects/{number}/withdraw", data={"csrf_token": csrf_from(page.text), "reason": "不建了"})
    assert refused.status_code == 403 and "只有该项目的代办员" in refused.text
    assert agency.api("db-nong").post(f"/api/projects/{number}/withdraw",
                                      json={"reason": "不建了"}).json()["reason"] == "not_your_project"

    agent = agency.browser("db-lan")
    page = agent.get(f"/projects/{number}")
    assert '<label for="reason">撤回原因</label>' in page.text and "重新生成查询码" in page.text
    blank = agent.post(f"/projects/{number}/withdraw", data={"csrf_token": csrf_from(page.text), "reason": " "})
    assert blank.status_code == 422 and "请填写撤回项目的原因" in blank.text
    done = agent.post(f"/projects/{number}/withdraw", data={"csrf_token": csrf_from(page.text), "reason": "选址变更"},
                      follow_redirects=True)
    assert done.status_code == 200 and "项目已撤回" in done.text and "选址变更" in done.text
    with agency.db() as session:
        project = session.exec(select(Project).where(Project.project_no == number)).one()
    assert (project.status, project.withdrawal_reason) == ("withdrawn", "选址变更") and project.withdrawn_at


def test_a_new_lookup_code_replaces_the_lost_one_and_lifts_the_lock(agency):
    filed = file(agency.api("db-wei"))
    number = filed["project_no"]
    point = agency.township.client
    point.point_id, point.identity = agency.township.point_id, agency.township.identity
    wrong = "000000" if filed["code"] != "000000" else "111111"
    for _ in range(5):
        with pytest.raises(HubRefused):
            point.project_lookup(number, wrong)
    with pytest.raises(HubRefused) as locked:
        point.project_lookup(number, filed["code"])
    assert locked.value.reason == "locked"

    assert agency.api("yb-li").post(f"/api/projects/{number}/code").status_code == 403
    reissued = agency.api("db-wei").post(f"/api/projects/{number}/code")
    assert reissued.status_code == 200, reissued.text
    code = reissued.json()["code"]
    assert re.fullmatch(r"\d{6}", code) and reissued.json()["project_no"] == number
    if code != filed["code"]:  # one time in a million the new code is the old one
        with pytest.raises(HubRefused) as old:
            point.project_lookup(number, filed["code"])
        assert old.value.reason == "wrong_code"  # the lock was lifted: the old code is just wrong now
    assert point.project_lookup(number, code)["project_no"] == number

    # On the page: the button prints the slip again with a newer code, and the one before stops working.
    browser = agency.browser("db-wei")
    page = browser.get(f"/projects/{number}").text
    slip = browser.post(f"/projects/{number}/code", data={"csrf_token": csrf_from(page)})
    assert slip.status_code == 200 and "本单为重新打印" in slip.text
    newest = re.search(r'id="slip-code">(\d{6})<', slip.text).group(1)
    assert point.project_lookup(number, newest)["project_no"] == number
    if newest != code:
        with pytest.raises(HubRefused):
            point.project_lookup(number, code)
    with agency.db() as session:
        entries = session.exec(select(AuditEntry).where(AuditEntry.action == "project_code_reissued")).all()
    assert [entry.actor for entry in entries] == ["db-wei", "db-wei"]
    assert all(code not in str(entry.detail) and newest not in str(entry.detail) for entry in entries)
