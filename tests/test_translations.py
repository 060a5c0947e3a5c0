"""The pages' gettext catalogs: every message the code marks has its Chinese text, every message is marked where
extraction sees it, and Flask-Babel picks the language, the plural form and the county's clock."""

from __future__ import annotations

import ast
from datetime import datetime, timezone
from pathlib import Path

import jinja2
import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from flask import Flask, render_template_string
from flask_babel import format_datetime, format_decimal, gettext, ngettext
from jinja2 import nodes

from sync.kit.i18n import install_i18n

ROOT = Path(__file__).resolve().parent.parent
APPS = ("pointkit", "hub")
# Pages both apps serve (the residents' site, sync/kit/residents): their messages are in each app's catalogs.
SHARED = ("sync/kit/residents",)
# Where each app keeps its catalogs (the hub's pages are its web layer).
CATALOGS = {"pointkit": ROOT / "pointkit" / "translations", "hub": ROOT / "hub" / "web" / "translations"}
# What `pybabel extract -k lazy_gettext` looks for (docs/translations.md).
KEYWORDS = {**DEFAULT_KEYWORDS, "lazy_gettext": None}
# A message function and the positions of its arguments that must be message ids written out.
MESSAGE_ARGUMENTS = {"_": (0,), "gettext": (0,), "lazy_gettext": (0,), "ngettext": (0, 1)}


def extracted(app: str) -> dict[str | tuple[str, ...], list[str]]:
    """What ``pybabel extract -F babel.cfg -k lazy_gettext APP sync/kit/residents`` collects: message id -> where it is used."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as file:
        method_map, options_map = parse_mapping_cfg(file)
    found: dict[str | tuple[str, ...], list[str]] = {}
    for source in (app, *SHARED):
        for filename, lineno, message, _comments, _context in extract_from_dir(
                ROOT / source, method_map, options_map, keywords=KEYWORDS):
            found.setdefault(message, []).append(f"{source}/{filename}:{lineno}")
    return found


def chinese_catalog(app: str):
    with (CATALOGS[app] / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po").open("rb") as file:
        return read_po(file)


@pytest.mark.parametrize("app", APPS)
def test_every_marked_message_has_chinese(app):
    messages = extracted(app)
    assert len(messages) > 200
    catalog = chinese_catalog(app)
    missing = []
    for message, where in messages.items():
        entry = catalog.get(message[0] if isinstance(message, tuple) else message)
        strings = () if entry is None else (entry.string if isinstance(entry.string, tuple) else (entry.string,))
        if entry is None or entry.fuzzy or not all(strings) or isinstance(message, tuple) != entry.pluralizable:
            missing.append(f"{where[0]}: {message!r}")
    assert missing == [], f"add these to {CATALOGS[app].relative_to(ROOT)}/zh_Hans_CN/LC_MESSAGES/messages.po (docs/translations.md)"


@pytest.mark.parametrize("app", APPS)
def test_chinese_catalog_has_no_stale_or_mismatched_entries(app):
    catalog = chinese_catalog(app)
    used = {message[0] if isinstance(message, tuple) else message for message in extracted(app)}
    stale = [entry.id for entry in catalog
             if entry.id and (entry.id[0] if entry.pluralizable else entry.id) not in used]
    assert stale == [], "no code marks these any more: remove them (pybabel update does)"
    # The placeholders of each translation are those of its message id (%(name)s), as `pybabel compile` checks.
    problems = [(entry.id, errors) for entry, errors in catalog.check()]
    assert problems == []


def _message_calls_in_python(path: Path) -> list[int]:
    """The lines of ``path`` that call a message function with something other than a written-out message id."""
    refused = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in MESSAGE_ARGUMENTS:
            for position in MESSAGE_ARGUMENTS[node.func.id]:
                argument = node.args[position] if len(node.args) > position else None
                if not (isinstance(argument, ast.Constant) and isinstance(argument.value, str)):
                    refused.append(node.lineno)
    return refused


def _message_calls_in_template(path: Path, environment: jinja2.Environment) -> list[int]:
    """The same for a Jinja template."""
    refused = []
    tree = environment.parse(path.read_text(encoding="utf-8"))
    for call in tree.find_all(nodes.Call):
        if isinstance(call.node, nodes.Name) and call.node.name in MESSAGE_ARGUMENTS:
            for position in MESSAGE_ARGUMENTS[call.node.name]:
                argument = call.args[position] if len(call.args) > position else None
                if not (isinstance(argument, nodes.Const) and isinstance(argument.value, str)):
                    refused.append(call.lineno)
    return refused


def test_every_message_is_written_out_where_extraction_sees_it():
    """``_(variable)`` hides a message from pybabel: tables hold lazy_gettext("...") and are looked up instead."""
    environment = jinja2.Environment(extensions=["jinja2.ext.i18n"])
    refused = []
    for package in (*APPS, "sync"):
        for path in sorted((ROOT / package).rglob("*.py")):
            refused += [f"{path.relative_to(ROOT)}:{line}" for line in _message_calls_in_python(path)]
        for path in sorted((ROOT / package).rglob("templates/**/*.html")):
            refused += [f"{path.relative_to(ROOT)}:{line}" for line in _message_calls_in_template(path, environment)]
    assert refused == []


def test_the_checks_refuse_a_computed_message(tmp_path):
    (tmp_path / "page.py").write_text('reason = "timed out"\nshown = _(reason)\nfine = _("Sync")\n'
                                      'plural = ngettext("%(num)s copy", plural_text, 2)\n', encoding="utf-8")
    (tmp_path / "page.html").write_text("{{ _(reason) }} {{ _('Sync') }} {{ ngettext('a', b, 2) }}", encoding="utf-8")
    assert _message_calls_in_python(tmp_path / "page.py") == [2, 4]
    environment = jinja2.Environment(extensions=["jinja2.ext.i18n"])
    assert _message_calls_in_template(tmp_path / "page.html", environment) == [1, 1]


@pytest.fixture
def page_app(tmp_path):
    """A bare app on the point's catalogs, compiled into a copy (as a fresh checkout compiles them at start)."""
    translations = tmp_path / "translations"
    for po in (ROOT / "pointkit" / "translations").glob("*/LC_MESSAGES/messages.po"):
        target = translations / po.relative_to(ROOT / "pointkit" / "translations")
        target.parent.mkdir(parents=True)
        target.write_bytes(po.read_bytes())
    app = Flask(__name__)
    install_i18n(app, translations)
    compiled = sorted(path.parent.parent.name for path in translations.glob("*/LC_MESSAGES/messages.mo"))
    assert compiled == ["en", "zh_Hans_CN"]
    return app


def test_chinese_by_default_english_on_request_and_remembered(page_app):
    page_app.add_url_rule("/", "page", lambda: gettext("Sync"))
    client = page_app.test_client()
    assert client.get("/").text == "同步"
    answer = client.get("/?lang=en")
    assert answer.text == "Sync" and "lang=en" in answer.headers["Set-Cookie"]
    assert client.get("/").text == "Sync"
    assert client.get("/?lang=zh").text == "同步"


def test_plural_forms_follow_the_language(page_app):
    with page_app.test_request_context("/?lang=en"):
        page_app.preprocess_request()
        assert [ngettext("%(num)s copy", "%(num)s copies", n) for n in (0, 1, 2)] == ["0 copies", "1 copy", "2 copies"]
        assert render_template_string("{{ ngettext('%(num)s copy', '%(num)s copies', 1) }}") == "1 copy"
    with page_app.test_request_context("/"):
        page_app.preprocess_request()
        assert ngettext("%(num)s copy", "%(num)s copies", 2) == "2份"
        assert render_template_string("{{ ngettext('%(num)s copy', '%(num)s copies', 1) }}") == "1份"


def test_dates_and_numbers_are_in_the_readers_locale_on_the_county_clock(page_app):
    evening_utc = datetime(2026, 12, 31, 17, 5, tzinfo=timezone.utc)
    with page_app.test_request_context("/"):
        page_app.preprocess_request()
        assert format_datetime(evening_utc, "yyyy-MM-dd HH:mm") == "2027-01-01 01:05"
        assert format_datetime(evening_utc, "long").startswith("2027年1月1日")
        assert format_decimal(1234.5) == "1,234.5"
    with page_app.test_request_context("/?lang=en"):
        page_app.preprocess_request()
        assert format_datetime(evening_utc, "long").startswith("January 1, 2027")
