"""The service catalog format: what the hub authors, signs and sends to points."""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from sync.canonical import canonical_json

Level = Literal["county", "township", "village"]
FieldType = Literal["text", "id_number", "phone", "date", "choice", "number"]
# How a period is counted: working days on the county calendar (工作日) or calendar days (自然日).
DayUnit = Literal["working_days", "natural_days"]
# The 补正 return period when an item names none: 15 working days (three weeks) lets a resident get a document
# from another office and come back to a village window, without leaving a paused case standing for months.
DEFAULT_SUPPLEMENT_DAYS = 15
DEFAULT_SUPPLEMENT_UNIT: DayUnit = "working_days"
# The most fields and materials one item may have (the point's intake API takes as many; a real item has a few):
# a case's form and materials lists are bounded by them wherever they travel (sync/messages.py).
MAX_ITEM_FIELDS = 50
MAX_ITEM_MATERIALS = 50

class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")

# 行政许可法 第四十五条: the special procedures (特别程序) whose time does not count against an item's limits.
# 现场核查 (site_check) counts only where the item's rule says so (ServiceItem.site_check_excluded).
SPECIAL_PROCEDURES = ("hearing", "tender", "auction", "inspection", "testing", "quarantine", "appraisal",
                      "expert_review", "publicity", "site_check")
SpecialProcedure = Literal["hearing", "tender", "auction", "inspection", "testing", "quarantine", "appraisal",
                           "expert_review", "publicity", "site_check"]


class Department(_Model):
    """主管部门: an authority that decides items."""

    code: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")
    name_zh: str = Field(min_length=1, max_length=64)
    name_en: str = Field(min_length=1, max_length=128)
    # Protocol 4. "township": the department exists once per township (乡镇人民政府); each of its reviewers belongs
    # to one township and sees only the cases of that township's points and villages.
    scope: Literal["county", "township"] = "county"

    def document_entry(self) -> dict[str, Any]:
        """The department as a catalog document holds it (``scope`` only when it is not the default)."""
        return self.model_dump(mode="json", exclude={"scope"} if self.scope == "county" else set())

class Material(_Model):
    """申请材料: one document an item asks for."""

    code: str = Field(min_length=1, max_length=32)
    name_zh: str = Field(min_length=1, max_length=128)
    name_en: str = Field(default="", max_length=200)
    form: Literal["original", "copy", "original_and_copy"] = "original"
    copies: int = Field(default=1, ge=0, le=20)
    required: bool = True
    seal_required: bool = False  # signed or sealed (签字/盖章) by the applicant or an issuing body
    note: str = Field(default="", max_length=500)  # what a correct one looks like
    # Protocol 5 (电子证照, 免提交): the certificate types (ServiceItem.certificate_type codes) whose valid
    # e-certificate in the hub's register stands in for this material, so the resident need not hand it over.
    certificates: list[str] = Field(default_factory=list, max_length=8)

class FormField(_Model):
    """One value the window collects beyond the applicant's name, ID and phone."""

    name: str = Field(min_length=1, max_length=32, pattern=r"^[a-z][a-z0-9_]*$")
    label_zh: str = Field(min_length=1, max_length=64)
    label_en: str = Field(min_length=1, max_length=128)
    type: FieldType = "text"
    required: bool = False
    choices: list[str] = Field(default_factory=list)

class Renewal(_Model):
    """视为准予延续 (行政许可法 第五十条): a renewal not decided before the licence expires counts as granted on the
    expiry date, for ``years`` more. ``expiry_field`` is the form field (a date) holding the licence's current
    expiry; ``validity_field`` the result field the deemed result fills with the new validity date."""

    expiry_field: str = Field(min_length=1, max_length=32)
    validity_field: str = Field(min_length=1, max_length=32)
    years: int = Field(ge=1, le=30)


class ServiceItem(_Model):
    """政务服务事项 with its 十公开 guide fields."""

    code: str = Field(min_length=1, max_length=64)
    name_zh: str = Field(min_length=1, max_length=128)
    name_en: str = Field(min_length=1, max_length=200)
    departments: list[str] = Field(min_length=1)
    route: Literal["single", "joint", "staged"] = "single"
    legal_basis: str = Field(default="", max_length=1000)
    conditions: str = Field(default="", max_length=2000)
    process: str = Field(default="", max_length=2000)
    legal_days: int = Field(ge=0, le=365)
    promised_days: int = Field(ge=0, le=365)
    fees: str = Field(default="免费", max_length=200)
    complaint_channel: str = Field(default="12345", max_length=200)
    levels: list[Level] = Field(min_length=1)
    deemed_approval: bool = False
    materials: list[Material] = Field(default_factory=list, max_length=MAX_ITEM_MATERIALS)
    fields: list[FormField] = Field(default_factory=list, max_length=MAX_ITEM_FIELDS)
    # What a department records when it approves (certificate number, validity, ...); printed on the result.
    result_fields: list[FormField] = Field(default_factory=list, max_length=MAX_ITEM_FIELDS)
    # Protocol 3: how long the resident has to bring what a 补正 asks for, counted from the day after the request
    # in the unit the item's rule uses; past it the application counts as withdrawn (docs/catalog.md).
    supplement_days: int = Field(default=DEFAULT_SUPPLEMENT_DAYS, ge=1, le=365)
    supplement_unit: DayUnit = DEFAULT_SUPPLEMENT_UNIT
    # Protocol 4: the unit each limit counts in, as the item's rule states it (工作日 or 日, natural days).
    legal_unit: DayUnit = "working_days"
    promised_unit: DayUnit = "working_days"
    # Protocol 4: a joint item's lead department (牵头部门), one of ``departments``: it opens the joint review,
    # sees every department's opinion and issues the combined result.
    lead_department: str | None = Field(default=None, max_length=32)
    # Protocol 4: whether the item's rule excludes 现场核查 from the limits like the 第四十五条 procedures.
    site_check_excluded: bool = False
    # Protocol 4: a renewal deemed granted at the licence's expiry (第五十条); needs ``deemed_approval``.
    renewal: Renewal | None = None
    # Protocol 5 (网上预审): who answers a resident's pre-check of this item: a clerk at the point she chose, or
    # the item's (lead) department at the hub.
    precheck: Literal["point", "department"] = "point"
    # Protocol 5 (电子证照): an approval of this item issues a licence or certificate of this type, which the hub
    # enters in its certificate register; materials of other items name the type to accept it instead of paper.
    certificate_type: str | None = Field(default=None, max_length=32, pattern=r"^[a-z][a-z0-9_]*$")
    certificate_name_zh: str = Field(default="", max_length=64)
    certificate_name_en: str = Field(default="", max_length=128)

    def document_entry(self) -> dict[str, Any]:
        """The item as a catalog document holds it: the fields added since protocol 2 only when they differ
        from the default, so a catalog that does not use them stays byte for byte what older points read."""
        fields = type(self).model_fields
        defaults = {name for name in PROTOCOL_3_ITEM_FIELDS | PROTOCOL_4_ITEM_FIELDS | PROTOCOL_5_ITEM_FIELDS
                    if getattr(self, name) == fields[name].default}
        entry = self.model_dump(mode="json", exclude=defaults)
        for material in entry["materials"]:
            if not material["certificates"]:
                del material["certificates"]
        return entry


class ProjectStage(_Model):
    """One stage of an investment project (立项用地规划许可, 工程建设许可, ...): the items it needs."""

    code: str = Field(min_length=1, max_length=32, pattern=r"^[a-z][a-z0-9_]*$")
    name_zh: str = Field(min_length=1, max_length=64)
    name_en: str = Field(min_length=1, max_length=128)
    items: list[str] = Field(min_length=1)
    # The stage may open together with the one before it instead of waiting for it to finish.
    opens_early: bool = False


class ProjectTemplate(_Model):
    """A kind of investment project (Protocol 4, hub-owned): the approvals it needs, stage by stage."""

    code: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")
    name_zh: str = Field(min_length=1, max_length=64)
    name_en: str = Field(min_length=1, max_length=128)
    stages: list[ProjectStage] = Field(min_length=1)

class CatalogFile(_Model):
    """What ``pointkit-hub catalog import`` reads (JSON form)."""

    note: str = Field(default="", max_length=1000)
    departments: list[Department]
    items: list[ServiceItem]
    projects: list[ProjectTemplate] = Field(default_factory=list)


# --- versions and deltas ------------------------------------------------------------------------------------------
#
# A catalog version is the hub-signed document {type, version, issued_at, departments, items} with departments
# and items in code order, so a point that applies a delta rebuilds the very bytes the hub signed. A delta carries
# the changed and new items, the withdrawn codes, every department (a dozen rows), the digest of the full
# document it leads to and the hub's signature of that document: the point ends up holding the signed version
# itself, exactly as if it had fetched it whole.

CATALOG_DELTA_TYPE = "pointkit.catalog-delta/v1"


class CatalogDeltaError(ValueError):
    """A delta that does not apply to the document at hand."""


def in_code_order(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with departments and items sorted by code: the order every signed version uses."""
    return {**document, "departments": sorted(document["departments"], key=lambda entry: entry["code"]),
            "items": sorted(document["items"], key=lambda entry: entry["code"])}


def catalog_digest(document: dict[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of a full catalog document."""
    return hashlib.sha256(canonical_json(document)).hexdigest()


def make_delta(base: dict[str, Any], current: dict[str, Any], current_signature: str) -> dict[str, Any]:
    """The delta document that turns version ``base`` into ``current`` (both full documents in code order)."""
    old = {item["code"]: item for item in base["items"]}
    new_codes = {item["code"] for item in current["items"]}
    return {
        "type": CATALOG_DELTA_TYPE,
        "base_version": base["version"],
        "version": current["version"],
        "issued_at": current["issued_at"],
        "departments": current["departments"],
        "items": [item for item in current["items"] if old.get(item["code"]) != item],
        "withdrawn": sorted(code for code in old if code not in new_codes),
        **({"projects": current["projects"]} if "projects" in current else {}),
        "digest": catalog_digest(current),
        "signature": current_signature,
    }


def apply_delta(base: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    """The full document ``delta`` leads to from ``base``; CatalogDeltaError if it does not rebuild it exactly."""
    if delta.get("base_version") != base.get("version"):
        raise CatalogDeltaError(f"the delta starts at version {delta.get('base_version')}, "
                                f"this point holds version {base.get('version')}")
    try:
        items = {item["code"]: item for item in base["items"]}
        for code in delta["withdrawn"]:
            items.pop(code, None)
        items.update({item["code"]: item for item in delta["items"]})
        document = in_code_order({"type": base["type"], "version": delta["version"], "issued_at": delta["issued_at"],
                                  "departments": delta["departments"], "items": list(items.values()),
                                  **({"projects": delta["projects"]} if "projects" in delta else {})})
    except (KeyError, TypeError) as exc:
        raise CatalogDeltaError(f"the delta is malformed ({exc})") from None
    if catalog_digest(document) != delta["digest"]:
        raise CatalogDeltaError(f"applying the delta does not rebuild version {delta['version']} (digest differs)")
    return document


# The fields a protocol-1 point's catalog model knows; it refuses any other, so the hub serves it this view.
PROTOCOL_1_FIELDS = {
    "department": {"code", "name_zh", "name_en"},
    "material": {"code", "name_zh", "name_en", "form", "copies", "required", "note"},
    "field": {"name", "label_zh", "label_en", "type", "required", "choices"},
    "item": {"code", "name_zh", "name_en", "departments", "route", "legal_basis", "conditions", "process",
             "legal_days", "promised_days", "fees", "complaint_channel", "levels", "deemed_approval", "materials",
             "fields"},
    "document": {"type", "version", "issued_at", "departments", "items"},
}


# The item fields added in protocol 3; a protocol-2 point's catalog model refuses them.
PROTOCOL_3_ITEM_FIELDS = frozenset({"supplement_days", "supplement_unit"})
# The fields added in protocol 4 (limit units, lead departments, renewals, township departments, project templates).
PROTOCOL_4_ITEM_FIELDS = frozenset({"legal_unit", "promised_unit", "lead_department", "site_check_excluded",
                                    "renewal"})
PROTOCOL_4_DEPARTMENT_FIELDS = frozenset({"scope"})
PROTOCOL_4_DOCUMENT_FIELDS = frozenset({"projects"})
# The fields added in protocol 5 (the residents' side: pre-check reviewers, certificate types, 免提交 materials).
PROTOCOL_5_ITEM_FIELDS = frozenset({"precheck", "certificate_type", "certificate_name_zh", "certificate_name_en"})
PROTOCOL_5_MATERIAL_FIELDS = frozenset({"certificates"})


def catalog_view(document: dict, protocol: int) -> dict:
    """A catalog document as a point speaking ``protocol`` can read it (the same document when it reads it all)."""
    if protocol <= 1:
        return protocol_1_view(document)
    if protocol >= 5:
        return document
    document = _without_protocol_5(document)
    if protocol == 4:
        return document
    dropped = PROTOCOL_4_ITEM_FIELDS | (PROTOCOL_3_ITEM_FIELDS if protocol == 2 else frozenset())
    items, departments = document.get("items", []), document.get("departments", [])
    if not (any(dropped & item.keys() for item in items)
            or any(PROTOCOL_4_DEPARTMENT_FIELDS & entry.keys() for entry in departments)
            or PROTOCOL_4_DOCUMENT_FIELDS & document.keys()):
        return document
    return {**{key: value for key, value in document.items() if key not in PROTOCOL_4_DOCUMENT_FIELDS},
            "items": [{key: value for key, value in item.items() if key not in dropped} for item in items],
            "departments": [{key: value for key, value in entry.items() if key not in PROTOCOL_4_DEPARTMENT_FIELDS}
                            for entry in departments]}


def _without_protocol_5(document: dict) -> dict:
    """``document`` without the protocol-5 item and material fields (the same object when it has none)."""
    items = document.get("items", [])
    if not any(PROTOCOL_5_ITEM_FIELDS & item.keys()
               or any(PROTOCOL_5_MATERIAL_FIELDS & material.keys() for material in item.get("materials", []))
               for item in items):
        return document
    return {**document, "items": [
        {**{key: value for key, value in item.items() if key not in PROTOCOL_5_ITEM_FIELDS},
         **({"materials": [{key: value for key, value in material.items() if key not in PROTOCOL_5_MATERIAL_FIELDS}
                           for material in item["materials"]]} if "materials" in item else {})}
        for item in items]}


def protocol_1_view(document: dict) -> dict:
    """A catalog document as a protocol-1 point can read it (fields added since left out)."""
    def keep(entry: dict, kind: str) -> dict:
        return {key: value for key, value in entry.items() if key in PROTOCOL_1_FIELDS[kind]}

    items = [{**keep(item, "item"),
              "materials": [keep(material, "material") for material in item.get("materials", [])],
              "fields": [keep(field, "field") for field in item.get("fields", [])]}
             for item in document.get("items", [])]
    return {**keep(document, "document"), "items": items,
            "departments": [keep(department, "department") for department in document.get("departments", [])]}
