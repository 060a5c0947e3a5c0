"""Page language: Simplified Chinese by default, English on request, through Flask-Babel.

Each server marks its messages with gettext (``_()``, ``ngettext()``, ``lazy_gettext()`` for tables built at
import) and keeps its own catalogs as .po files beside its code (``pointkit/translations``,
``hub/translations``); English is the message id. This module holds what both servers share: choosing the
language, wiring Flask-Babel to that choice and to the county's clock, and compiling the .po files a source
checkout carries into the .mo files gettext reads (a wheel already carries them: setup.py).
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from urllib.parse import urlencode
from typing import Any

import pytz
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, Response, g, request
from flask_babel import Babel

from .workdays import COUNTY_TIMEZONE

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"
LANGUAGE_COOKIE = "lang"
# The page language as a Babel locale: the catalogs' folder names, and the rules dates and numbers follow.
BABEL_LOCALES = {"zh": "zh_Hans_CN", "en": "en"}
CATALOG_DOMAIN = "messages"

log = logging.getLogger(__name__)


def choose_language(query_value: str | None, cookie_value: str | None) -> str:
    """The language for this request: an explicit ?lang=, then the cookie, then Chinese."""
    for candidate in (query_value, cookie_value):
        if candidate in LANGUAGES:
            return candidate
    return DEFAULT_LANGUAGE


def county_timezone() -> pytz.BaseTzInfo:
    """The county's clock (sync/kit/workdays.py) in the form Flask-Babel converts times with."""
    offset = COUNTY_TIMEZONE.utcoffset(None)
    return pytz.FixedOffset(int(offset.total_seconds()) // 60)


def install_i18n(app: Flask, translations: Path) -> None:
    """Translate ``app``'s pages with the catalogs in ``translations``: the language is chosen per request
    (choose_language) and remembered in a cookie; dates are shown on the county's clock. Templates get ``_()``,
    ``ngettext()``, ``lang`` and ``lang_url()``."""
    directory = compile_catalogs(translations)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(directory))
    app.config.setdefault("BABEL_DEFAULT_LOCALE", BABEL_LOCALES[DEFAULT_LANGUAGE])
    Babel(app, locale_selector=lambda: BABEL_LOCALES[_page_language()], timezone_selector=county_timezone)

    @app.before_request
    def _choose_language() -> None:
        g.lang = choose_language(request.args.get("lang"), request.cookies.get(LANGUAGE_COOKIE))

    @app.after_request
    def _remember_language(response: Response) -> Response:
        asked = request.args.get("lang")
        if asked in LANGUAGES:
            response.set_cookie(LANGUAGE_COOKIE, asked, max_age=365 * 86400, samesite="Lax", httponly=True)
        return response

    @app.context_processor
    def _language_context() -> dict[str, Any]:
        return {"lang": _page_language(), "languages": LANGUAGES}

    app.jinja_env.globals["lang_url"] = lang_url


def lang_url(language: str) -> str:
    """This page's address in another language, keeping the other query arguments."""
    args = request.args.to_dict()
    args["lang"] = language
    return request.path + "?" + urlencode(args)


def _page_language() -> str:
    # g.lang is set before each request; an error page rendered before that still needs a language.
    if "lang" not in g:
        g.lang = choose_language(request.args.get("lang"), request.cookies.get(LANGUAGE_COOKIE))
    return g.lang


def compile_catalogs(translations: Path) -> Path:
    """The folder of compiled catalogs for the .po files under ``translations``: the same folder, after
    writing any .mo that is missing or older than its .po (a source checkout or an editable install carries
    only .po files; a wheel carries both). Where that folder cannot be written, the .mo files it already has
    are used, and only when some are missing are all compiled into a temporary folder."""
    stale = [po_path for po_path in sorted(translations.glob(f"*/LC_MESSAGES/{CATALOG_DOMAIN}.po"))
             if not _is_fresh(po_path.with_suffix(".mo"), po_path)]
    try:
        for po_path in stale:
            compile_catalog(po_path, po_path.with_suffix(".mo"))
        return translations
    except OSError as exc:
        if all(po_path.with_suffix(".mo").exists() for po_path in stale):
            log.info("cannot refresh the compiled catalogs in %s (%s); using the ones installed", translations, exc)
            return translations
        elsewhere = Path(tempfile.mkdtemp(prefix="pointkit-translations-"))
        log.warning("cannot write compiled catalogs beside %s (%s); compiling them into %s", translations, exc,
                    elsewhere)
        for po_path in sorted(translations.glob(f"*/LC_MESSAGES/{CATALOG_DOMAIN}.po")):
            compile_catalog(po_path, elsewhere / po_path.relative_to(translations).with_suffix(".mo"))
        return elsewhere


def _is_fresh(mo_path: Path, po_path: Path) -> bool:
    return mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime


def compile_catalog(po_path: Path, mo_path: Path) -> None:
    """Write ``po_path`` compiled to ``mo_path``, whole or not at all (servers and test workers may start
    together). Fuzzy entries are left out, as ``pybabel compile`` does."""
    with po_path.open("rb") as file:
        catalog = read_po(file, locale=po_path.parent.parent.name)
    mo_path.parent.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(dir=mo_path.parent, prefix=".", suffix=".mo")
    try:
        with os.fdopen(fd, "wb") as file:
            write_mo(file, catalog)
        os.replace(partial, mo_path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
