"""The catalog pages: versions with what each changed, the items of a version, and an item's service guide."""

from __future__ import annotations

from flask import Blueprint, abort, render_template
from flask_babel import lazy_gettext
from sqlmodel import select

from sync.catalog import ServiceItem
from sync.kit.workdays import county_date

from hub.catalog.calendar import county_calendar, held_years, missing_next_year
from hub.catalog.versions import version_summary
from hub.core.clock import utc_now
from hub.core.models import CatalogVersion
from hub.web.auth import login_required
from hub.web.context import get_session

bp = Blueprint("catalog", __name__, url_prefix="/catalog")

CATALOG_WORDS = {
    "single": lazy_gettext("Single department"),
    "joint": lazy_gettext("Joint approval"),
    "staged": lazy_gettext("Staged"),
    "original": lazy_gettext("Original"),
    "copy": lazy_gettext("Copy"),
    "original_and_copy": lazy_gettext("Original and copy"),
    "county": lazy_gettext("County"),
    "township": lazy_gettext("Township"),
    "village": lazy_gettext("Village"),
}


@bp.app_template_filter("catalog_word")
def catalog_word(value: str) -> str:
    """A route, material form or level in the page's language."""
    return CATALOG_WORDS.get(value, value)


def _version_or_404(version: int) -> CatalogVersion:
    row = get_session().get(CatalogVersion, version)
    if row is None:
        abort(404)
    return row


def _previous(version: int) -> CatalogVersion | None:
    return get_session().exec(select(CatalogVersion).where(CatalogVersion.version < version)
                              .order_by(CatalogVersion.version.desc()).limit(1)).first()


@bp.get("")
@login_required()
def versions_page():
    """Every catalog version, newest first: when, from which file, how many items, what changed."""
    session = get_session()
    rows = session.exec(select(CatalogVersion).order_by(CatalogVersion.version)).all()
    summaries = [version_summary(row, rows[index - 1] if index else None) for index, row in enumerate(rows)]
    held = held_years(session)
    shipped = county_calendar(session)
    return render_template("catalog_versions.html", versions=list(reversed(summaries)), years=held,
                           shipped={year: shipped.sources.get(year, "") for year in sorted(shipped.years)
                                    if year not in {row.year for row in held}},
                           next_year_missing=missing_next_year(session, county_date(utc_now())))


@bp.get("/<int:version>")
@login_required()
def version_page(version: int):
    """The items of one version, and what it changed from the version before."""
    row = _version_or_404(version)
    document = row.signed["document"]
    return render_template("catalog_version.html", summary=version_summary(row, _previous(version)),
                           items=document["items"], departments=_department_names(document))


@bp.get("/<int:version>/items/<code>")
@login_required()
def guide_page(version: int, code: str):
    """An item's service guide (办事指南) with its 十公开 fields, as it stood in ``version``."""
    document = _version_or_404(version).signed["document"]
    entry = next((item for item in document["items"] if item["code"] == code), None)
    if entry is None:
        abort(404)
    return render_template("catalog_guide.html", version=version, item=ServiceItem.model_validate(entry),
                           departments=_department_names(document))


def _department_names(document: dict) -> dict[str, dict[str, str]]:
    return {entry["code"]: entry for entry in document["departments"]}
