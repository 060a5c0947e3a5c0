"""pointkit: the service point node of the county network.

A Flask app on SQLite that receives applications at the window offline,
queues them as sealed, signed envelopes, syncs with the county hub and hands
results over once they come back. ``create_app`` builds the web app;
``pointkit.cli`` is the ``pointkit`` command.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask, current_app, g, jsonify, render_template, request
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.exceptions import HTTPException

from sync.kit import residents as residents_site_kit
from sync.kit.headers import install_security_headers
from sync.kit.i18n import install_i18n
from sync.kit.openapi import documented
from sync.kit.web import http_api_error
from sync.kit.webauth import CSRFError, install_csrf

from . import db
from .i18n import TRANSLATIONS, install_filters
from .progress import waiting_at_window
from .scans import waiting_totals
from .schemas import Health
from .state import find_state, outbox_counts

__all__ = ["create_app"]

SECRET_KEY_FILE = "secret_key"
# Intake may carry scans of materials (a multi-page scan runs to a few MB); the server caps bodies at 16 MB.
MAX_CONTENT_LENGTH = 16 * 1024 * 1024


def _secret_key(data_dir: Path) -> str:
    """The session-signing key, made once per data directory and kept beside the database."""
    path = data_dir / SECRET_KEY_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        # Readable by this account only: whoever reads it can forge a staff session.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as file:
            file.write(secrets.token_hex(32))
    return path.read_text(encoding="ascii").strip()


def create_app(data_dir: str | Path, *, test_config: dict[str, Any] | None = None) -> Flask:
    """Build the point's web app over an (enrolled) data directory."""
    data_dir = Path(data_dir)
    app = Flask(__name__)
    app.config.from_mapping(
        DATA_DIR=str(data_dir),
        SECRET_KEY=_secret_key(data_dir),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # Its own name: the hub on the same host keeps its login in the same browser (hub/web/app.py).
        SESSION_COOKIE_NAME="pointkit_session",
        MAX_CONTENT_LENGTH=MAX_CONTENT_LENGTH,
        JSON_AS_ASCII=False,
    )
    if test_config:
        app.config.update(test_config)
    app.json.ensure_ascii = False
    db.init_db(data_dir)

    install_i18n(app, TRANSLATIONS)
    # The sync endpoints a township serves its villages answer programs: the short form (sync/kit/headers.py).
    install_security_headers(app, program_prefixes=("/sync/v1/",))
    residents_site_kit.install(app)
    install_filters(app)
    # Exempt (sync/kit/webauth.py says why): the JSON API takes only bearer tokens, and the sync endpoints a township
    # serves its villages (pointkit/relay.py) only the villages' request signatures.
    install_csrf(app, exempt_prefixes=("/api/", "/sync/v1/"))

    from . import (api, auth, bookingdesk, certverify, complaintdesk, desk, precheckdesk, projectlookup, relay, views,
                   window)
    from . import residents as residents_site

    auth.install(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(views.bp)
    app.register_blueprint(relay.bp)
    app.register_blueprint(window.bp)
    app.register_blueprint(desk.bp)
    app.register_blueprint(complaintdesk.bp)
    app.register_blueprint(bookingdesk.bp)
    app.register_blueprint(bookingdesk.desk_bp)
    app.register_blueprint(projectlookup.bp)
    app.register_blueprint(certverify.bp)
    app.register_blueprint(residents_site.bp)
    app.register_blueprint(precheckdesk.bp)

    @app.get("/healthz")
    @documented("Liveness", answer=Health, auth=False)
    def healthz():
        """Liveness for supervisors and tests (no login)."""
        return jsonify(ok=True)

    app.context_processor(_header_context)
    app.register_error_handler(HTTPException, _http_error)
    return app


def _header_context() -> dict[str, Any]:
    """What the header of every page shows: the point, online or not, how much is queued (scans in bytes)."""
    with db.session_scope(_data_dir()) as session_db:
        state = find_state(session_db)
        queued = outbox_counts(session_db)["queued"] if state else 0
        scans_waiting, scan_bytes_waiting = waiting_totals(session_db) if state else (0, 0)
        staff = getattr(g, "staff", None)
        supplements_waiting, results_waiting = waiting_at_window(session_db) if state and staff else (0, 0)
    return {"point": state, "queued_count": queued, "staff": staff,
            "scans_waiting": scans_waiting, "scan_bytes_waiting": scan_bytes_waiting,
            "supplements_waiting": supplements_waiting, "results_waiting": results_waiting}


def _data_dir() -> str:
    return current_app.config["DATA_DIR"]


def _http_error(error: HTTPException):
    """JSON errors under /api/, a small page elsewhere; a missing CSRF token says what to do."""
    if request.path.startswith("/api/"):
        return http_api_error(error, _API_REASONS.get(error.code, "error"), error.description or error.name)
    if isinstance(error, CSRFError):
        title, message = _("Form expired"), _("The form was missing its security token. Go back, reload the page and submit again.")
    elif error.code == 404:
        title, message = _("Not found"), _("This page does not exist.")
    elif error.code == 413:
        title, message = _("Too large"), _("What was sent is too large.")
    else:
        title, message = _("Request refused"), _("The request could not be handled.")
    logged_in = current_user.is_authenticated
    return render_template("message.html", title=title, message=message, logged_in=logged_in), error.code


_API_REASONS = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "too_large"}
