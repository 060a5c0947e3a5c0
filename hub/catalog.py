"""The service catalog (事项目录): import, version, sign, look items up.

An import that changes nothing makes no new version, so points re-fetch only
when there is something new. The importer takes a parsed ``CatalogFile``; a
CSV reader or a diff view can produce the same object later.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session, select

from sync import Identity, sign_document
from sync.catalog import CatalogFile, ServiceItem
from sync.messages import CATALOG_DOCUMENT_TYPE
from sync.web import validation_fields

from .audit import append_audit
from .db import iso, utc_now
from .models import CatalogItem, CatalogVersion, Department


class CatalogError(ValueError):
    """A catalog that cannot be imported; the message names the field."""


@dataclass(frozen=True)
class ImportResult:
    version: int
    changed: bool
    departments: int
    items: int


def load_catalog_file(path: Path) -> CatalogFile:
    """Read and validate a catalog JSON file."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise CatalogError(f"cannot read {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise CatalogError(f"{path} is not valid JSON: {exc}") from None
    try:
        return CatalogFile.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{field}: {message}" for field, message in validation_fields(exc).items())
        raise CatalogError(f"{path}: {problems}") from None


def check_catalog(catalog: CatalogFile) -> None:
    """Cross-field rules pydantic cannot express; raise CatalogError naming the field."""
    codes = [department.code for department in catalog.departments]
    if len(set(codes)) != len(codes):
        raise CatalogError("departments: department codes must be unique")
    item_codes = [item.code for item in catalog.items]
    if len(set(item_codes)) != len(item_codes):
        raise CatalogError("items: item codes must be unique")
    for index, item in enumerate(catalog.items):
        for code in item.departments:
            if code not in codes:
                raise CatalogError(f"items.{index}.departments: unknown department {code!r} (item {item.code})")
        if item.route == "single" and len(item.departments) != 1:
            raise CatalogError(f"items.{index}.route: a single route needs exactly one department (item {item.code})")
        if item.route != "single" and len(item.departments) < 2:
            raise CatalogError(f"items.{index}.route: a {item.route} route needs two or more departments "
                               f"(item {item.code})")
        if len(set(item.departments)) != len(item.departments):
            raise CatalogError(f"items.{index}.departments: a department is listed twice (item {item.code})")


def _content(catalog: CatalogFile) -> dict[str, Any]:
    return {
        "departments": [department.model_dump(mode="json") for department in catalog.departments],
        "items": [item.model_dump(mode="json") for item in catalog.items],
    }


def current_version(session: Session) -> CatalogVersion | None:
    return session.exec(select(CatalogVersion).order_by(CatalogVersion.version.desc()).limit(1)).first()


def import_catalog(session: Session, catalog: CatalogFile, *, identity: Identity, source: str = "",
                   actor: str = "cli") -> ImportResult:
    """Store ``catalog`` as a new signed version when it differs from the current one."""
    check_catalog(catalog)
    content = _content(catalog)
    for department in catalog.departments:
        row = session.get(Department, department.code) or Department(code=department.code, name_zh="", name_en="")
        row.name_zh, row.name_en = department.name_zh, department.name_en
        session.add(row)
    latest = current_version(session)
    if latest is not None:
        document = latest.signed["document"]
        if {"departments": document["departments"], "items": document["items"]} == content:
            return ImportResult(latest.version, False, len(catalog.departments), len(catalog.items))
    version = (latest.version if latest else 0) + 1
    document = {"type": CATALOG_DOCUMENT_TYPE, "version": version, "issued_at": iso(utc_now()), **content}
    session.add(CatalogVersion(version=version, signed=sign_document(document, identity.sign_key),
                               source=source[:200]))
    session.flush()
    for item in catalog.items:
        session.add(CatalogItem(code=item.code, version=version, name_zh=item.name_zh, name_en=item.name_en,
                                route=item.route, promised_days=item.promised_days,
                                item=item.model_dump(mode="json")))
    session.flush()
    append_audit(session, actor=actor, action="catalog_imported", subject=f"catalog:{version}",
                 detail={"version": version, "source": source[:200], "departments": len(catalog.departments),
                         "items": len(catalog.items)})
    return ImportResult(version, True, len(catalog.departments), len(catalog.items))


def find_item(session: Session, code: str) -> ServiceItem | None:
    """The newest catalog entry for ``code``, or None if the hub never had it."""
    row = session.exec(
        select(CatalogItem).where(CatalogItem.code == code).order_by(CatalogItem.version.desc()).limit(1)
    ).first()
    return ServiceItem.model_validate(row.item) if row else None

