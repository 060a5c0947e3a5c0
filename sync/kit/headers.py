"""Security headers on every answer of both servers (issue 27): what a browser may do with our pages.

Pages hold residents' names, ID numbers, scans and the buttons that decide a case. So no other site may frame
them (a hidden "approve" under a decoy click), a browser must not guess a type (a text answer read as HTML), no
cache may keep them (a shared village laptop's back button, a proxy), and a script that got into a page anyway
must not run. ``install_security_headers`` sets one policy on every response of an app: pages, JSON answers,
redirects and error pages (404, 405, 413, a refused CSRF token, 500) alike.

Answers under the sync endpoints' paths go to programs (a point, a township), never to a page: they carry
the short form (``PROGRAM_POLICY``, nosniff, a Referrer-Policy, no-store). An idle point polls all day over a
2G link: the pages' full set on every answer made its idle day 94,248 bytes instead of 58,905; the short form
makes it 74,448 (tests/system/test_idle_day.py, within its 100 KiB budget).

A header a view set itself wins: a scan's ``Content-Security-Policy: sandbox`` (hub/web/cases.py) is stricter
than the pages' policy and stays as it is, and so does an explicit ``Cache-Control``.

Inline ``<style>`` and ``<script>`` blocks carry this response's nonce (``csp_nonce()`` in templates) instead of
moving to files of their own: each page stays one request on a village's 600 ms link, as the page-weight budgets
measure. No page uses a ``style`` attribute, an ``on…`` handler or a ``javascript:`` link, which no nonce covers
(tests/security/test_headers.py reads every page for them).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from flask import Flask, Response, g, request

__all__ = ["NO_STORE", "PROGRAM_HEADERS", "PROGRAM_POLICY", "REFUSAL_HEADERS", "SECURITY_HEADERS", "STRICT_TRANSPORT",
           "content_security_policy", "csp_nonce", "install_security_headers"]

# 128 random bits per response, as CSP Level 3 asks of a nonce.
NONCE_BYTES = 16
# Only this site's own resources, no plugins, no <base> pointing elsewhere, forms post to this site only, never
# framed by any page (our own pages frame nothing: a scan opens in a tab of its own).
POLICY = ("default-src 'self'", "object-src 'none'", "base-uri 'self'", "form-action 'self'",
          "frame-ancestors 'none'")
SECURITY_HEADERS = {
    # frame-ancestors for browsers older than CSP Level 2.
    "X-Frame-Options": "DENY",
    # A response is read as the type it says, never sniffed (a scan named .pdf holding HTML stays inert).
    "X-Content-Type-Options": "nosniff",
    # Addresses carry case ids and search words: other sites get none of them. Not "no-referrer": behind TLS
    # Flask-WTF refuses a form post whose Referer is missing or from elsewhere (WTF_CSRF_SSL_STRICT).
    "Referrer-Policy": "same-origin",
    # A page another site opened cannot reach into ours through window.opener, nor ours into it.
    "Cross-Origin-Opener-Policy": "same-origin",
    # Another site cannot load our answers as its images, scripts or media (a scan by its address).
    "Cross-Origin-Resource-Policy": "same-origin",
}
# What programs are answered: nothing in it may load or run, and no page may frame it.
PROGRAM_POLICY = "default-src 'none'; frame-ancestors 'none'"
PROGRAM_HEADERS = {name: SECURITY_HEADERS[name] for name in ("X-Content-Type-Options", "Referrer-Policy")}
# Every answer but a static file may hold personal data; a browser or proxy keeps none of it.
NO_STORE = "no-store"
# What the server itself answers when it refuses a request before the app sees it (a declared body over the
# limit, a malformed head: sync/kit/web.py): a line of plain text that nothing may load, run, frame or keep.
REFUSAL_HEADERS = (("Content-Security-Policy", PROGRAM_POLICY), *SECURITY_HEADERS.items(), ("Cache-Control", NO_STORE))
# Behind TLS (``serve --behind-tls``), a browser that has seen the site once goes on using HTTPS for a year, so a
# forged plain-HTTP link on the office network reaches no login. Not includeSubDomains: other services of the
# county's domain may still be served over plain HTTP.
STRICT_TRANSPORT = "max-age=31536000"
# Flask's endpoint for an app's static folder: CSS, scripts, fonts and images hold nobody's data.
CACHEABLE_ENDPOINTS = ("static",)
_NONCE_KEY = "csp_nonce"


def csp_nonce() -> str:
    """This response's nonce for an inline ``<style>`` or ``<script>``; made on first use, the same all request."""
    nonce = g.get(_NONCE_KEY)
    if nonce is None:
        nonce = secrets.token_urlsafe(NONCE_BYTES)
        setattr(g, _NONCE_KEY, nonce)
    return nonce


def content_security_policy(nonce: str | None) -> str:
    """The pages' policy; scripts and styles from this site, and inline ones only with ``nonce``."""
    own = "'self'" + (f" 'nonce-{nonce}'" if nonce else "")
    return "; ".join((*POLICY[:1], f"script-src {own}", f"style-src {own}", *POLICY[1:]))


def install_security_headers(app: Flask, *, program_prefixes: Iterable[str],
                             cacheable_endpoints: Iterable[str] = CACHEABLE_ENDPOINTS) -> None:
    """Give every response of ``app`` the policy above, the short form under ``program_prefixes``; ``csp_nonce``
    becomes a template global. An app served behind TLS (its session cookie Secure) also sends its pages
    Strict-Transport-Security (programs do not read it)."""
    programs = tuple(program_prefixes)
    cacheable = frozenset(cacheable_endpoints)
    app.jinja_env.globals["csp_nonce"] = csp_nonce

    @app.after_request
    def _security_headers(response: Response) -> Response:
        headers = response.headers
        for_program = request.path.startswith(programs)
        headers.setdefault("Content-Security-Policy",
                           PROGRAM_POLICY if for_program else content_security_policy(g.get(_NONCE_KEY)))
        for name, value in (PROGRAM_HEADERS if for_program else SECURITY_HEADERS).items():
            headers.setdefault(name, value)
        if request.endpoint not in cacheable and "Cache-Control" not in headers:
            headers["Cache-Control"] = NO_STORE
        if app.config.get("SESSION_COOKIE_SECURE") and not for_program:
            headers.setdefault("Strict-Transport-Security", STRICT_TRANSPORT)
        return response
