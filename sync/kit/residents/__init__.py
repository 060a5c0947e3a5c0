"""The residents' site (issue 22): 网上预审 (pre-check), 预约 (appointments) and 电子证照 lookups, as a resident with a
cheap phone and a weak signal uses them.

The hub serves it to the public and every point serves the same pages on its kiosk from its local catalog, so both
apps load the templates in ``templates/residents/`` (install) and register blueprints of the same names and
endpoints: ``residents`` (the item list, guides and pre-checks) and ``bookings`` (appointments). The pages are
mobile-first, under 30 KB each, need no JavaScript and load nothing from elsewhere; their messages are in both
apps' gettext catalogs (babel extracts this folder for each, docs/translations.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from flask import Flask, current_app, url_for
from werkzeug.routing import BuildError

TEMPLATES = Path(__file__).resolve().parent / "templates"


def install(app: Flask) -> None:
    """Let ``app`` render the shared residents' templates (its own templates still come first)."""
    app.jinja_loader = jinja2.ChoiceLoader([app.jinja_loader, jinja2.FileSystemLoader(str(TEMPLATES))])
    app.jinja_env.globals["site_link"] = site_link


def site_link(endpoint: str, **values: Any) -> str | None:
    """The address of ``endpoint`` on this app, or None where this app does not serve that page."""
    if endpoint not in current_app.view_functions:
        return None
    try:
        return url_for(endpoint, **values)
    except BuildError:
        return None
