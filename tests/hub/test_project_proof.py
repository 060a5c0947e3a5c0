"""Issue 21's proof: an enterprise's investment project carried by an agent (全程代办) through all four stages of
the sample template, over a real hub on loopback.

- stage 1 (立项用地规划许可): four single-department items; the business licence given with the first application
  is reused by the next three, never asked again;
- stage 2 (工程建设许可): 建设工程规划许可证 is a joint item under its lead department (ZR), with a joint drawing
  review meeting; the environmental approval pauses for 专家评审, which the law (第四十五条) keeps out of its
  natural-day limit;
- stage 3 (施工许可): a 7-natural-day legal limit;
- stage 4 (竣工验收): a joint acceptance under its lead (ZJ) with a joint site survey (联合踏勘).
The agent collects every result. Every date the hub states is checked against working or natural days as each
rule says, on the county calendar, with time moved through the clock seam (nothing sleeps).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

from hub.trust.accounts import create_staff
from sync.clock import utcnow
from sync.kit.creditcode import check_character as credit_check
from sync.kit.workdays import COUNTY_TIMEZONE, county_date, default_calendar
from tests.hub.hubkit import REVIEWER_PASSWORD

AGENT = "dl-wu"
LEADS = {"fg-he": "FG", "zj-lu": "ZJ", "hb-mo": "HB"}  # zr-zhao (ZR) is one of the hub fixture's reviewers
TEMPLATE = "enterprise_investment"
REVIEWER_OF = {"FG": "fg-he", "ZR": "zr-zhao", "ZJ": "zj-lu", "HB": "hb-mo"}


def credit_code(first17: str = "91451030MA5L8Q2K3") -> str:
    return first17 + credit_check(first17)


def natural_end(calendar, start: date, days: int) -> date:
    """A natural-day period: ``days`` counted from the day after ``start``; one that ends on a rest day ends on
    the next working day (民法典 第二百零三条)."""
    end = start + timedelta(days=days)
    while not calendar.is_working_day(end):
        end += timedelta(days=1)
    return end


def expected_dues(calendar, start: date, promised: tuple[int, str], legal: tuple[int, str]) -> tuple[str, str]:
    def end(days: int, unit: str) -> date:
        return calendar.add_working_days(start, days) if unit == "working_days" else natural_end(calendar, start,
                                                                                                 days)
    return end(*promised).isoformat(), end(*legal).isoformat()


def test_a_project_runs_through_four_stages_with_joint_reviews_a_survey_an_expert_pause_and_reused_materials(
        hub, clock):
    with hub.db() as session:
        create_staff(session, username=AGENT, password=REVIEWER_PASSWORD, role="agent", display_name="吴代办")
        for username, department in LEADS.items():
            create_staff(session, username=username, password=REVIEWER_PASSWORD, role="reviewer",
                         department_code=department)
    calendar = default_calendar()
    agent = hub.api(AGENT)
    reviewers = {code: hub.api(username) for code, username in REVIEWER_OF.items()}

    def days_pass(days: int) -> None:
        """Move the clock on; API tokens last 12 hours, so everyone logs in again."""
        nonlocal agent
        clock(days)
        agent = hub.api(AGENT)
        reviewers.update({code: hub.api(username) for code, username in REVIEWER_OF.items()})

    filed = agent.post("/api/projects", json={
        "template": TEMPLATE, "name": "西林县砂糖橘冷链仓储项目", "enterprise_name": "西林县八达农业开发有限公司",
        "credit_code": credit_code(), "location": "八达镇周邦村", "investment_wan": "1200.50",
        "contact_name": "黄志强", "contact_phone": "13907761234", "agent": AGENT})
    assert filed.status_code == 201, filed.text
    project_no = filed.json()["project_no"]
    bad = agent.post("/api/projects", json={"template": TEMPLATE, "name": "x",
                                            "enterprise_name": "x", "credit_code": credit_code()[:-1] + "0",
                                            "location": "x", "investment_wan": "1", "contact_name": "x",
                                            "contact_phone": "13907761234", "agent": AGENT})
    assert bad.status_code == 422, "a credit code whose check character is wrong is refused"

    def apply(item_code: str, form: dict, materials: list[str]) -> dict:
        answer = agent.post(f"/api/projects/{project_no}/applications",
                            json={"item_code": item_code, "form": form, "materials": materials})
        assert answer.status_code == 201, answer.text
        return answer.json()

    def check_dates(case_id: str, start: date, promised: tuple[int, str], legal: tuple[int, str]) -> dict:
        case = agent.get(f"/api/cases/{case_id}").json()
        assert (case["due_date"], case["legal_due_date"]) == expected_dues(calendar, start, promised, legal), case
        return case

    def approve(department: str, case_id: str, result_fields: dict) -> None:
        answer = reviewers[department].post(f"/api/cases/{case_id}/decision",
                                            json={"decision": "approved", "result_fields": result_fields})
        assert answer.status_code == 200, answer.text

    def collect(case_id: str) -> None:
        answer = agent.post(f"/api/cases/{case_id}/collect", json={})
        assert answer.status_code == 200, answer.text
        assert agent.get(f"/api/cases/{case_id}").json()["status"] == "closed"

    project_form = {"project_name": "西林县砂糖橘冷链仓储项目", "site_location": "八达镇周邦村"}

    # Stage 1: the business licence and the letter of authorisation are given once and reused three times.
    today = county_date(utcnow())
    filing = apply("451030-FG-040", {**project_form, "investment": "1200.5", "scale": "冷库2万立方米"},
                   ["business_licence", "authorisation", "project_info"])
    assert filing["materials_reused"] == []
    check_dates(filing["case_id"], today, (1, "working_days"), (3, "working_days"))
    early = agent.post(f"/api/projects/{project_no}/applications",
                       json={"item_code": "451030-ZJ-044", "form": {}, "materials": []})
    assert early.status_code == 409, "施工许可 waits until the stages before it are done"
    approve("FG", filing["case_id"], {"filing_no": "2612-451030-04-01-000123"})
    collect(filing["case_id"])

    reused = []
    for code, form, given in (
            ("451030-ZR-041", {**project_form, "land_area": "8000"}, ["project_filing", "site_plan"]),
            ("451030-ZR-042", {**project_form, "land_area": "8000"}, ["land_contract", "site_opinion"]),
            ("451030-FG-046", {"project_name": project_form["project_name"], "energy_use": "1500"},
             ["energy_report"])):
        answer = apply(code, form, given)
        reused.append(set(answer["materials_reused"]))
        department = code.split("-")[1]
        check_dates(answer["case_id"], today, *{"ZR": ((10, "working_days"), (20, "working_days")),
                                                "FG": ((10, "working_days"), (20, "working_days"))}[department]
                    if code != "451030-ZR-042" else ((7, "working_days"), (20, "working_days")))
        approve(department, answer["case_id"], {"opinion_no": "用字第451030202600012号"} if code.endswith("041")
                else {"permit_no": "地字第451030202600034号"} if code.endswith("042")
                else {"opinion_no": "西发改节能〔2026〕5号"})
        collect(answer["case_id"])
    assert all({"business_licence", "authorisation"} <= names for names in reused), reused
    project = agent.get(f"/api/projects/{project_no}").json()
    assert "business_licence" in {material["code"] for material in project["materials_held"]}

    # Stage 2, a week later: the joint drawing review under ZR, and the environmental approval's expert review.
    days_pass(7)
    today = county_date(utcnow())
    works = apply("451030-ZR-043", {**project_form, "floor_area": "12000"}, ["land_permit", "design_scheme"])
    assert {"business_licence", "authorisation", "project_filing"} <= set(works["materials_reused"])
    check_dates(works["case_id"], today, (10, "working_days"), (20, "working_days"))
    eia = apply("451030-HB-045", {**project_form, "category": "冷链物流仓储"}, ["eia_form"])
    eia_case = check_dates(eia["case_id"], today, (15, "working_days"), (30, "natural_days"))

    joint = f"/api/cases/{works['case_id']}/joint"
    assert reviewers["ZJ"].post(joint + "/open", json={}).status_code == 403, "only the lead opens the joint review"
    assert reviewers["ZR"].post(joint + "/open", json={}).status_code == 200
    meeting_at = datetime.combine(calendar.add_working_days(today, 2), time(9, 30), tzinfo=COUNTY_TIMEZONE)
    meeting = reviewers["ZR"].post(joint + "/meetings", json={
        "kind": "review_meeting", "scheduled_at": meeting_at.isoformat(), "place": "县政务服务中心三楼会议室",
        "departments": ["ZJ", "HB"]})
    assert meeting.status_code == 201, meeting.text
    meeting_id = meeting.json()["meeting_id"]
    hb_says_no = reviewers["HB"].post(joint + "/opinions", json={  # on the papers, before the meeting
        "opinion": "disagree", "text": "冷库制冷剂泄漏风险防范措施未说明"})
    assert hb_says_no.status_code in (200, 201), hb_says_no.text
    state = agent.get(joint).json()
    assert {row["code"]: row["state"] for row in state["departments"]}["ZJ"] not in ("cancelled",), \
        "a department's rejection no longer cancels the others"
    early_decision = reviewers["ZR"].post(joint + "/decision", json={"decision": "approved", "reason": "",
                                                                      "result_fields": {"permit_no": "建字1号"}})
    assert early_decision.status_code == 409, "the lead decides with every opinion in front of it"
    assert reviewers["ZR"].post(f"{joint}/meetings/{meeting_id}/held", json={}).status_code == 200
    for department, opinion, text in (("ZJ", "agree", "施工图设计符合规范"),
                                      ("HB", "agree_with_conditions", "补充制冷剂泄漏应急预案后同意"),
                                      ("ZR", "agree", "符合控制性详细规划")):
        at_meeting = {"meeting_id": meeting_id} if department != "ZR" else {}  # the lead called it, not invited
        given = reviewers[department].post(joint + "/opinions", json={"opinion": opinion, "text": text,
                                                                     **at_meeting})
        assert given.status_code in (200, 201), given.text
    state = agent.get(joint).json()
    assert {row["code"]: row["opinion"] for row in state["departments"]} == {
        "ZR": "agree", "ZJ": "agree", "HB": "agree_with_conditions"}
    decided = reviewers["ZR"].post(joint + "/decision", json={
        "decision": "approved", "reason": "", "result_fields": {"permit_no": "建字第451030202600056号"}})
    assert decided.status_code == 200, decided.text
    collect(works["case_id"])

    # 专家评审 for 10 days: kept out of both limits, each in its own unit.
    procedures = f"/api/cases/{eia['case_id']}/procedures"
    started = reviewers["HB"].post(procedures, json={"kind": "expert_review", "reason": "组织专家对环境影响报告表进行技术评估",
                                                     "expected_end": (today + timedelta(days=10)).isoformat()})
    assert started.status_code == 201, started.text
    assert reviewers["ZR"].post(procedures, json={"kind": "expert_review", "reason": "x"}).status_code in (403, 404)
    days_pass(10)
    ended_on = county_date(utcnow())
    ended = reviewers["HB"].post(f"{procedures}/{started.json()['procedure_id']}/end", json={"note": "专家评审通过"})
    assert ended.status_code == 200, ended.text
    eia_after = agent.get(f"/api/cases/{eia['case_id']}").json()
    stood_working = calendar.working_days_between(today, ended_on)
    assert eia_after["due_date"] == calendar.add_working_days(
        date.fromisoformat(eia_case["due_date"]), stood_working).isoformat()
    assert eia_after["legal_due_date"] == natural_end(calendar, today, 30 + (ended_on - today).days).isoformat()
    assert [p["kind"] for p in eia_after["procedures"]] == ["expert_review"]
    approve("HB", eia["case_id"], {"approval_no": "西环审〔2026〕8号"})
    collect(eia["case_id"])

    # Stage 3: the construction permit's 7-day legal limit counts natural days.
    today = county_date(utcnow())
    permit = apply("451030-ZJ-044", {**project_form, "contractor": "广西百色建工集团有限公司",
                                     "contract_price": "900"}, ["works_permit", "contract", "drawings_review"])
    check_dates(permit["case_id"], today, (5, "working_days"), (7, "natural_days"))
    approve("ZJ", permit["case_id"], {"permit_no": "451030202612050101"})
    collect(permit["case_id"])

    # Stage 4, months later: the joint completion acceptance under ZJ, with a joint site survey.
    days_pass(120)
    today = county_date(utcnow())
    acceptance = apply("451030-ZJ-047", project_form, ["construction_permit", "acceptance_report"])
    check_dates(acceptance["case_id"], today, (10, "working_days"), (15, "working_days"))
    joint = f"/api/cases/{acceptance['case_id']}/joint"
    assert reviewers["ZJ"].post(joint + "/open", json={}).status_code == 200
    survey_at = datetime.combine(calendar.add_working_days(today, 1), time(9, 0), tzinfo=COUNTY_TIMEZONE)
    survey = reviewers["ZJ"].post(joint + "/meetings", json={
        "kind": "site_survey", "scheduled_at": survey_at.astimezone(timezone.utc).isoformat(),
        "place": "八达镇周邦村项目现场", "departments": ["ZR", "HB"]})
    assert survey.status_code == 201, survey.text
    assert reviewers["ZJ"].post(f"{joint}/meetings/{survey.json()['meeting_id']}/held", json={}).status_code == 200
    for department, text in (("ZR", "规划条件核实合格"), ("HB", "环保设施与主体工程同时投产"), ("ZJ", "工程质量验收合格")):
        at_survey = {"meeting_id": survey.json()["meeting_id"]} if department != "ZJ" else {}
        given = reviewers[department].post(joint + "/opinions", json={"opinion": "agree", "text": text,
                                                                     **at_survey})
        assert given.status_code in (200, 201), given.text
    decided = reviewers["ZJ"].post(joint + "/decision", json={
        "decision": "approved", "reason": "", "result_fields": {"filing_no": "451030JB2027000007"}})
    assert decided.status_code == 200, decided.text
    collect(acceptance["case_id"])

    project = agent.get(f"/api/projects/{project_no}").json()
    assert project["status"] == "completed" and project["materials_missing"] == []
    assert all(item["state"] == "collected" for stage in project["stages"] for item in stage["items"]), project
