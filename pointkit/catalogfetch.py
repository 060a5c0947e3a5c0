"""Bring the catalog home over a link that cuts: compressed, a delta from the version held, resumed after a cut.

The catalog is about 100 KB of JSON; a village link at 64 kbit/s that cuts
every 8 seconds never carried it whole in one piece. It now travels packed
(about 14 KB for the sample), as a delta when the point holds a version, and
what arrived before a cut is kept in ``DATA/downloads/catalog.part``: the next
try, in this round or the next, asks only for the rest. The whole is checked
(its SHA-256, then the hub's signature) before any of it is stored.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from sync.catalog import CATALOG_DELTA_TYPE
from sync.client import HubClient
from sync.clock import utcnow
from sync.kit.workdays import CalendarError
from sync.resumable import DownloadError, PartialDownload, Progress

from . import db
from .calendar import held_versions, store_years
from .catalog import CatalogError, store_catalog
from .state import get_state

log = logging.getLogger("pointkit.sync")

DOWNLOADS_DIR = "downloads"
CATALOG_PART = "catalog.part"
CALENDAR_PART = "calendar.part"


@dataclass(frozen=True)
class CatalogFetch:
    """What one fetch did: the versions before and after, and how the new one came (``delta``, ``whole``, or
    ``unchanged`` when the point's version is current)."""

    before: int
    after: int
    how: str


def catalog_download(data_dir: str | Path) -> PartialDownload:
    """The catalog download this point has under way (offset 0 when none)."""
    return PartialDownload(Path(data_dir) / DOWNLOADS_DIR / CATALOG_PART)


def fetch_catalog(data_dir: str | Path, client: HubClient, *, progress: Progress | None = None) -> CatalogFetch:
    """Fetch what the hub has beyond this point's version and store it; raises HubUnreachable on a cut (what
    arrived is kept for the next try) and CatalogError when the hub's answer cannot be used."""
    with db.session_scope(data_dir) as session:
        before = get_state(session).catalog_version
    partial = catalog_download(data_dir)
    signed = _download(client, before or None, partial, progress)
    if signed is None:
        with db.session_scope(data_dir) as session:
            state = get_state(session)
            state.catalog_checked_at = utcnow()
            session.add(state)
        return CatalogFetch(before, before, "unchanged")
    try:
        return _store(data_dir, before, signed)
    except CatalogError as exc:
        if signed.get("document", {}).get("type") != CATALOG_DELTA_TYPE:
            raise
        log.warning("catalog delta not applied (%s); fetching the whole catalog", exc)
    whole = _download(client, None, partial, progress)
    if whole is None:
        raise CatalogError("the hub answered that there is no catalog to fetch")
    return _store(data_dir, before, whole)


def calendar_download(data_dir: str | Path) -> PartialDownload:
    """The calendar download this point has under way (offset 0 when none)."""
    return PartialDownload(Path(data_dir) / DOWNLOADS_DIR / CALENDAR_PART)


def fetch_calendar(data_dir: str | Path, client: HubClient, *, progress: Progress | None = None) -> list[int]:
    """Fetch the holiday-calendar years the hub holds beyond this point's and store them; return the years stored.
    Raises HubUnreachable on a cut (what arrived is kept) and CalendarError when a year cannot be used."""
    with db.session_scope(data_dir) as session:
        held = held_versions(session)
    partial = calendar_download(data_dir)
    try:
        years = client.calendar_download(held, partial, progress=progress)
    except DownloadError as exc:
        partial.discard()
        raise CalendarError(f"the calendar download was damaged ({exc}); the next try starts again") from None
    with db.session_scope(data_dir) as session:
        stored = store_years(session, get_state(session), years)
    if stored:
        log.info("holiday calendar from the hub: %s", ", ".join(map(str, stored)))
    return stored


def _download(client: HubClient, have: int | None, partial: PartialDownload,
              progress: Progress | None) -> dict | None:
    try:
        return client.catalog_download(have, partial, progress=progress)
    except DownloadError as exc:
        partial.discard()
        raise CatalogError(f"the catalog download was damaged ({exc}); the next try starts again") from None


def _store(data_dir: str | Path, before: int, signed: dict) -> CatalogFetch:
    with db.session_scope(data_dir) as session:
        state = get_state(session)
        changed = store_catalog(session, state, signed)
        after = state.catalog_version
    document = signed["document"]
    delta = document.get("type") == CATALOG_DELTA_TYPE
    if changed:
        how = (f"delta: {len(document['items'])} changed or new, {len(document['withdrawn'])} withdrawn" if delta
               else f"whole catalog: {len(document['items'])} items")
        log.info("catalog version %d -> %d (%s)", before, after, how)
    return CatalogFetch(before, after, ("delta" if delta else "whole") if changed else "unchanged")
