"""The catalog pages: versions with what each changed, the items of a version, and an item's service guide."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, g, render_template
from flask_babel import gettext as _
from flask_babel import lazy_gettext, ngettext
from sqlmodel import select

from sync.catalog import ServiceItem
from sync.kit.workdays import county_date

from hub.catalog.calendar import county_calendar, held_years, missing_next_year
from hub.catalog.diff import CatalogChanges, FieldChange
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
    "working_days": lazy_gettext("working days"),
    "natural_days": lazy_gettext("natural days"),
    "text": lazy_gettext("text"),
    "id_number": lazy_gettext("ID number"),
    "phone": lazy_gettext("phone number"),
    "date": lazy_gettext("date"),
    "choice": lazy_gettext("choice"),
    "number": lazy_gettext("number"),
}

# The fields of an item, a department, a material and a form field, as a catalog change names them.
FIELD_WORDS = {
    "name_zh": lazy_gettext("Chinese name"),
    "name_en": lazy_gettext("English name"),
    "departments": lazy_gettext("Departments"),
    "department": lazy_gettext("Department"),
    "route": lazy_gettext("Route"),
    "legal_basis": lazy_gettext("Legal basis"),
    "conditions": lazy_gettext("Conditions"),
    "process": lazy_gettext("Process"),
    "legal_days": lazy_gettext("Legal limit (working days)"),
    "promised_days": lazy_gettext("Promised limit (working days)"),
    "fees": lazy_gettext("Fees"),
    "complaint_channel": lazy_gettext("Complaint channel"),
    "levels": lazy_gettext("Accepted at"),
    "deemed_approval": lazy_gettext("Deemed approval"),
    "materials": lazy_gettext("Materials"),
    "fields": lazy_gettext("Form fields"),
    "result_fields": lazy_gettext("Result fields"),
    "supplement_days": lazy_gettext("Supplement period"),
    "supplement_unit": lazy_gettext("Supplement period counts"),
    "form": lazy_gettext("Original or copy"),
    "copies": lazy_gettext("Copies"),
    "required": lazy_gettext("Required"),
    "seal_required": lazy_gettext("Signature or seal"),
    "note": lazy_gettext("What a correct one looks like"),
    "label_zh": lazy_gettext("Chinese label"),
    "label_en": lazy_gettext("English label"),
    "type": lazy_gettext("Type"),
    "choices": lazy_gettext("Choices"),
}


@bp.app_template_filter("catalog_word")
def catalog_word(value: str) -> str:
    """A route, material form or level in the page's language."""
    return CATALOG_WORDS.get(value, value)


@bp.app_template_filter("limit_days")
def limit_days(days: int) -> str:
    """A time limit in working days; a limit of 0 days is a same-day item (即办)."""
    return str(days) if days else _("Same day")


@bp.app_template_filter("limit_text")
def limit_text(days: int, unit: str = "working_days") -> str:
    """A time limit in words: "3 working days" or "60 days" (natural days, 日), or 即办 for a same-day item."""
    if not days:
        return _("Same day")
    if unit == "natural_days":
        return ngettext("%(num)s day", "%(num)s days", days)
    return ngettext("%(num)s working day", "%(num)s working days", days)


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
    previous = _previous(version)
    summary = version_summary(row, previous)
    return render_template("catalog_version.html", summary=summary, items=document["items"],
                           departments=_department_names(document),
                           changes=change_sections(summary["changes"], document,
                                                   previous.signed["document"] if previous else None))


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


def change_sections(changes: CatalogChanges, after: dict[str, Any], before: dict[str, Any] | None) -> list[dict]:
    """A version's changes as the page words them: one section per department or item, one line per field.

    The CLI prints ``CatalogChanges.lines()`` in English; the page says the same in its own language, with
    names instead of field paths and material codes."""
    names = _material_and_field_names(after, before)
    sections: list[dict] = []

    def item_names(code: str) -> dict[str, str]:
        return {**names, **_material_and_field_names(after, before, item_code=code)}

    for entry in changes.departments:
        state = _department_state(entry.fields)
        sections.append({"kind": "department", "heading": _("Department %(code)s %(name)s: %(state)s",
                                                            code=entry.code, name=entry.name,
                                                            state=CHANGE_STATES[state]),
                         "lines": [change_line(change, names) for change in entry.fields
                                   if change.path != "department"]})
    for kind, entries in (("added", changes.added), ("changed", changes.changed), ("withdrawn", changes.withdrawn)):
        sections += [{"kind": kind, "heading": _("%(code)s %(name)s: %(state)s", code=entry.code, name=entry.name,
                                                 state=CHANGE_STATES[kind]),
                      "lines": [change_line(change, item_names(entry.code)) for change in entry.fields]}
                     for entry in entries]
    return sections


CHANGE_STATES = {
    "added": lazy_gettext("new"),
    "changed": lazy_gettext("changed"),
    "withdrawn": lazy_gettext("withdrawn"),
}


def _department_state(fields: list[FieldChange]) -> str:
    whole = next((change for change in fields if change.path == "department"), None)
    if whole is None:
        return "changed"
    return "added" if whole.before is None else "withdrawn"


def _material_and_field_names(*documents: dict[str, Any] | None, item_code: str | None = None) -> dict[str, str]:
    """Department and material codes and form field names by their name in the page's language, from both
    versions (of one item's materials and fields with ``item_code``: items may use a code differently)."""
    chinese = g.get("lang", "zh") == "zh"
    names: dict[str, str] = {}
    for document in documents:
        for department in (document or {}).get("departments", []):
            names.setdefault(department["code"], department["name_zh"] if chinese else department["name_en"])
        for item in (document or {}).get("items", []):
            if item_code is not None and item["code"] != item_code:
                continue
            for material in item.get("materials", []):
                names.setdefault(material["code"], material["name_zh"] if chinese
                                 else material.get("name_en") or material["name_zh"])
            for spec in [*item.get("fields", []), *item.get("result_fields", [])]:
                names.setdefault(spec["name"], spec["label_zh"] if chinese else spec["label_en"])
    return names


def _field_name(path: str, names: dict[str, str]) -> str:
    """``materials.hukou.copies`` as "Materials “Household register”: Copies"."""
    order = path.endswith(" (order)")
    parts = path.removesuffix(" (order)").split(".")
    text = str(FIELD_WORDS.get(parts[0], parts[0]))
    if len(parts) > 1:
        text = _("%(list)s “%(name)s”", list=text, name=names.get(parts[1], parts[1]))
    if len(parts) > 2:
        text = _("%(what)s: %(field)s", what=text, field=FIELD_WORDS.get(parts[2], parts[2]))
    return _("%(what)s (order)", what=text) if order else text


def _value(value: Any, names: dict[str, str]) -> str:
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, list):
        return "、".join(_value(entry, names) for entry in value) if value else _("none")
    text = str(CATALOG_WORDS.get(value, value)) if isinstance(value, str) else str(value)
    text = names.get(text, text) if isinstance(value, str) else text
    return text if len(text) <= 60 else text[:57] + "…"


def change_line(change: FieldChange, names: dict[str, str]) -> str:
    """One changed field in the page's language."""
    what = _field_name(change.path, names)
    if change.before is None:
        return _("%(what)s: added", what=what)
    if change.after is None:
        return _("%(what)s: removed", what=what)
    if change.path in ("promised_days", "legal_days"):
        return _("%(what)s: %(before)s → %(after)s", what=what, before=limit_days(change.before),
                 after=limit_days(change.after))
    return _("%(what)s: %(before)s → %(after)s", what=what, before=_value(change.before, names),
             after=_value(change.after, names))
