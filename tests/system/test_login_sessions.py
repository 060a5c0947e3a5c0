"""A login survives the answers to requests the browser sent before it.

As soon as a login page has loaded, Chromium asks the same server for /favicon.ico, with the login page's
session cookie. On a busy server that answer can arrive after the login's; whatever cookie it sets, the browser
stores last. When it wrote the anonymous session back, the clerk who had just logged in was sent to the login
page on every later page (the page crawl failed so, once in five runs of the whole suite).
"""

from __future__ import annotations

import re

import httpx

from tests.support.fullloop import VILLAGE

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def test_an_answer_sent_before_the_login_and_taken_after_it_keeps_the_login(cluster):
    hub = cluster.start_hub()
    point = cluster.start_point(VILLAGE, "village")
    for server, username, staff_page in ((point, "staff", "/cases"), (hub, "admin", "/queue")):
        with httpx.Client(base_url=server.url) as browser:
            token = CSRF.search(browser.get("/login").text).group(1)
            with httpx.Client(base_url=server.url, cookies=browser.cookies) as icon_fetch:
                icon = icon_fetch.get("/favicon.ico")
            assert icon.status_code == 404, icon.text[:200]
            logged_in = browser.post("/login", data={"username": username, "password": server.logins[username],
                                                     "csrf_token": token})
            assert logged_in.status_code == 302, logged_in.text[:500]
            # The icon's answer arrives last: the browser takes whatever cookie it sets.
            browser.cookies.extract_cookies(icon)
            page = browser.get(staff_page)
            assert page.status_code == 200, (f"{server.name}: the icon's answer ended the login "
                                             f"({page.status_code} {page.headers.get('Location')})")
