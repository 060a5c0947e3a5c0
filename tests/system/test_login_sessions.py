"""A login survives the answers to requests the browser sent before it (sync/kit/webauth.py).

As soon as a login page has loaded, Chromium asks the same server for /favicon.ico, with the login page's
session cookie. On a busy server that answer can come after the login's, while the page the login leads to is
still on its way (Chromium drops the icon's request only later); the browser keeps whichever cookie it was
given last. When the icon's answer wrote the anonymous session back, the clerk who had just logged in saw the
first page, then the login page on every later one: the page crawl failed so once in five runs of the suite."""

from __future__ import annotations

import http.client
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import httpx
import pytest

from tests.support.cluster import Cluster, Server
from tests.support.fullloop import VILLAGE

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
# Seconds to wait for the browser, the relay and the servers.
WAIT = 30


@pytest.fixture(scope="module")
def servers(tmp_path_factory) -> Iterator[list[tuple[Server, str, str, str]]]:
    """A real point and hub; for each, the account that logs in, the page the login leads to and a staff page."""
    with Cluster(tmp_path_factory.mktemp("logins"), reuse_init=True, setup_in_process=True) as cluster:
        hub = cluster.start_hub()
        point = cluster.start_point(VILLAGE, "village")
        yield [(point, "staff", "/cases/new", "/cases"), (hub, "admin", "/", "/queue")]


def test_an_answer_sent_before_the_login_and_taken_after_it_keeps_the_login(servers):
    for server, username, _landing, staff_page in servers:
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


class RelayHandler(BaseHTTPRequestHandler):
    """One browser connection to the relay (``server.relay``)."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.server.relay.forward(self)

    do_POST = do_GET

    def log_message(self, *args) -> None:
        pass  # the test says what went wrong


class IconRelay:
    """An HTTP relay in front of a server that replays the order a busy server answers in: it forwards every
    request at once, holds the answer to the login page's /favicon.ico, and hands it to the browser just before
    the answer to ``release_before`` (the page the login leads to), once the browser has the login's cookie."""

    def __init__(self, target: str, *, release_before: str):
        self.target = urlsplit(target)
        self.release_before = release_before
        self.icon_held = threading.Event()  # the server has answered the icon; the relay holds that answer
        self.icon_delivered = threading.Event()  # the held answer went to the browser, which then closed
        self._released = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), RelayHandler)
        self._server.daemon_threads = True
        self._server.relay = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"

    def __enter__(self) -> "IconRelay":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._released.set()
        self._server.shutdown()
        self._server.server_close()

    def forward(self, asked: BaseHTTPRequestHandler) -> None:
        status, headers, content = self._ask_server(asked)
        path = urlsplit(asked.path).path
        if path == "/favicon.ico" and not self._released.is_set():
            self.icon_held.set()
            self._released.wait(WAIT)
            self._answer(asked, status, headers, content, close=True)
            # Chromium closes a "Connection: close" connection once it has read the answer (or dropped the request).
            asked.connection.settimeout(WAIT)
            if asked.connection.recv(1) == b"":
                self.icon_delivered.set()
            return
        if path == self.release_before and self.icon_held.is_set() and not self._released.is_set():
            self._released.set()
            self.icon_delivered.wait(WAIT)
        self._answer(asked, status, headers, content)

    def _ask_server(self, asked: BaseHTTPRequestHandler) -> tuple[int, list[tuple[str, str]], bytes]:
        body = asked.rfile.read(int(asked.headers.get("Content-Length") or 0))
        headers = {name: value for name, value in asked.headers.items() if name.lower() != "connection"}
        upstream = http.client.HTTPConnection(self.target.hostname, self.target.port, timeout=WAIT)
        try:
            upstream.request(asked.command, asked.path, body=body, headers=headers)
            answer = upstream.getresponse()
            return answer.status, answer.getheaders(), answer.read()
        finally:
            upstream.close()

    @staticmethod
    def _answer(asked: BaseHTTPRequestHandler, status: int, headers: list[tuple[str, str]], content: bytes, *,
                close: bool = False) -> None:
        asked.send_response(status)
        for name, value in headers:
            if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                asked.send_header(name, value)
        asked.send_header("Content-Length", str(len(content)))
        if close:
            asked.send_header("Connection", "close")
        asked.end_headers()
        asked.wfile.write(content)
        asked.wfile.flush()


@pytest.mark.browser
def test_the_login_pages_icon_answered_during_the_login_does_not_end_it(servers, browser):
    for server, username, landing, staff_page in servers:
        with IconRelay(server.url, release_before=landing) as relay:
            page = browser.new_page()
            page.goto(relay.url + "/login")
            assert relay.icon_held.wait(WAIT), "Chromium did not ask for the login page's icon"
            page.fill("input[name=username]", username)
            page.fill("input[name=password]", server.logins[username])
            with page.expect_navigation():
                page.keyboard.press("Enter")
            assert relay.icon_delivered.is_set(), "the icon's answer did not reach the browser during the login"
            page.goto(relay.url + staff_page)
            assert "/login" not in page.url, f"{server.name}: the icon's answer, taken after the login's, ended it"
            page.close()


def test_a_hub_and_a_point_on_one_host_keep_their_logins_apart_in_one_browser(servers):
    # Cookies are not kept apart by port: the demo and a township laptop serve both on one address.
    with httpx.Client() as browser:
        for server, username, _landing, _staff_page in servers:
            token = CSRF.search(browser.get(server.url + "/login").text).group(1)
            logged_in = browser.post(server.url + "/login", data={
                "username": username, "password": server.logins[username], "csrf_token": token})
            assert logged_in.status_code == 302, logged_in.text[:500]
        for server, _username, _landing, staff_page in servers:
            page = browser.get(server.url + staff_page)
            assert page.status_code == 200, f"{server.name}: the other app's login replaced this one's"
