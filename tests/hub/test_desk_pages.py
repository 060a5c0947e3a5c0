"""The conflict desk and the reviewer's queue and decisions as pages: what an operator and a reviewer read in
Chinese, and what a click may and may not do."""

from __future__ import annotations

import re

import pytest
from sqlmodel import select

from sync.clock import utcnow
from sync.envelope import Kind
from tests.hub.hubkit import MEDICAL_INSURANCE, SAMPLE_CATALOG, csrf_from, resident_id

from hub.catalog.versions import import_catalog, load_catalog_file
from hub.core.models import Case, CaseEvent, CatalogItem, ReviewTask
from hub.reconcile.arrival import apply_fields

SECOND_POINT = "那劳村便民服务站"


def same_resident_twice(hub) -> tuple[str, str]:
    """韦秀兰 applies at the first point; the same ID number applies as 韦秀英 at another: a duplicate and an
    identity mismatch are parked on the desk. (first case id, second case id)."""
    first_point, second_point = hub.enroll_point(), hub.enroll_point(SECOND_POINT)
    id_number = resident_id()
    first = first_point.push_case(applicant={"name": "韦秀兰", "id_number": id_number, "phone": ""})
    payload = second_point.submit(applicant={"name": "韦秀英", "id_number": id_number, "phone": ""})
    [answer] = second_point.client.push([second_point.seal(Kind.SUBMIT, payload)])
    assert (answer.status, answer.reason) == ("conflict", "duplicate"), answer
    return first, payload["case_id"]


def conflict_of(hub, kind: str) -> dict:
    return next(c for c in hub.api("admin").get("/api/conflicts").json()["conflicts"] if c["kind"] == kind)


def cells(html: str, table_id: str) -> list[str]:
    table = html[html.index(f'id="{table_id}"'):]
    table = table[:table.index("</table>")]
    return [re.sub(r"<[^>]+>", " ", cell).strip() for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", table, re.DOTALL)]


@pytest.mark.sqlite_only  # words and buttons on a page; the desk's writes and dates: this file's other tests, on both
def test_the_desk_list_tells_conflicts_apart_by_receipt_applicant_and_point(hub):
    first, second = same_resident_twice(hub)
    page = hub.browser("admin").get("/desk").text
    listed = cells(page, "conflicts")
    receipts = {f"PL-{first[:8]}", f"PL-{second[:8]}"}
    assert all(any(receipt in cell for cell in listed) for receipt in receipts), listed
    assert "韦秀英" in listed and any(SECOND_POINT in cell and "周邦村" in cell for cell in listed)
    assert "申请人姓名" in listed, "the field is named by its label, not 'name'"
    assert second[:8] not in [cell.strip() for cell in listed], "no bare 8-character id in a cell"
    assert not {"name", "receipt_no", "status"} & {part for cell in listed for part in re.split(r"[、,\s]+", cell)}


def test_each_button_says_what_it_keeps_and_left_is_what_the_hub_holds(hub):
    same_resident_twice(hub)
    conflict = conflict_of(hub, "identity")
    page = hub.browser("admin").get(f"/desk/{conflict['conflict_id']}").text
    buttons = dict(re.findall(r'<button type="submit" name="action" value="(\w+)">([^<]*)</button>', page))
    assert buttons["take_left"].startswith("采用：韦秀兰（八达镇周邦村便民服务站，"), buttons
    assert buttons["take_right"].startswith("采用：韦秀英（那劳村便民服务站，"), buttons
    assert re.search(r"\d+月\d+日受理）$", buttons["take_left"])
    assert "采用左侧" not in page and "采用右侧" not in page
    table = cells(page, "side-by-side")
    assert table[1].startswith("左：中心现有版本") and "八达镇周邦村便民服务站" in table[1]
    assert table[2].startswith("右：新到版本") and SECOND_POINT in table[2]
    assert "申请人姓名 *" in table and "受理编号 *" in table and "name" not in table
    assert "<title>未保存" not in page and 'id="conflict-status">待处理<' in page
    english = hub.browser("admin").get(f"/desk/{conflict['conflict_id']}?lang=en").text
    assert re.search(r'value="take_left">Keep: 韦秀兰 \(八达镇周邦村便民服务站, received \d+/\d+\)<', english)
    assert "Applicant&#39;s name *" in english or "Applicant's name *" in english

    refused = hub.browser("admin")
    token = csrf_from(refused.get(f"/desk/{conflict['conflict_id']}").text)
    answer = refused.post(f"/desk/{conflict['conflict_id']}", data={"csrf_token": token, "action": "reject"})
    assert answer.status_code == 422 and "<title>未保存 · 身份信息不一致" in answer.text


@pytest.mark.sqlite_only  # words and buttons on a page; the desk's writes and dates: this file's other tests, on both
def test_a_catalog_drift_shows_the_catalog_the_hub_holds_now_on_the_left(hub):
    point = hub.enroll_point()
    catalog = load_catalog_file(SAMPLE_CATALOG)
    item = next(item for item in catalog.items if item.code == MEDICAL_INSURANCE)
    photo = item.materials[0].model_copy(update={"code": "photo", "name_zh": "近期照片", "required": True})
    catalog.items = [item.model_copy(update={"materials": [*item.materials, photo]}) if entry is item else entry
                     for entry in catalog.items]
    with hub.db() as session:
        assert import_catalog(session, catalog, identity=hub.identity, source="v2.json").version == 2
    payload = point.submit(catalog_version=1)
    [answer] = point.client.push([point.seal(Kind.SUBMIT, payload)])
    assert (answer.status, answer.reason) == ("conflict", "catalog_drift"), answer
    case_id = payload["case_id"]
    drift = next(c for c in hub.api("admin").get("/api/conflicts").json()["conflicts"]
                 if c["kind"] == "catalog_drift" and c["case_id"] == case_id)
    page = hub.browser("admin").get(f"/desk/{drift['conflict_id']}").text
    table = cells(page, "side-by-side")
    assert "事项目录第2版" in table[1] and "事项目录第1版" in table[2]
    materials = table.index("必交材料 *")
    assert "近期照片" in table[materials + 1] and "近期照片" not in table[materials + 2]
    assert "居民身份证" in table[materials + 2]


def test_a_resolution_is_one_line_of_each_cases_timeline(hub):
    first, second = same_resident_twice(hub)
    admin = hub.browser("admin")
    for kind, action in (("identity", "take_left"), ("duplicate", "merge_cases")):
        conflict = conflict_of(hub, kind)
        token = csrf_from(admin.get(f"/desk/{conflict['conflict_id']}").text)
        answer = admin.post(f"/desk/{conflict['conflict_id']}", data={"csrf_token": token, "action": action})
        assert answer.status_code == 200, answer.text
    with hub.db() as session:
        lines = {case_id: [e.action for e in session.exec(select(CaseEvent).where(CaseEvent.case_id == case_id)
                                                          .order_by(CaseEvent.at, CaseEvent.id)).all()]
                 for case_id in (first, second)}
    # The kept case: one line for the identity (which changed the other case), one for the merge it received.
    assert lines[first][2:] == ["conflict_resolved", "merged"], lines[first]
    # The second case: its name corrected (the identity resolution), one line for the merge.
    assert lines[second].count("applicant_corrected") == 1 and lines[second].count("conflict_resolved") == 1


@pytest.mark.sqlite_only  # words and buttons on a page; the desk's writes and dates: this file's other tests, on both
def test_the_reviewers_queue_shows_a_parked_case_and_department_names(hub):
    first, second = same_resident_twice(hub)
    unparked = hub.enroll_point("那来村便民服务站").push_case()
    reviewer = hub.browser("yb-li")
    page = reviewer.get("/queue").text
    assert "<h1>部门待办：县医疗保障局</h1>" in page
    rows = {case_id: page[page.index(f'href="/cases/{case_id}"'):][:600] for case_id in (first, second, unparked)}
    assert "等待运营人员处理冲突" in rows[first] and "等待运营人员处理冲突" in rows[second]
    assert "等待运营人员处理冲突" not in rows[unparked].split("</tr>")[0]
    assert re.search(r"<td[^>]*>县医疗保障局</td>", page) and not re.search(r"<td[^>]*>YB</td>", page)
    cases = {c["case_id"]: c for c in hub.api("yb-li").get("/api/queue").json()["cases"]}
    assert cases[first]["waiting_for_operator"] and not cases[unparked]["waiting_for_operator"]


@pytest.mark.sqlite_only  # words and buttons on a page; the desk's writes and dates: this file's other tests, on both
def test_a_reviewers_item_filter_lists_only_her_departments_items(hub):
    with hub.db() as session:
        latest = max(row.version for row in session.exec(select(CatalogItem)).all())
        items = session.exec(select(CatalogItem).where(CatalogItem.version == latest)).all()
        ours = {row.code for row in items if "YB" in row.item["departments"]}
        others = {row.code for row in items} - ours
    assert ours and others
    def options(html: str) -> set[str]:
        return set(re.findall(r'<option value="([^"]+)"', html[html.index('id="f-item"'):].split("</select>")[0]))

    assert options(hub.browser("yb-li").get("/queue").text) == ours
    assert options(hub.browser("admin").get("/queue").text) == ours | others


@pytest.mark.sqlite_only  # words and buttons on a page; the desk's writes and dates: this file's other tests, on both
def test_a_parked_case_cannot_be_decided_and_says_why_in_chinese(hub):
    _first, second = same_resident_twice(hub)
    reviewer = hub.browser("yb-li")
    page = reviewer.get(f"/cases/{second}").text
    assert re.search(r'id="approve" disabled aria-describedby="decision-blocked"', page)
    assert re.search(r'id="reject" disabled aria-describedby="decision-blocked"', page)
    assert 'id="decision-blocked"' in page and "等待运营人员处理" in page
    box = page[page.index('id="case-conflicts"'):].split("</div>")[0]
    assert "身份信息不一致：申请人姓名" in box and "receipt_no" not in box, "fields by their labels"
    assert "<tr><td>县医疗保障局</td><td>1</td>" in page, "the task's department by name"
    # A page loaded before the conflict was parked posts anyway: a Chinese page with its own title, not English.
    answer = reviewer.post(f"/cases/{second}", data={"csrf_token": csrf_from(page), "decision": "rejected",
                                                     "reason": "材料不全"})
    assert answer.status_code == 409
    assert "冲突处理台等待运营人员处理" in answer.text and "conflict desk" not in answer.text
    assert "<title>未保存 · " in answer.text
    with hub.db() as session:
        assert session.exec(select(ReviewTask).where(ReviewTask.case_id == second)).one().status == "open"


@pytest.mark.sqlite_only  # words and buttons on a page; the desk's writes and dates: this file's other tests, on both
def test_an_approval_is_confirmed_on_a_page_of_its_own(hub):
    case_id = hub.enroll_point().push_case()
    reviewer = hub.browser("yb-li")
    page = reviewer.get(f"/cases/{case_id}").text
    assert re.search(r'<form method="post" id="decision-form">\s*<input type="hidden" name="csrf_token"[^>]*>\s*'
                     r'<button type="submit" disabled hidden', page), "Enter in a text field presses no decision"
    token = csrf_from(page)
    asked = reviewer.post(f"/cases/{case_id}", data={"csrf_token": token, "decision": "approved",
                                                     "certificate_no": "YB-2026-77"})
    assert asked.status_code == 200 and "<title>确认准予 · " in asked.text
    assert "韦秀兰" in asked.text and 'id="confirm-certificate">YB-2026-77<' in asked.text
    with hub.db() as session:
        assert session.exec(select(ReviewTask).where(ReviewTask.case_id == case_id)).one().status == "open"
    confirmed = reviewer.post(f"/cases/{case_id}", data={"csrf_token": csrf_from(asked.text), "decision": "approved",
                                                         "certificate_no": "YB-2026-77", "confirmed": "yes"})
    assert confirmed.status_code == 200 and confirmed.url.path == f"/cases/{case_id}"
    with hub.db() as session:
        task = session.exec(select(ReviewTask).where(ReviewTask.case_id == case_id)).one()
        assert (task.status, task.certificate_no) == ("approved", "YB-2026-77")


@pytest.mark.sqlite_only  # words and buttons on a page; the desk's writes and dates: this file's other tests, on both
def test_the_hub_column_of_an_open_conflict_is_what_the_hub_holds_now(hub):
    point = hub.enroll_point()
    case_id = point.push_case()
    assert hub.api("yb-li").post(f"/api/cases/{case_id}/decision",
                                 json={"decision": "approved", "certificate_no": "YB-1"}).status_code == 200
    amend = {"case_id": case_id, "base_version": 1, "form": {"insured_category": "学生"},
             "amended_at": utcnow().isoformat(), "staff": "staff"}
    [late] = point.client.push([point.seal(Kind.AMEND, amend)])
    assert (late.status, late.reason) == ("conflict", "after_decision"), late
    # The result is collected after the amendment was parked: the hub now holds a closed case.
    collected = {"case_id": case_id, "collected_at": utcnow().isoformat(), "staff": "staff"}
    assert point.client.push([point.seal(Kind.COLLECTED, collected)])[0].status == "accepted"
    conflict = conflict_of(hub, "after_decision")
    table = cells(hub.browser("admin").get(f"/desk/{conflict['conflict_id']}").text, "side-by-side")
    status = table.index("状态 *")
    assert table[status + 1] == "已办结" and table[status + 2] == "服务点修改", table
    category = table.index("参保类别 *")
    assert table[category + 1:category + 3] == ["普通居民", "学生"]


def test_a_same_field_conflict_shows_and_keeps_what_the_case_holds_now(hub):
    point = hub.enroll_point()
    case_id = point.push_case()

    def operator_sets(category: str) -> None:
        """A change the point did not make (as the desk or an operator writes one)."""
        with hub.db() as session:
            apply_fields(session, session.get(Case, case_id), {"insured_category": category}, point_id=None, seq=0,
                         source="operator", actor="op")
            session.commit()

    operator_sets("低保对象")
    amend = {"case_id": case_id, "base_version": 1, "form": {"insured_category": "特困人员"},
             "amended_at": utcnow().isoformat(), "staff": "staff"}
    [parked] = point.client.push([point.seal(Kind.AMEND, amend)])
    assert (parked.status, parked.reason) == ("conflict", "same_field"), parked
    operator_sets("脱贫人口")  # after the conflict was parked: the hub holds this now

    conflict = conflict_of(hub, "same_field")
    admin = hub.browser("admin")
    page = admin.get(f"/desk/{conflict['conflict_id']}").text
    table = cells(page, "side-by-side")
    category = table.index("参保类别 *")
    assert table[category + 1:category + 3] == ["脱贫人口", "特困人员"], table
    buttons = dict(re.findall(r'<button type="submit" name="action" value="(\w+)">([^<]*)</button>', page))
    assert buttons["take_left"] == "采用：脱贫人口（中心现有版本）", buttons
    assert buttons["take_right"].startswith("采用：特困人员（八达镇周邦村便民服务站，") and "发来）" in buttons["take_right"]

    answer = admin.post(f"/desk/{conflict['conflict_id']}", data={
        "csrf_token": csrf_from(page), "action": "merge", "choice-insured_category": "left"})
    assert answer.status_code == 200, answer.text
    with hub.db() as session:
        assert session.get(Case, case_id).form["insured_category"] == "脱贫人口", "left keeps what the hub holds now"
