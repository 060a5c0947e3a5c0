"""Drafts: an intake saved half-way (the resident went home for a paper) and resumed later.

A draft holds what was typed and ticked, nothing checked: it is not an
application, never leaves the laptop, and is deleted when the application is
received. Scanned files are not kept with a draft; they are attached again.
"""

from __future__ import annotations

import json

from sqlmodel import Session, select

from sync.catalog import ServiceItem
from sync.clock import utcnow

from . import audit
from .intake import MAX_TEXT
from .models import IntakeDraft

APPLICANT_KEYS = ("applicant_name", "applicant_id_number", "applicant_phone")


def draft_keys(item: ServiceItem) -> list[str]:
    """The page inputs a draft of ``item`` keeps."""
    return [*APPLICANT_KEYS, *(f"field_{spec.name}" for spec in item.fields)]


def save_draft(session: Session, staff: str, item: ServiceItem, values: dict[str, str], ticked: list[str],
               draft_id: int | None = None) -> IntakeDraft:
    """Create or update a draft of ``item`` with the page's values (unknown inputs and materials are dropped)."""
    kept = {key: str(values.get(key, ""))[:MAX_TEXT] for key in draft_keys(item) if values.get(key)}
    materials = [material.code for material in item.materials if material.code in ticked]
    draft = session.get(IntakeDraft, draft_id) if draft_id else None
    if draft is None or draft.item_code != item.code:
        draft = IntakeDraft(item_code=item.code, staff=staff, updated_at=utcnow())
    draft.applicant_name = kept.get("applicant_name", "")[:64]
    draft.values_json = json.dumps({"values": kept, "materials": materials}, ensure_ascii=False)
    draft.staff, draft.updated_at = staff, utcnow()
    session.add(draft)
    session.flush()
    audit.record(session, staff, "draft_saved", str(draft.id), item_code=item.code)
    return draft


def draft_values(draft: IntakeDraft) -> tuple[dict[str, str], list[str]]:
    """The page values and ticked materials a draft resumes with."""
    saved = json.loads(draft.values_json)
    return saved.get("values", {}), saved.get("materials", [])


def list_drafts(session: Session) -> list[IntakeDraft]:
    return list(session.exec(select(IntakeDraft).order_by(IntakeDraft.updated_at.desc())).all())


def get_draft(session: Session, draft_id: int) -> IntakeDraft | None:
    return session.get(IntakeDraft, draft_id)


def delete_draft(session: Session, draft_id: int, staff: str) -> bool:
    """Forget a draft (received, or abandoned); False if there was none."""
    draft = session.get(IntakeDraft, draft_id)
    if draft is None:
        return False
    session.delete(draft)
    audit.record(session, staff, "draft_deleted", str(draft_id), item_code=draft.item_code)
    return True
