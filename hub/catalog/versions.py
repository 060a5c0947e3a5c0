"""The service catalog (事项目录): import, version, sign, distribute by deltas, look items up.

An import that changes nothing makes no new version, so points re-fetch only
when there is something new; items missing from an import are withdrawn in
the version it makes. Every version is a hub-signed document with departments
and items in code order; a point that holds an older version gets a signed
delta to the current one (sync/catalog.py), or the whole document when it has
none or is too far behind for a delta to be smaller.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam
from sqlmodel import Session, func, select

from sync.catalog import CatalogFile, ServiceItem, catalog_view, in_code_order, make_delta
from sync.envelope import PROTOCOL_VERSION
from sync.keys import Identity
from sync.messages import CATALOG_DOCUMENT_TYPE
from sync.resumable import pack_json
from sync.signing import sign_document

from hub.catalog.diff import CatalogChanges, FieldChange, diff_documents, diff_entries
from hub.catalog.files import CatalogError, Locator, check_catalog, json_locator, read_catalog, write_csv
from hub.core.audit import append_audit
from hub.core.clock import iso, utc_now
from hub.core.db import transaction_memo
from hub.core.models import CatalogItem, CatalogVersion, Department

# Keys of what a transaction remembers of the catalog (hub.core.db.transaction_memo).
_VERSION, _ITEM = "catalog_version", "catalog_item"

__all__ = ["CatalogError", "ImportResult", "catalog_answer", "check_catalog", "current_version", "export_catalog",
           "find_item", "import_catalog", "load_catalog_file", "outdated_item_change", "outdated_item_note",
           "packed_catalog_answer",
           "version_document", "version_summary"]


@dataclass(frozen=True)
class ImportResult:
    version: int
    changed: bool
    departments: int
    items: int
    changes: CatalogChanges = field(default_factory=CatalogChanges)


def load_catalog_file(path: Path) -> CatalogFile:
    """Read and validate a catalog file (JSON, or CSV tables in a folder or .zip)."""
    return read_catalog(path).catalog


def _content(catalog: CatalogFile) -> dict[str, Any]:
    return in_code_order({
        "departments": [department.document_entry() for department in catalog.departments],
        "items": [item.document_entry() for item in catalog.items],
        **({"projects": [template.model_dump(mode="json") for template in catalog.projects]}
           if catalog.projects else {}),
    })


def current_version(session: Session) -> CatalogVersion | None:
    return session.exec(select(CatalogVersion).order_by(CatalogVersion.version.desc()).limit(1)).first()


def current_version_number(session: Session) -> int | None:
    """The current version's number alone (without reading its whole signed document); read once per
    transaction (ingest asks for every case it applies)."""
    memo = transaction_memo(session)
    if _VERSION not in memo:
        memo[_VERSION] = session.exec(_LATEST_VERSION).one()
    return memo[_VERSION]


# Built once: ingest asks in every transaction, and building a statement costs more than running it.
_LATEST_VERSION = select(func.max(CatalogVersion.version))
_NEWEST_ITEM = (select(CatalogItem.id, CatalogItem.item).where(CatalogItem.code == bindparam("code"))
                .order_by(CatalogItem.version.desc()).limit(1))
# CatalogItem id -> the item read: a stored version's items never change.
_ITEMS_READ: dict[uuid.UUID, ServiceItem] = {}
# (held version, current version, signing key, deltas, protocol) -> the packed answer: the same bytes every time (canonical
# JSON, deterministic signatures), and every village resuming a cut download asks for them again.
_PACKED: dict[tuple[int | None, int, str, bool, int], bytes] = {}
PACKED_KEPT = 32


def version_document(session: Session, version: int) -> dict[str, Any] | None:
    row = session.get(CatalogVersion, version)
    return row.signed["document"] if row else None


def import_catalog(session: Session, catalog: CatalogFile, *, identity: Identity, source: str = "",
                   actor: str = "cli", locate: Locator = json_locator, dry_run: bool = False) -> ImportResult:
    """Store ``catalog`` as a new signed version when it differs from the current one (nothing when ``dry_run``)."""
    check_catalog(catalog, locate)
    content = _content(catalog)
    latest = current_version(session)
    before = in_code_order(latest.signed["document"]) if latest else None
    changes = diff_documents(before, content)
    counts = (len(catalog.departments), len(catalog.items))
    if before is not None and not changes:
        return ImportResult(latest.version, False, *counts)
    version = (latest.version if latest else 0) + 1
    if dry_run:
        return ImportResult(version, True, *counts, changes)
    for department in catalog.departments:
        row = session.get(Department, department.code) or Department(code=department.code, name_zh="", name_en="")
        row.name_zh, row.name_en, row.scope = department.name_zh, department.name_en, department.scope
        session.add(row)
    memo = transaction_memo(session)
    for key in [key for key in memo if key == _VERSION or (isinstance(key, tuple) and key[0] == _ITEM)]:
        del memo[key]  # what this transaction read of the catalog is about to change
    document = {"type": CATALOG_DOCUMENT_TYPE, "version": version, "issued_at": iso(utc_now()), **content}
    session.add(CatalogVersion(version=version, signed=sign_document(document, identity.sign_key),
                               source=source[:200]))
    session.flush()
    for item in catalog.items:
        session.add(CatalogItem(code=item.code, version=version, name_zh=item.name_zh, name_en=item.name_en,
                                route=item.route, promised_days=item.promised_days,
                                item=item.document_entry()))
    session.flush()
    append_audit(session, actor=actor, action="catalog_imported", subject=f"catalog:{version}",
                 detail={"version": version, "source": source[:200], "departments": counts[0], "items": counts[1],
                         "added": len(changes.added), "changed": len(changes.changed),
                         "withdrawn": len(changes.withdrawn)})
    return ImportResult(version, True, *counts, changes)


def export_catalog(session: Session, target: Path, fmt: str, version: int | None = None) -> list[str]:
    """Write a version (default: the current one) as JSON or CSV tables; importing it back changes nothing."""
    row = session.get(CatalogVersion, version) if version else current_version(session)
    if row is None:
        raise CatalogError([f"the hub has no catalog version {version}" if version else
                            "the hub has no catalog yet; import one first"])
    document = row.signed["document"]
    if fmt == "csv":
        return write_csv(document, target)
    exported = {"note": f"Exported from catalog version {row.version} ({document['issued_at'][:10]})",
                "departments": document["departments"], "items": document["items"],
                **({"projects": document["projects"]} if "projects" in document else {})}
    target.write_text(json.dumps(exported, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return [str(target)]


def find_item(session: Session, code: str) -> ServiceItem | None:
    """The newest catalog entry for ``code`` (withdrawn items included), or None if the hub never had it;
    read once per transaction."""
    memo = transaction_memo(session)
    if (_ITEM, code) not in memo:
        row = session.exec(_NEWEST_ITEM, params={"code": code}).first()
        if row is not None and row.id not in _ITEMS_READ:
            _ITEMS_READ[row.id] = ServiceItem.model_validate(row.item)
        memo[(_ITEM, code)] = _ITEMS_READ[row.id] if row else None
    return memo[(_ITEM, code)]


def _item_in(session: Session, code: str, version: int) -> dict[str, Any] | None:
    row = session.exec(select(CatalogItem).where(CatalogItem.code == code, CatalogItem.version == version)).first()
    return row.item if row else None


def outdated_item_change(session: Session, code: str, point_version: int) -> dict[str, Any] | None:
    """What a newer catalog version did to item ``code`` since the version a point received it under, as
    values (None: nothing): both versions, ``state`` (withdrawn, new or changed) and the changed fields as
    [path, before, after]."""
    latest = current_version_number(session)
    if latest is None or point_version >= latest:
        return None
    before, after = _item_in(session, code, point_version), _item_in(session, code, latest)
    if before == after:
        return None
    state = "withdrawn" if after is None else "new" if before is None else "changed"
    changes = diff_entries(before, after) if state == "changed" else []
    return {"code": code, "point_version": point_version, "latest": latest, "state": state,
            "changes": [[change.path, change.before, change.after] for change in changes]}


def outdated_item_note(change: dict[str, Any]) -> str:
    """``outdated_item_change``'s answer in English, for the API and the CLI."""
    heading = f"received under catalog version {change['point_version']}; in the current version {change['latest']} "
    if change["state"] == "withdrawn":
        return heading + f"item {change['code']} is withdrawn"
    if change["state"] == "new":
        return heading + f"item {change['code']} is new or changed"
    return heading + "the item changed: " + "; ".join(FieldChange(*entry).text() for entry in change["changes"])


def catalog_answer(session: Session, have: int | None, identity: Identity, *, deltas: bool = True,
                   protocol: int = PROTOCOL_VERSION) -> dict[str, Any] | None:
    """What a point holding version ``have`` (None: nothing) should get: None when it is current, else (if it
    takes ``deltas``) a delta signed with ``identity`` when that is well under the whole document, else the
    signed document itself. A point speaking an older ``protocol`` refuses fields it does not know: when the
    version has any, it gets the whole version as it can read it, signed again (a delta's digest is of the
    full document)."""
    if have is not None and have == current_version_number(session):
        return None  # an idle point's check: without reading the whole signed document
    latest = current_version(session)
    if latest is None:
        raise CatalogError(["the hub has no catalog yet; ask the admin to import one"])
    if have == latest.version:
        return None
    current = latest.signed["document"]
    view = catalog_view(current, protocol)
    if view is not current:
        return sign_document(view, identity.sign_key)
    base = version_document(session, have) if have and deltas else None
    if base is None or in_code_order(current) != current or in_code_order(base) != base:
        return latest.signed
    delta = make_delta(base, current, latest.signed["signature"])
    if len(delta["items"]) * 2 > len(current["items"]):
        return latest.signed
    return sign_document(delta, identity.sign_key)


def packed_catalog_answer(session: Session, have: int | None, identity: Identity, *, deltas: bool = True,
                          protocol: int = PROTOCOL_VERSION) -> bytes | None:
    """``catalog_answer`` as it travels to points that ask for it packed (sync/catalog.py): the same bytes for
    the same question while the catalog and the hub's key stand, so a download cut short resumes on them."""
    latest = current_version_number(session)
    if latest is None:
        raise CatalogError(["the hub has no catalog yet; ask the admin to import one"])
    if have == latest:
        return None
    key = (have, latest, identity.fingerprint, deltas, protocol)
    if key not in _PACKED:
        answer = catalog_answer(session, have, identity, deltas=deltas, protocol=protocol)
        if answer is None:
            return None
        while len(_PACKED) >= PACKED_KEPT:
            del _PACKED[next(iter(_PACKED))]
        _PACKED[key] = pack_json(answer)
    return _PACKED[key]


def version_summary(row: CatalogVersion, previous: CatalogVersion | None) -> dict[str, Any]:
    """One line of the catalog page: when, from what, how big, what changed since the version before."""
    document = row.signed["document"]
    return {"version": row.version, "issued_at": document["issued_at"], "source": row.source,
            "departments": len(document["departments"]), "items": len(document["items"]),
            "changes": diff_documents(previous.signed["document"] if previous else None, document)}
