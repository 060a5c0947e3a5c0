"""The service catalog as the point holds it: the last hub-signed version it verified."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session, delete

from sync.catalog import CATALOG_DELTA_TYPE, CatalogDeltaError, Department, ServiceItem, apply_delta
from sync.clock import utcnow
from sync.messages import CATALOG_DOCUMENT_TYPE
from sync.signing import SignatureError

from .itemsearch import search_text
from .models import CatalogItem, PointState
from .trust import verify_hub_document


class CatalogError(ValueError):
    """A catalog document the point refuses (bad signature, wrong type, malformed)."""


def verify_catalog(session: Session, signed: dict[str, Any], state: PointState) -> dict[str, Any]:
    """Check the hub's signature with the trusted hub keys and the document's shape; return the document."""
    try:
        document = verify_hub_document(session, state, signed)
    except SignatureError:
        raise CatalogError("catalog signature does not verify with any trusted hub key") from None
    if document.get("type") != CATALOG_DOCUMENT_TYPE:
        raise CatalogError(f"not a catalog document (type {document.get('type')!r})")
    version = document.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise CatalogError("catalog version is not a non-negative integer")
    try:
        [Department.model_validate(entry) for entry in document.get("departments", [])]
        [ServiceItem.model_validate(entry) for entry in document.get("items", [])]
    except (ValidationError, TypeError) as exc:
        raise CatalogError(f"catalog entries are malformed: {exc}") from None
    return document


def store_catalog(session: Session, state: PointState, signed: dict[str, Any]) -> bool:
    """Verify and keep ``signed`` (a whole version or a delta from ours) unless it is older than what we hold;
    True if it replaced ours. A delta is applied to the stored version, and the result must be the very
    document the hub signed, so the point always holds a signed version it can serve to its villages."""
    if signed.get("document", {}).get("type") == CATALOG_DELTA_TYPE:
        signed = _rebuilt_from_delta(session, state, signed)
    document = verify_catalog(session, signed, state)
    state.catalog_checked_at = utcnow()
    session.add(state)
    if document["version"] < state.catalog_version or (
            document["version"] == state.catalog_version and state.catalog_document):
        return False
    items = [ServiceItem.model_validate(entry) for entry in document["items"]]
    session.exec(delete(CatalogItem))
    for item in items:
        session.add(CatalogItem(code=item.code, name_zh=item.name_zh, item_json=item.model_dump_json(),
                                search_text=search_text(item)))
    state.catalog_version = document["version"]
    state.catalog_document = json.dumps(document, ensure_ascii=False)
    state.catalog_signature = signed["signature"]
    return True


def _rebuilt_from_delta(session: Session, state: PointState, signed: dict[str, Any]) -> dict[str, Any]:
    """The signed whole version a hub-signed delta leads to from the version this point holds."""
    try:
        delta = verify_hub_document(session, state, signed)
    except SignatureError:
        raise CatalogError("catalog delta signature does not verify with any trusted hub key") from None
    if not state.catalog_document:
        raise CatalogError("a catalog delta came but this point holds no catalog to apply it to")
    try:
        document = apply_delta(json.loads(state.catalog_document), delta)
    except CatalogDeltaError as exc:
        raise CatalogError(str(exc)) from None
    return {"document": document, "signature": delta.get("signature", "")}


def get_item(session: Session, code: str) -> ServiceItem | None:
    row = session.get(CatalogItem, code)
    return ServiceItem.model_validate_json(row.item_json) if row else None


def department_names(state: PointState) -> dict[str, dict[str, str]]:
    """Department code -> {name_zh, name_en}, from the stored catalog document."""
    if not state.catalog_document:
        return {}
    document = json.loads(state.catalog_document)
    return {d["code"]: {"name_zh": d["name_zh"], "name_en": d["name_en"]} for d in document.get("departments", [])}

