"""Catalog files county staff edit: one JSON file, or four CSV tables in a folder or a .zip.

The CSV layout (docs/catalog.md) is what Excel opens and saves: one row per
department, item, material and form field, lists separated by ``;``, UTF-8
with or without a BOM. Every problem is reported with its file, line and
column, all at once, and nothing is imported while any remains.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from sync.catalog import CatalogFile, Department, FormField, Material, ProjectStage, ProjectTemplate, ServiceItem
from sync.kit.archives import ZIP_LIMITS, ArchiveRefused, BoundedZip, mib
from sync.kit.cells import spreadsheet_cell, spreadsheet_text, typed_text


class CatalogError(ValueError):
    """A catalog that cannot be imported; ``problems`` name where (file, line, field) and what to do."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


# (table, index, field) -> where a problem is, in the words of the file the catalog came from.
Locator = Callable[[str, int, str], str]


@dataclass
class CatalogSource:
    """A parsed catalog and how to name a place in the file it came from."""

    catalog: CatalogFile
    locate: Locator


TABLES = ("departments", "items", "materials", "fields", "projects")
# An item's renewal rule (sync/catalog.py Renewal) takes three columns of items.csv.
RENEWAL_COLUMNS = {"renewal_expiry_field": "expiry_field", "renewal_validity_field": "validity_field",
                   "renewal_years": "years"}
COLUMNS = {
    "departments": ["code", "name_zh", "name_en", "scope"],
    "items": ["code", "name_zh", "name_en", "departments", "route", "legal_basis", "conditions", "process",
              "legal_days", "promised_days", "fees", "complaint_channel", "levels", "deemed_approval",
              "supplement_days", "supplement_unit", "legal_unit", "promised_unit", "lead_department",
              "site_check_excluded", *RENEWAL_COLUMNS, "precheck", "certificate_type", "certificate_name_zh",
              "certificate_name_en"],
    "materials": ["item_code", "code", "name_zh", "name_en", "form", "copies", "required", "seal_required", "note",
                  "certificates"],
    "fields": ["item_code", "kind", "name", "label_zh", "label_en", "type", "required", "choices"],
    # One row per stage of a project template, in stage order.
    "projects": ["template", "template_name_zh", "template_name_en", "code", "name_zh", "name_en", "items",
                 "opens_early"],
}
REQUIRED_COLUMNS = {
    "departments": {"code", "name_zh", "name_en"},
    "items": {"code", "name_zh", "name_en", "departments", "legal_days", "promised_days", "levels"},
    "materials": {"item_code", "code", "name_zh"},
    "fields": {"item_code", "kind", "name", "label_zh", "label_en"},
    "projects": {"template", "template_name_zh", "template_name_en", "code", "name_zh", "name_en", "items"},
}
LIST_COLUMNS = {"departments", "levels", "choices", "items", "certificates"}
BOOL_COLUMNS = {"deemed_approval", "required", "seal_required", "site_check_excluded", "opens_early"}
FIELD_KINDS = {"field": "fields", "result": "result_fields"}
LIST_SEPARATOR = ";"
# A catalog file on disk (the JSON, or one CSV table) is held whole while it is read: the limit of one file in a
# zip (sync/kit/archives.py), far above any county's catalog.
MAX_FILE_BYTES = ZIP_LIMITS.max_member_bytes


def json_locator(table: str, index: int, field_name: str) -> str:
    return f"{table}.{index}.{field_name}" if field_name else f"{table}.{index}"


def _problems(error: ValidationError, where: Callable[[tuple], str]) -> list[str]:
    out = []
    for entry in error.errors():
        kind, context = entry["type"], entry.get("ctx") or {}
        if kind == "greater_than_equal":
            message = f"must be {context['ge']} or more"
        elif kind == "less_than_equal":
            message = f"must be at most {context['le']}"
        elif kind == "string_too_short":
            message = "must not be empty"
        elif kind == "missing":
            message = "is required"
        elif kind == "int_parsing":
            message = f"{entry['input']!r} is not a whole number"
        elif kind == "literal_error":
            message = f"{entry['input']!r} is not allowed; use {context['expected']}"
        elif kind == "bool_parsing":
            message = f"{entry['input']!r} is not yes or no"
        else:
            message = entry["msg"]
        out.append(f"{where(entry['loc'])}: {message}")
    return out


def check_catalog(catalog: CatalogFile, locate: Locator = json_locator, problems: list[str] | None = None) -> None:
    """Cross-field rules pydantic cannot express; raise CatalogError listing every problem (with ``problems``
    found before) where it is."""
    problems = list(problems or [])
    codes = [department.code for department in catalog.departments]
    for index, code in enumerate(codes):
        if code in codes[:index]:
            problems.append(f"{locate('departments', index, 'code')}: department {code} is listed twice")
    seen: set[str] = set()
    for index, item in enumerate(catalog.items):
        def where(name: str, index: int = index, code: str = item.code) -> str:
            return f"{locate('items', index, name)} (item {code})"
        if item.code in seen:
            problems.append(f"{where('code')}: item code {item.code} is listed twice; item codes must be unique")
        seen.add(item.code)
        for code in item.departments:
            if code not in codes:
                problems.append(f"{where('departments')}: unknown department {code!r}; add it to the departments "
                                f"or use one of {', '.join(codes)}")
        if len(set(item.departments)) != len(item.departments):
            problems.append(f"{where('departments')}: a department is listed twice")
        if item.route == "single" and len(item.departments) != 1:
            problems.append(f"{where('route')}: a single route needs exactly one department "
                            "(use joint or staged for several)")
        if item.route != "single" and len(item.departments) < 2:
            problems.append(f"{where('route')}: a {item.route} route needs two or more departments")
        if item.lead_department is not None and (item.route != "joint" or item.lead_department not in item.departments):
            problems.append(f"{where('lead_department')}: the lead department {item.lead_department!r} must be one "
                            "of the departments of a joint item")
        if item.renewal is not None:
            fields = {entry.name: entry for entry in item.fields}
            expiry = fields.get(item.renewal.expiry_field)
            if not item.deemed_approval:
                problems.append(f"{where('renewal')}: a renewal deemed granted needs deemed_approval true")
            if expiry is None or expiry.type != "date" or not expiry.required:
                problems.append(f"{where('renewal')}: the expiry field {item.renewal.expiry_field!r} must be a "
                                "required date field of the item")
            if item.renewal.validity_field not in {entry.name for entry in item.result_fields}:
                problems.append(f"{where('renewal')}: the validity field {item.renewal.validity_field!r} must be "
                                "one of the item's result fields")
        if item.promised_unit == item.legal_unit and item.promised_days > item.legal_days:
            problems.append(f"{where('promised_days')}: the promised limit ({item.promised_days}) is longer than "
                            f"the legal limit ({item.legal_days})")
        for name, entries, key in (("materials", item.materials, "code"), ("fields", item.fields, "name"),
                                   ("result_fields", item.result_fields, "name")):
            keys = [getattr(entry, key) for entry in entries]
            for twice in sorted({k for k in keys if keys.count(k) > 1}):
                problems.append(f"{where(name)}: {twice} is listed twice")
    problems.extend(_certificate_problems(catalog, locate))
    known = {item.code for item in catalog.items}
    for index, template in enumerate(catalog.projects):
        place = f"{locate('projects', index, 'code')} (project template {template.code})"
        listed = [code for stage in template.stages for code in stage.items]
        for code in sorted(set(listed)):
            if code not in known:
                problems.append(f"{place}: unknown item {code!r}; a stage lists items of this catalog")
            elif listed.count(code) > 1:
                problems.append(f"{place}: item {code} is in more than one stage")
        if template.stages[0].opens_early:
            problems.append(f"{place}: the first stage has no stage before it to open with")
    if problems:
        raise CatalogError(sorted(problems, key=_place_order))


def _certificate_problems(catalog: CatalogFile, locate: Locator) -> list[str]:
    """电子证照 rules: a certificate type has one name wherever it is issued, and a material accepts only types
    that some item issues."""
    problems: list[str] = []
    names: dict[str, tuple[str, str]] = {}
    for index, item in enumerate(catalog.items):
        where = f"{locate('items', index, 'certificate_type')} (item {item.code})"
        if item.certificate_type is None:
            if item.certificate_name_zh or item.certificate_name_en:
                problems.append(f"{where}: a certificate name needs a certificate_type")
            continue
        if not item.certificate_name_zh:
            problems.append(f"{where}: certificate type {item.certificate_type} needs certificate_name_zh, the "
                            "name the resident knows it by")
        named = (item.certificate_name_zh, item.certificate_name_en)
        if names.setdefault(item.certificate_type, named) != named:
            problems.append(f"{where}: certificate type {item.certificate_type} is named differently by another "
                            "item; give it one name")
    for index, item in enumerate(catalog.items):
        for material in item.materials:
            for kind in material.certificates:
                if kind not in names:
                    problems.append(f"{locate('items', index, 'materials')} (item {item.code}, material "
                                    f"{material.code}): certificate type {kind!r} is issued by no item; use one "
                                    f"of {', '.join(sorted(names)) or '(none yet)'}")
    return problems


def _place_order(problem: str) -> tuple[str, int]:
    """Sort key: file, then line number, so staff fix problems top to bottom."""
    where = problem.split(":", 1)[0]
    filename, _, rest = where.partition(" line ")
    digits = "".join(ch for ch in rest.split(",")[0] if ch.isdigit())
    return filename, int(digits) if digits else 0


def read_catalog(path: Path) -> CatalogSource:
    """Read a catalog from a .json file, a folder of CSV tables (or one CSV inside it), or a .zip of them."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        return _read_json(path)
    if path.suffix.lower() == ".csv":
        path = path.parent
    try:
        tables = _zip_tables(path) if path.suffix.lower() == ".zip" else _folder_tables(path)
    except OSError as exc:
        raise CatalogError([f"cannot read {path}: {exc.strerror or exc}"]) from None
    except (zipfile.BadZipFile, zlib.error, EOFError):
        raise CatalogError([f"{path} is not a zip file or is damaged; give a .json file, a folder of CSV files "
                            "or a .zip"]) from None
    except ArchiveRefused as exc:
        raise CatalogError([str(exc)]) from None
    return _parse_tables(tables)


def _read_bounded(path: Path) -> bytes:
    """The bytes of one catalog file, refused unread when larger than MAX_FILE_BYTES."""
    if path.stat().st_size > MAX_FILE_BYTES:
        raise CatalogError([f"{path.name} is larger than {mib(MAX_FILE_BYTES)}, the limit for a catalog file; "
                            "check that it is the right file"])
    return path.read_bytes()


def _read_json(path: Path) -> CatalogSource:
    try:
        raw = _read_bounded(path)
    except OSError as exc:
        raise CatalogError([f"cannot read {path}: {exc.strerror}"]) from None
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except ValueError as exc:
        raise CatalogError([f"{path} is not valid JSON: {exc}"]) from None
    try:
        catalog = CatalogFile.model_validate(data)
    except ValidationError as exc:
        raise CatalogError(_problems(exc, lambda loc: f"{path.name}: " + ".".join(map(str, loc)))) from None
    return CatalogSource(catalog, lambda table, index, name: f"{path.name}: {json_locator(table, index, name)}")


def _folder_tables(folder: Path) -> dict[str, bytes]:
    if not folder.is_dir():
        raise CatalogError([f"{folder} is neither a .json file, a folder of CSV files nor a .zip"])
    return {name: _read_bounded(folder / f"{name}.csv") for name in TABLES if (folder / f"{name}.csv").exists()}


def _zip_tables(path: Path) -> dict[str, bytes]:
    """The tables in a zip, inflated within the limits of sync/kit/archives.py (a bomb is refused, not read)."""
    with zipfile.ZipFile(path) as archive:
        bounded = BoundedZip(archive, path)
        found = {Path(info.filename).name: info for info in bounded.files()}
        return {name: bounded.read(found[f"{name}.csv"]) for name in TABLES if f"{name}.csv" in found}


def _rows(name: str, raw: bytes, problems: list[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """(line, row) for each non-blank row of table ``name``; header problems go to ``problems``."""
    filename = f"{name}.csv"
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        problems.append(f"{filename} line {line}: not UTF-8 text; in Excel save it as "
                        "\"CSV UTF-8 (逗号分隔)(*.csv)\"")
        return
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [column.strip() for column in next(reader, [])]
    unknown = [column for column in header if column and column not in COLUMNS[name]]
    missing = sorted(REQUIRED_COLUMNS[name] - set(header))
    if unknown:
        problems.append(f"{filename} line 1: unknown column(s) {', '.join(unknown)}; "
                        f"the columns are {', '.join(COLUMNS[name])}")
    if missing:
        problems.append(f"{filename} line 1: missing column(s) {', '.join(missing)}")
    if unknown or missing:
        return
    line = reader.line_num
    for cells in reader:
        start, line = line + 1, reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) > len(header):
            problems.append(f"{filename} line {start}: {len(cells)} cells but {len(header)} columns; "
                            "quote cells that contain commas")
            continue
        yield start, {column: typed_text(cell.strip()) for column, cell in zip(header, cells) if column}


def _cell_values(row: dict[str, str]) -> dict[str, Any]:
    """A row's non-empty cells as model input (empty cells take the model's default); the model checks types."""
    values: dict[str, Any] = {}
    for column, cell in row.items():
        if cell == "" or column in ("item_code", "kind"):
            continue
        if column in LIST_COLUMNS:
            values[column] = [part.strip() for part in cell.replace("；", LIST_SEPARATOR).split(LIST_SEPARATOR)
                              if part.strip()]
        elif column in BOOL_COLUMNS:
            values[column] = {"是": True, "否": False}.get(cell, cell)
        else:
            values[column] = cell
    return values


def _validated(model: type[BaseModel], values: dict[str, Any], where: Callable[[str], str],
               problems: list[str]) -> Any:
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        problems.extend(_problems(exc, lambda loc: where(str(loc[0]) if loc else "")))
        return None


def _parse_tables(tables: dict[str, bytes]) -> CatalogSource:
    problems: list[str] = []
    for name in ("departments", "items"):
        if name not in tables:
            problems.append(f"{name}.csv is missing; the catalog needs departments.csv and items.csv "
                            "(materials.csv, fields.csv and projects.csv are optional)")
    if problems:
        raise CatalogError(problems)

    def place(table: str, line: int) -> Callable[[str], str]:
        return lambda column: f"{table}.csv line {line}" + (f", {column}" if column else "")

    departments, department_lines = [], []
    for line, row in _rows("departments", tables["departments"], problems):
        where = place("departments", line)
        department = _validated(Department, _cell_values(row), where, problems)
        if department:
            departments.append(department)
            department_lines.append(line)
    items: dict[str, dict[str, Any]] = {}
    item_lines: dict[str, int] = {}
    for line, row in _rows("items", tables["items"], problems):
        code = row.get("code", "")
        if code in items:
            problems.append(f"items.csv line {line}, code: {code} is already on line {item_lines[code]}; "
                            "item codes must be unique")
            continue
        items[code] = _cell_values(row)
        renewal = {key: items[code].pop(column) for column, key in RENEWAL_COLUMNS.items() if column in items[code]}
        if renewal:
            items[code]["renewal"] = renewal
        item_lines[code] = line
        items[code].update(materials=[], fields=[], result_fields=[])
    for table, model in (("materials", Material), ("fields", FormField)):
        for line, row in _rows(table, tables.get(table, b""), problems):
            where = place(table, line)
            owner = items.get(row.get("item_code", ""))
            if owner is None:
                problems.append(f"{where('item_code')}: no item {row.get('item_code', '')!r} in items.csv")
                continue
            target = "materials"
            if table == "fields":
                target = FIELD_KINDS.get(row.get("kind", ""), "")
                if not target:
                    problems.append(f"{where('kind')}: must be field (collected at the window) or result "
                                    "(recorded by the department)")
                    continue
            entry = _validated(model, _cell_values(row), where, problems)
            if entry:
                owner[target].append(entry)
    parsed: list[ServiceItem] = []
    lines: list[int] = []
    for code, values in items.items():
        item = _validated(ServiceItem, values, place("items", item_lines[code]), problems)
        if item:
            parsed.append(item)
            lines.append(item_lines[code])
    templates: dict[str, dict[str, Any]] = {}
    template_lines: dict[str, int] = {}
    for line, row in _rows("projects", tables.get("projects", b""), problems):
        values = _cell_values(row)
        code = values.pop("template", "")
        template = templates.setdefault(code, {"code": code, "name_zh": values.pop("template_name_zh", ""),
                                               "name_en": values.pop("template_name_en", ""), "stages": []})
        template_lines.setdefault(code, line)
        for column in ("template_name_zh", "template_name_en"):
            values.pop(column, None)
        stage = _validated(ProjectStage, values, place("projects", line), problems)
        if stage:
            template["stages"].append(stage)
    projects: list[ProjectTemplate] = []
    project_lines: list[int] = []
    for code, values in templates.items():
        template = _validated(ProjectTemplate, values, place("projects", template_lines[code]), problems)
        if template:
            projects.append(template)
            project_lines.append(template_lines[code])
    line_of = {"departments": department_lines, "items": lines, "projects": project_lines}
    source = CatalogSource(CatalogFile(departments=departments, items=parsed, projects=projects),
                           lambda table, index, name: place(table, line_of[table][index])(name))
    check_catalog(source.catalog, source.locate, problems)
    return source


# --- writing ------------------------------------------------------------------------------------------------------

def _cell(value: Any) -> object:
    """A catalog value as Excel should show it and never run it (sync/kit/cells.py; the import reads it back)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return spreadsheet_text(LIST_SEPARATOR.join(map(str, value)))
    return spreadsheet_cell(value)


def csv_tables(document: dict[str, Any]) -> dict[str, str]:
    """The CSV tables of a catalog document, as text for Excel (written with a BOM by the caller)."""
    rows: dict[str, list[dict[str, Any]]] = {
        "departments": document["departments"],
        "items": [{**item, **({column: item["renewal"][key] for column, key in RENEWAL_COLUMNS.items()}
                              if item.get("renewal") else {})} for item in document["items"]],
        "materials": [{"item_code": item["code"], **material}
                      for item in document["items"] for material in item["materials"]],
        "fields": [{"item_code": item["code"], "kind": kind, **entry}
                   for item in document["items"] for kind, key in FIELD_KINDS.items() for entry in item[key]],
        "projects": [{"template": template["code"], "template_name_zh": template["name_zh"],
                      "template_name_en": template["name_en"], **stage}
                     for template in document.get("projects", []) for stage in template["stages"]],
    }
    out = {}
    for name in TABLES:
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(COLUMNS[name])
        writer.writerows([_cell(row.get(column, "")) for column in COLUMNS[name]] for row in rows[name])
        out[name] = buffer.getvalue()
    return out


def write_csv(document: dict[str, Any], target: Path) -> list[str]:
    """Write the tables into folder ``target`` (made if missing) or, when it ends in .zip, a zip; return names."""
    tables = {f"{name}.csv": text.encode("utf-8-sig") for name, text in csv_tables(document).items()}
    if target.suffix.lower() == ".zip":
        with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, data in tables.items():
                archive.writestr(name, data)
        return [str(target)]
    target.mkdir(parents=True, exist_ok=True)
    for name, data in tables.items():
        (target / name).write_bytes(data)
    return [str(target / name) for name in tables]
