"""Security headers on every answer of both apps (issue 27, case 6), in process: every route of each app's url_map
with each of its methods, anonymous and logged in, and the error answers (404, 405, 413, a refused CSRF token, 500).

Each answer carries the pages' Content-Security-Policy (self only, never framed, inline blocks only with this
answer's nonce), X-Frame-Options, nosniff, a Referrer-Policy and Cache-Control: no-store (the sync endpoints, which
answer programs, a short form of them); every page that renders
puts the nonce on each of its <style> and <script> blocks and has no style attribute, on… handler or javascript:
link, which no nonce would let run. The browser's side (no violation on the pages, a PDF scan under its sandbox) is
tests/system/test_headers_browser.py.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.routing import Rule

from hub.web.app import create_app as create_hub_app
from pointkit import create_app as create_point_app
from pointkit import db as point_db
from pointkit.auth import create_staff
from tests.hub.hubkit import ADMIN_PASSWORD, make_hub
from tests.pointkit.hubside import GOOD_CASE, make_point

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_DIRS = [ROOT / "hub" / "web" / "templates", ROOT / "pointkit" / "templates",
                 ROOT / "sync" / "kit" / "residents" / "templates"]
POINT_PASSWORD = "window-pass-1"
REQUIRED_DIRECTIVES = {
    "default-src": "'self'", "object-src": "'none'", "base-uri": "'self'", "form-action": "'self'",
    "frame-ancestors": "'none'",
}
OTHER_HEADERS = {"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"}
# The sync endpoints answer programs, never a page: the short form, fewer bytes on an idle point's every poll.
PROGRAM_PREFIX = "/sync/v1/"
PROGRAM_HEADERS = {"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
                   "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin", "Cache-Control": "no-store"}
# Methods Flask adds to every rule: HEAD answers as GET does, OPTIONS is answered by Flask itself; both asked too.
METHODS = ("GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE")
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
INLINE_BLOCK = re.compile(r"<(script|style)\b([^>]*)>", re.IGNORECASE)
# What no nonce covers: inline style attributes, event handler attributes, javascript: links.
UNCOVERED = re.compile(r"""\sstyle\s*=|\son[a-z]+\s*=\s*["']|javascript:""", re.IGNORECASE)
# A request this size is over both apps' limits (the hub's form memory, the point's MAX_CONTENT_LENGTH).
OVERSIZED = 17 * 1024 * 1024


@dataclass
class Walk:
    """What one app answered, and every answer without the headers."""

    answers: int = 0
    problems: list[str] = field(default_factory=list)

    def check(self, label: str, response, *, cacheable: bool = False, program: bool = False) -> None:
        self.answers += 1
        found = program_problems(response) if program else header_problems(response, cacheable=cacheable)
        self.problems += [f"{label} -> {response.status_code}: {problem}" for problem in found]


def directives(policy: str) -> dict[str, str]:
    parsed: dict[str, str] = {}
    for part in policy.split(";"):
        name, _, value = part.strip().partition(" ")
        if name:
            parsed[name] = value.strip()
    return parsed


def header_problems(response, *, cacheable: bool = False) -> list[str]:
    """What is missing or wrong in one answer's headers, and in its page's inline blocks; ``cacheable``: a static
    file's route, which may be kept."""
    problems = [f"{name} is {response.headers.get(name)!r}, not {value!r}"
                for name, value in OTHER_HEADERS.items() if response.headers.get(name) != value]
    if not cacheable and "no-store" not in response.headers.get("Cache-Control", ""):
        problems.append(f"Cache-Control is {response.headers.get('Cache-Control')!r}, without no-store")
    policy = directives(response.headers.get("Content-Security-Policy", ""))
    problems += [f"CSP {name} is {policy.get(name)!r}, not {value}"
                 for name, value in REQUIRED_DIRECTIVES.items() if policy.get(name) != value]
    for name in ("script-src", "style-src"):
        sources = policy.get(name, "").split()
        if not sources or sources[0] != "'self'" or any(s not in ("'self'",) and not s.startswith("'nonce-")
                                                        for s in sources):
            problems.append(f"CSP {name} is {policy.get(name)!r}: only 'self' and a nonce")
    if response.mimetype == "text/html":
        problems += page_problems(response.get_data(as_text=True), policy)
    return problems


def program_problems(response) -> list[str]:
    """What is missing or wrong in an answer to a program (a point, a township)."""
    return [f"{name} is {response.headers.get(name)!r}, not {value!r}"
            for name, value in PROGRAM_HEADERS.items() if response.headers.get(name) != value]


def page_problems(html: str, policy: dict[str, str]) -> list[str]:
    """Inline blocks without the answer's nonce, and markup no nonce covers."""
    nonces = {source[len("'nonce-"):-1] for name in ("script-src", "style-src")
              for source in policy.get(name, "").split() if source.startswith("'nonce-")}
    problems = []
    for tag, attributes in INLINE_BLOCK.findall(html):
        found = re.search(r'nonce="([^"]+)"', attributes)
        if found is None or found.group(1) not in nonces:
            problems.append(f"<{tag}{attributes}> without this answer's nonce")
    problems += [f"uncovered inline markup: ...{html[max(0, m.start() - 60):m.end() + 40]!r}..."
                 for m in UNCOVERED.finditer(html)]
    return problems


def url_of(rule: Rule, known: dict[str, str]) -> str:
    """The rule's path with an id the instance holds for each argument it knows, a dummy for the others."""
    values = {}
    for name, converter in rule._converters.items():
        values[name] = 1 if type(converter).__name__ == "IntegerConverter" else known.get(name, "x")
    return rule.build(values, append_unknown=False)[1]


def walk(client, app: Flask, known: dict[str, str], label: str, result: Walk) -> None:
    for rule in app.url_map.iter_rules():
        url = url_of(rule, known)
        for method in METHODS:
            if method in rule.methods or method in ("OPTIONS", "HEAD"):
                result.check(f"{label} {method} {url}", client.open(url, method=method),
                             cacheable=rule.endpoint == "static", program=url.startswith(PROGRAM_PREFIX))


def error_answers(client, result: Walk, label: str, *, api_prefix: str) -> None:
    """404, 405, 413 and a refused CSRF token, on a page and under the JSON API."""
    result.check(f"{label} 404 page", client.get("/no-such-page"))
    result.check(f"{label} 404 api", client.get(f"{api_prefix}no-such-thing"))
    result.check(f"{label} 404 sync", client.get(f"{PROGRAM_PREFIX}no-such-thing"), program=True)
    result.check(f"{label} 405", client.open("/login", method="DELETE"))
    result.check(f"{label} CSRF", client.post("/login", data={"username": "x", "password": "y"}))
    result.check(f"{label} 413", client.post("/login", data={"username": "x" * OVERSIZED}))
    result.check(f"{label} 413 api", client.post(f"{api_prefix}login", data=b"{" * OVERSIZED,
                                                  content_type="application/json"))


def with_failing_route(app: Flask) -> Flask:
    """A route that raises, to see the 500 answer (added before the app's first request, as Flask requires)."""
    def fail():
        raise RuntimeError("a bug in a view")

    app.add_url_rule("/test-failure", "test_failure", fail)
    app.add_url_rule("/api/test-failure", "api_test_failure", fail)
    return app


def log_in(client, password: str, username: str) -> None:
    token = CSRF.search(client.get("/login").get_data(as_text=True)).group(1)
    answer = client.post("/login", data={"username": username, "password": password, "csrf_token": token})
    assert answer.status_code == 302 and "/login" not in answer.headers["Location"], answer.get_data(as_text=True)


@pytest.fixture(scope="module")
def hub_app(tmp_path_factory) -> Iterator[Flask]:
    data = tmp_path_factory.mktemp("headers") / "hub"
    make_hub(data).close()
    app = with_failing_route(create_hub_app(data))
    yield app
    app.extensions["hub_engine"].dispose()
    shutil.rmtree(data, ignore_errors=True)


@pytest.fixture(scope="module")
def point_app(tmp_path_factory) -> Iterator[tuple[Flask, dict[str, str]]]:
    """The point's app and the ids of a case it received (its case pages answer 200)."""
    data = tmp_path_factory.mktemp("headers") / "point"
    make_point(data)
    with point_db.session_scope(data) as session:
        create_staff(session, "staff", POINT_PASSWORD)
    app = with_failing_route(create_point_app(data))
    client = app.test_client()
    token = client.post("/api/login", json={"username": "staff", "password": POINT_PASSWORD}).json["token"]
    taken = client.post("/api/cases", json=GOOD_CASE, headers={"Authorization": f"Bearer {token}"})
    assert taken.status_code == 201, taken.get_data(as_text=True)
    yield app, {"case_id": taken.json["case_id"], "code": GOOD_CASE["item_code"]}
    point_db.dispose(data)


def test_every_hub_answer_carries_the_headers(hub_app):
    result = Walk()
    walk(hub_app.test_client(), hub_app, {"code": "451030-YB-001"}, "hub anonymous", result)
    staff = hub_app.test_client()
    log_in(staff, ADMIN_PASSWORD, "admin")
    walk(staff, hub_app, {"code": "451030-YB-001"}, "hub admin", result)
    error_answers(hub_app.test_client(), result, "hub", api_prefix="/api/")
    result.check("hub 500 page", staff.get("/test-failure"))
    result.check("hub 500 api", staff.get("/api/test-failure"))
    assert result.answers > 500
    assert not result.problems, f"{len(result.problems)} of {result.answers} answers:\n" + "\n".join(
        result.problems[:40])


def test_every_point_answer_carries_the_headers(point_app):
    app, known = point_app
    result = Walk()
    walk(app.test_client(), app, known, "point anonymous", result)
    staff = app.test_client()
    log_in(staff, POINT_PASSWORD, "staff")
    walk(staff, app, known, "point staff", result)
    error_answers(app.test_client(), result, "point", api_prefix="/api/")
    result.check("point 500 page", staff.get("/test-failure"))
    result.check("point 500 api", staff.get("/api/test-failure"))
    assert result.answers > 300
    assert not result.problems, f"{len(result.problems)} of {result.answers} answers:\n" + "\n".join(
        result.problems[:40])


@pytest.mark.parametrize("kind", ["hub", "point"])
def test_only_a_server_behind_tls_asks_for_https_from_then_on(kind, hub_app, point_app):
    data = (hub_app if kind == "hub" else point_app[0]).config["DATA_DIR"]
    create = create_hub_app if kind == "hub" else create_point_app
    apps = [create(data), create(data, test_config={"SESSION_COOKIE_SECURE": True})]
    plain, behind_tls = (app.test_client().get("/login") for app in apps)
    program = apps[1].test_client().get(f"{PROGRAM_PREFIX}pull")
    for app in apps:
        if "hub_engine" in app.extensions:
            app.extensions["hub_engine"].dispose()
    assert "Strict-Transport-Security" not in plain.headers
    assert behind_tls.headers["Strict-Transport-Security"] == "max-age=31536000"
    assert "Strict-Transport-Security" not in program.headers, "a point's sync client reads no HSTS"


def test_no_template_holds_markup_a_nonce_cannot_cover():
    """Every template, rendered by the walk or not: each <style> and <script> takes the nonce, and nothing inline
    is left that a strict style-src or script-src refuses."""
    problems = []
    for folder in TEMPLATE_DIRS:
        for path in sorted(folder.rglob("*.html")):
            text = path.read_text(encoding="utf-8")
            problems += [f"{path.relative_to(ROOT)}: <{tag}{attributes}> without nonce=\"{{{{ csp_nonce() }}}}\""
                         for tag, attributes in INLINE_BLOCK.findall(text) if "csp_nonce()" not in attributes]
            problems += [f"{path.relative_to(ROOT)}: {text[max(0, m.start() - 40):m.end() + 30]!r}"
                         for m in UNCOVERED.finditer(text)]
    assert not problems, "\n".join(problems)
