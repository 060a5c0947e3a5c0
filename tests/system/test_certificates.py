"""E-certificates that spare a second copy (电子证照, 免提交) over real servers and Chromium:

a 残疾人证 approved for a resident enters the hub's register → at a village window the clerk looks up her
certificates (one click, the keyboard only) and marks the device subsidy's disability card 免提交 instead of scanning
it: the receipt says so, no scan is made or sent, and the case routes normally → the county revokes the certificate
while the village has no link, and the village, not knowing yet, takes a second application citing it → once the link
is back the hub parks that case for its department with the reason, the village's case page shows what the hub found,
and the village's offline QR check says revoked (an altered code is refused). The intake form and the verify page pass
the crawl's checks (tests/support/pagecheck.py).

Points are townships and villages, and 结婚登记 (451030-MZ-017) is received at the county only, so the certificate here
is 残疾人证 (451030-CL-020 issues disability_card; 451030-CL-021 and 451030-MZ-004 accept it).
"""

from __future__ import annotations

import sqlite3
from datetime import date, timedelta

import pytest
from tests.support.browser import shot
from tests.support.cluster import command, log_in, wait_until
from tests.support.pagecheck import axe_problems, layout_problems, measure, report, text_problems

from sync.kit.idnumber import check_character

pytestmark = pytest.mark.browser

TOWNSHIP = "八达镇政务服务中心"
VILLAGE = "八达镇周邦村便民服务站"
DESKTOP = {"width": 1024, "height": 768}
HOLDER = "45102719800101234" + check_character("45102719800101234")
NUMBER = "45102719800101234X41"
REASON = "残疾评定结论经复核被依法撤销"


def rows(data, name: str, query: str, *args) -> list[tuple]:
    with sqlite3.connect(data / name) as db:
        return db.execute(query, args).fetchall()


LOGINS = {"staff", "cl-lan"}  # the logged-in account's name is in the header


def page_problems(page) -> list:
    """The crawl's checks of the page on screen: words, layout at 1024×768, axe-core."""
    measured = measure(page)
    return (text_problems(page.url, measured["text"], LOGINS) + layout_problems(page.url, measured)
            + axe_problems(page.url, page))


def at_hub(api, case_id: str) -> dict:
    return api.get(f"/api/cases/{case_id}").json()


def test_a_certificate_spares_a_copy_until_the_county_revokes_it(cluster, browser):
    hub = cluster.start_hub()
    cluster.add_reviewer("cl-lan", "CL", "reviewer-pass-1")
    township = cluster.start_point(TOWNSHIP, "township", dirname="township")
    village = cluster.start_point(VILLAGE, "village", dirname="village")
    reviewer = hub.api("cl-lan")

    # Case 1: 残疾人证 at the township, approved: the register holds it.
    first = township.api("staff").post("/api/cases", json={
        "item_code": "451030-CL-020", "applicant": {"name": "韦秀兰", "id_number": HOLDER, "phone": "13807761234"},
        "form": {"disability_type": "肢体"}, "materials": ["id_card", "hukou", "photo", "assessment_form"]})
    assert first.status_code == 201, first.text
    first_id = first.json()["case_id"]
    wait_until(lambda: at_hub(reviewer, first_id).get("status") == "routed", timeout=60, what="case 1 at the hub")
    valid_until = (date.today() + timedelta(days=3650)).isoformat()
    approved = reviewer.post(f"/api/cases/{first_id}/decision", json={
        "decision": "approved", "result_fields": {"certificate_no": NUMBER, "grade": "二级", "valid_until": valid_until}})
    assert approved.status_code == 200, approved.text
    listed = cluster.run(command("pointkit-hub"), "certificates", "list", "--holder", HOLDER, "--data", str(hub.data))
    assert f"{NUMBER}\tdisability_card\tvalid\t{valid_until}\t{first_id}" in listed

    # Case 2 at the village, in Chromium with the keyboard: look up, mark 免提交, receive.
    context = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    page = context.new_page()
    log_in(page, village.url, "staff", village.logins["staff"])
    page.goto(f"{village.url}/cases/new?item_code=451030-CL-021")
    page.wait_for_function("document.activeElement && document.activeElement.id === 'applicant_id_number'")
    page.keyboard.type(HOLDER)
    page.focus("#applicant_name")
    page.keyboard.type("韦秀兰")
    page.select_option("#field_device", "轮椅")
    page.focus("#lookup_disability_card")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.inner_text("#certificate-found") == "为该申请人查到1份电子证照。"
    choice = page.locator("#cert_disability_card_1")
    assert NUMBER in page.inner_text("#certificates_disability_card")
    choice.focus()
    page.keyboard.press("Space")
    assert choice.is_checked()
    assert page_problems(page) == [], report(page_problems(page))
    shot(page, "intake-certificate-chosen")
    page.focus("#receive")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "/receipt" in page.url, page.inner_text("main")[:600]
    assert page.inner_text("#spared-disability_card") == f"免提交（电子证照：中华人民共和国残疾人证 {NUMBER}）"
    second_id = page.url.split("/cases/")[1].split("/")[0]
    second = wait_until(lambda: (d := at_hub(reviewer, second_id)).get("status") == "routed" and d, timeout=60,
                        what="case 2 routed at the hub")
    assert second["certificates"] == [{"material": "disability_card", "number": NUMBER, "finding": "valid",
                                       "settled": ""}]
    assert second["materials"] == ["disability_card"] and second["scans"] == [], "no scan was made or sent"
    assert rows(village.data, "point.db", "select count(*) from scanfile where case_id = ?", second_id) == [(0,)]
    [(code,)] = rows(village.data, "point.db", "select code from certificatecopy where number = ?", NUMBER)

    # The county revokes it while the village has no link; the village takes a second application citing it.
    cluster.stop_server(hub)
    revoked = cluster.run(command("pointkit-hub"), "certificates", "revoke", NUMBER, "--reason", REASON,
                          "--actor", "jc-wang", "--data", str(hub.data))
    assert f"Certificate {NUMBER} (disability_card) revoked." in revoked
    assert rows(hub.data, "hub.db", "select subject, actor from auditentry where action = 'certificate_revoked'") == [
        (NUMBER, "jc-wang")]
    offline = village.api("staff").post("/api/certificates/lookup", json={"item_code": "451030-MZ-004",
                                                                          "id_number": HOLDER})
    assert offline.status_code == 503 and offline.json()["reason"] == "unreachable", "said so: the clerk takes paper"
    third = village.api("staff").post("/api/cases", json={
        "item_code": "451030-MZ-004", "applicant": {"name": "韦秀兰", "id_number": HOLDER, "phone": "13807761234"},
        "form": {"disability_grade": "二级", "subsidy": "生活补贴"}, "materials": ["id_card", "application"],
        "certificates": {"disability_card": NUMBER}})
    assert third.status_code == 201, third.text
    third_id = third.json()["case_id"]

    # The link is back: the hub parks case 3 for its department, and the village learns the revocation.
    hub = cluster.start_hub()
    reviewer = hub.api("cl-lan")
    parked = wait_until(lambda: (d := at_hub(reviewer, third_id)).get("certificates") and d, timeout=60,
                        what="case 3 at the hub")
    assert parked["certificates"][0]["finding"] == "revoked" and parked["status"] == "routed"
    refused = reviewer.post(f"/api/cases/{third_id}/decision", json={"decision": "approved"})
    assert refused.status_code == 409 and refused.json()["reason"] == "certificate_unsettled"
    wait_until(lambda: rows(village.data, "point.db", "select reason from certificaterevocation") == [(REASON,)],
               timeout=60, what="the revocation at the village")
    wait_until(lambda: rows(village.data, "point.db", "select hub_finding from casecertificate where case_id = ?",
                            third_id) == [("revoked",)], timeout=60, what="the hub's finding at the village")
    page.goto(f"{village.url}/cases/{third_id}")
    assert "县政务服务中心核验结果：已撤销，由审批部门决定如何处理" in page.inner_text("#spared-disability_card")
    # Knowing it now, the village no longer offers it, and refuses it if cited.
    again = village.api("staff").post("/api/cases", json={
        "item_code": "451030-CL-021", "applicant": {"name": "韦秀兰", "id_number": HOLDER, "phone": ""},
        "form": {"device": "助听器"}, "materials": [], "certificates": {"disability_card": NUMBER}})
    assert again.status_code == 422 and "certificates.disability_card" in again.json()["fields"]

    # The village's offline QR check: revoked, with the county's reason; an altered code is refused.
    page.goto(f"{village.url}/certificates/verify")
    page.wait_for_function("document.activeElement && document.activeElement.id === 'code'")
    page.keyboard.insert_text(code)
    page.focus("#verify")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.inner_text("#verdict-state") == "已撤销"
    assert REASON in page.inner_text("#verdict-revoked") and page.inner_text("#verdict-number") == NUMBER
    assert page.inner_text("#verdict-generation") == "县政务服务中心，第1代密钥"
    assert page_problems(page) == [], report(page_problems(page))
    shot(page, "certificate-verify-revoked")
    prefix, document, signature = code.split(".")
    altered = ".".join([prefix, document, signature[:-4] + ("AAAA" if signature[-4:] != "AAAA" else "BBBB")])
    page.fill("#code", altered)
    with page.expect_navigation():
        page.click("#verify")
    assert page.inner_text("#verdict-state") == "不是真实有效的证照"
    assert "签名与本服务点信任的县政务服务中心密钥均不符" in page.inner_text("#verdict-reason")

    # The department reads why on the case page, and goes on without the paper.
    log_in(page, hub.url, "cl-lan", "reviewer-pass-1")
    page.goto(f"{hub.url}/cases/{third_id}")
    assert "已撤销" in page.inner_text("#certificate-parked") and NUMBER in page.inner_text("#certificate-parked")
    assert f"暂挂待审批部门处理：中华人民共和国残疾人证（电子证照 {NUMBER}）：已撤销" in page.inner_text("main")
    assert page_problems(page) == [], report(page_problems(page))
    shot(page, "hub-case-parked-on-certificate")
    with page.expect_navigation():
        page.click("#certificate-go-on button")
    assert page.locator("#certificate-parked").count() == 0
    assert "审批部门决定不需纸质材料，继续办理：中华人民共和国残疾人证" in page.inner_text("main")
    page.goto(f"{hub.url}/cases/{first_id}")
    assert f"中华人民共和国残疾人证（编号 {NUMBER}）已登记入电子证照库" in page.inner_text("main")
    context.close()
