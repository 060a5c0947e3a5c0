"""The agent's pages in headless Chromium at 1024×768, driven by the keyboard: the agent files a project for an
enterprise (the slip shows the lookup code once), files its first application with the materials ticked, files a
second one where the materials already given show as given and are not asked again, and finds both on the
projects page waiting on their departments, then withdraws the project with a reason. Each page passes the page
checks (tests/support/pagecheck.py)."""

from __future__ import annotations

import re

import pytest

from tests.hub.hubkit import REVIEWER_PASSWORD
from tests.hub.test_projects import credit_code
from tests.hub.test_supervision_browser import fits_at_200_percent, page_problems, tab_to
from tests.support.browser import shot
from tests.support.cluster import log_in
from tests.support.pagecheck import report
from hub.trust.accounts import create_staff

pytestmark = pytest.mark.browser


def type_into(page, selector: str, text: str) -> None:
    tab_to(page, selector)
    page.keyboard.type(text)


@pytest.mark.sqlite_only  # the same steps run on PostgreSQL through the API in test_projects
def test_an_agent_files_a_project_and_its_applications_with_the_keyboard(hub, browser):
    with hub.db() as session:
        create_staff(session, username="db-wei", password=REVIEWER_PASSWORD, role="agent", display_name="韦代办")
    code = credit_code()
    page = browser.new_page(viewport={"width": 1024, "height": 768})
    log_in(page, hub.url, "db-wei", REVIEWER_PASSWORD)
    page.goto(hub.url + "/projects")
    assert page.locator("#no-projects").is_visible()
    tab_to(page, "#new-project")
    with page.expect_navigation():
        page.keyboard.press("Enter")

    # The only template is chosen and the agent filing is the agent; a wrong check character is refused first.
    for selector, text in (("#name", "西林县砂糖橘冷链仓储项目"), ("#enterprise_name", "西林县果业发展有限公司"),
                           ("#credit_code", code[:17] + ("0" if code[17] != "0" else "1")),
                           ("#location", "八达镇工业集中区"), ("#investment_wan", "3200.5"), ("#contact_name", "黄志强"),
                           ("#contact_phone", "13877612345")):
        type_into(page, selector, text)
    tab_to(page, "#project-submit")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator("#error-credit_code").is_visible()
    assert page_problems(page, set()) == [], report(page_problems(page, set()))
    page.fill("#credit_code", "")
    type_into(page, "#credit_code", code)
    tab_to(page, "#project-submit")
    with page.expect_navigation():
        page.keyboard.press("Enter")

    number = page.locator("#slip-project-no").inner_text()
    assert re.fullmatch(r"XM-\d{8}-0001", number) and re.fullmatch(r"\d{6}", page.locator("#slip-code").inner_text())
    allowed = {number, code}
    assert page_problems(page, allowed) == [], report(page_problems(page, allowed))
    tab_to(page, "#to-project")
    with page.expect_navigation():
        page.keyboard.press("Enter")

    tab_to(page, "#apply-451030-FG-040")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator("#field-project_name").input_value() == "西林县砂糖橘冷链仓储项目"
    type_into(page, "#field-scale", "冷库2万吨")
    for material in ("business_licence", "authorisation", "project_info"):
        tab_to(page, f"#material-{material}")
        page.keyboard.press("Space")
    assert page_problems(page, allowed) == [], report(page_problems(page, allowed))
    tab_to(page, "#apply-submit")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator("#project-notice").is_visible()
    assert "等待" in page.locator("#item-451030-FG-040").inner_text()

    # The licence and the authorisation were given with the filing: shown as given, not asked again.
    tab_to(page, "#apply-451030-ZR-041")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "已提供（随企业投资项目备案申请）" in page.locator("#held-business_licence").inner_text()
    assert page.locator("#material-business_licence").count() == 0
    type_into(page, "#field-land_area", "12000")
    for material in ("project_filing", "site_plan"):
        tab_to(page, f"#material-{material}")
        page.keyboard.press("Space")
    tab_to(page, "#apply-submit")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator("#project-notice").is_visible()
    receipts = set(page.locator("#stage-land_planning + .scroll-x a").all_inner_texts())
    allowed |= receipts
    assert page_problems(page, allowed) == [], report(page_problems(page, allowed))
    shot(page, "hub-agent-project")

    tab_to(page, "#nav-projects")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    row = page.locator(f"#project-{number}").inner_text()
    assert "立项用地规划许可" in row and "自然资源局" in row and "韦代办" in row
    assert page_problems(page, allowed) == [], report(page_problems(page, allowed))
    shot(page, "hub-agent-projects")
    assert fits_at_200_percent(page) == [], report(fits_at_200_percent(page))

    # The enterprise gives the project up: the agent withdraws it with the reason, the filed applications run on.
    page.goto(f"{hub.url}/projects/{number}")
    type_into(page, "#reason", "企业调整投资计划")
    tab_to(page, "#withdraw-submit")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "项目已撤回" in page.locator("#project-notice").inner_text()
    assert page.locator("#project-status").inner_text().startswith("已撤回")
    assert page.locator("#withdrawal-reason").inner_text() == "企业调整投资计划"
    assert page_problems(page, allowed) == [], report(page_problems(page, allowed))
