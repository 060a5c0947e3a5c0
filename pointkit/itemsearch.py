"""Finding a service item at the window: by code, name, full pinyin or pinyin initials.

Village keyboards often have no Chinese input method set up, so staff type
``ylbx`` for 医疗保险 or ``yiliao``. The keys are computed once, when the
catalog is stored (pypinyin carries its own dictionary: no network), so a
search only scans a few hundred short key strings.
"""

from __future__ import annotations

import re

from sqlmodel import Session, select

from sync.catalog import ServiceItem

from .models import CatalogItem

MAX_QUERY = 64
_NOT_KEY = re.compile(r"[^0-9a-z\u4e00-\u9fff-]+")


def normalize_query(text: str) -> str:
    """Lowercase, without spaces or punctuation, so ``Yi Liao`` and ``yiliao`` find the same items."""
    return _NOT_KEY.sub("", text.strip().lower()[:MAX_QUERY])


def search_text(item: ServiceItem) -> str:
    """The keys an item is found by, one per line: code, Chinese name, English name, pinyin, initials."""
    # Imported here: its dictionary takes a quarter of a second to load, which every pointkit command and
    # server start paid, and keys are only computed when a catalog is stored.
    from pypinyin import Style, lazy_pinyin

    full = "".join(lazy_pinyin(item.name_zh))
    initials = "".join(lazy_pinyin(item.name_zh, style=Style.FIRST_LETTER))
    return "\n".join(normalize_query(key) for key in (item.code, item.name_zh, item.name_en, full, initials))


def find_items(session: Session, query: str) -> list[ServiceItem]:
    """Items whose code, name or pinyin contains ``query``; an exact code first, then by code."""
    key = normalize_query(query)
    rows = session.exec(select(CatalogItem).order_by(CatalogItem.code)).all()
    backfill_search_text(session, rows)
    found = [row for row in rows if key in row.search_text] if key else list(rows)
    found.sort(key=lambda row: normalize_query(row.code) != key)
    return [ServiceItem.model_validate_json(row.item_json) for row in found]


def backfill_search_text(session: Session, rows: list[CatalogItem]) -> None:
    """Rows stored by a pointkit older than search have no keys yet; compute them once."""
    for row in rows:
        if not row.search_text:
            row.search_text = search_text(ServiceItem.model_validate_json(row.item_json))
            session.add(row)
