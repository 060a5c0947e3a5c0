"""The hub's Flask app: ``create_app(data_dir)`` builds it for one data directory (Flask-tutorial style).

Defaults, then the POINTKIT_HUB_* environment, then the test override; the database, the keys, the
language and CSRF are installed, then one blueprint per area of the site.
"""

from __future__ import annotations

import logging
import traceback
from pathlib import Path
from typing import Any

from flask import Flask, render_template, request
from werkzeug.exceptions import HTTPException

from sync.kit import residents as residents_site
from sync.kit.headers import install_security_headers
from sync.kit.i18n import install_i18n
from sync.kit.openapi import documented
from sync.kit.web import api_error, error_headers, http_api_error
from sync.kit.webauth import CSRFError, install_csrf

from hub.core.db import database_url, make_engine, session_scope
from hub.instance import secret_key
from hub.migrate import init_db
from hub.trust.keys import ensure_keys, keyring_state
from hub.web import (api, audit, auth, bookings, cases, catalog, certificates, complaintapi, complaints, desk, joint,
                     jointapi, orders, prechecks, procedures, projectapi, projects, referrals, relay, reports,
                     residents, staff, supervision, sync, township)
from hub.web.context import init_app
from hub.web.i18n import TRANSLATIONS
from hub.web.schemas import Health

__all__ = ["create_app"]

log = logging.getLogger(__name__)
JSON_PREFIXES = ("/api/", "/sync/")


def create_app(data_dir: str | Path, *, test_config: dict[str, Any] | None = None) -> Flask:
    """Build the hub app serving the data directory ``data_dir``."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    app = Flask(__name__)
    app.config.from_mapping(
        DATA_DIR=str(data_dir),
        DATABASE_URL=database_url(data_dir),
        PUSH_MAX_BYTES=16 * 1024 * 1024,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # Cookies are not kept apart by port: a point served on the same host (the demo, a township laptop that
        # runs both) would otherwise overwrite the hub's login in the same browser, and the hub the point's.
        SESSION_COOKIE_NAME="pointkit_hub_session",
        # Staff forms are small; a bigger body is a mistake or an attack.
        MAX_FORM_MEMORY_SIZE=1024 * 1024,
    )
    app.config.from_prefixed_env("POINTKIT_HUB")
    if test_config:
        app.config.update(test_config)
    app.secret_key = secret_key(data_dir)

    engine = make_engine(app.config["DATABASE_URL"])
    init_db(engine, data_dir)
    init_app(app, engine)
    with session_scope(engine) as session:
        keyring = ensure_keys(session, data_dir)
        app.extensions["hub_keyring"] = (keyring_state(session), keyring)

    install_i18n(app, TRANSLATIONS)
    # The sync endpoints answer points, never a browser: the short form of the headers (sync/kit/headers.py).
    install_security_headers(app, program_prefixes=("/sync/v1/",))
    residents_site.install(app)
    residents.cap_bodies(app)
    # Exempt (sync/kit/webauth.py says why): the JSON API takes only bearer tokens, the sync endpoints only the
    # point's request signatures; the liveness probe has no cookies and no forms.
    install_csrf(app, exempt_prefixes=("/api/", "/sync/v1/", "/healthz"))

    auth.install(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(sync.bp)
    app.register_blueprint(relay.bp)
    app.register_blueprint(cases.bp)
    app.register_blueprint(catalog.bp)
    app.register_blueprint(supervision.bp)
    app.register_blueprint(orders.bp)
    app.register_blueprint(orders.api_bp)
    app.register_blueprint(reports.bp)
    app.register_blueprint(desk.bp)
    app.register_blueprint(staff.bp)
    app.register_blueprint(audit.bp)
    app.register_blueprint(referrals.bp)
    app.register_blueprint(complaints.bp)
    app.register_blueprint(bookings.bp)
    app.register_blueprint(complaintapi.bp)
    app.register_blueprint(joint.bp)
    app.register_blueprint(jointapi.bp)
    app.register_blueprint(township.bp)
    app.register_blueprint(projects.bp)
    app.register_blueprint(projectapi.bp)
    app.register_blueprint(projectapi.point_bp)
    app.register_blueprint(certificates.bp)
    app.register_blueprint(certificates.point_bp)
    app.register_blueprint(procedures.bp)
    app.register_blueprint(procedures.api_bp)
    app.register_blueprint(residents.bp)
    app.register_blueprint(prechecks.bp)
    app.register_blueprint(prechecks.point_bp)

    @app.get("/healthz")
    @documented("Liveness", answer=Health, auth=False)
    def healthz():
        """Liveness for the test harness and monitoring."""
        return {"ok": True}

    _install_error_pages(app)
    return app


def _install_error_pages(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        if request.path.startswith(JSON_PREFIXES):
            reason = (error.name or "error").lower().replace(" ", "_")
            return http_api_error(error, reason, error.description or reason)
        page = render_template("error.html", error=error, csrf_refused=isinstance(error, CSRFError),
                               read_only=isinstance(error, auth.ReadOnlyAccount))
        return page, error.code, error_headers(error)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        # The type and the stack only: an exception's message may quote a resident's data.
        stack = "".join(traceback.format_tb(error.__traceback__))
        log.error("unhandled %s on %s %s\n%s", type(error).__name__, request.method, request.path, stack)
        if request.path.startswith(JSON_PREFIXES):
            return api_error(500, "internal_error", "the hub failed to handle this request; see hub.log")
        return render_template("error.html", error=None), 500
