"""How a point stands, in one place: what ``pointkit status`` prints and support staff ask for on the phone.

Who the point is and its hub, the catalog version and the holiday-calendar years it counts on (and where each
came from), what waits to go, and when and by which path (online, through the township, on a USB bundle) it
last synced.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, func, select

from sync.kit.workdays import COUNTY_TIMEZONE
from sync.resumable import PartialDownload

from .calendar import calendar_sources
from .models import Outbox
from .scans import waiting_totals
from .state import as_utc, get_state, outbox_counts
from .syncagent import step_status

SYNC_PATHS = {"online": "online, with the county hub", "relay": "through the township", "usb": "by USB bundle"}


def point_status(session: Session, catalog_download: PartialDownload) -> dict[str, Any]:
    """The point's standing as plain data (JSON-ready; times in UTC and, for people, in county time)."""
    state = get_state(session)
    counts = outbox_counts(session)
    queued_bytes = session.exec(select(func.coalesce(func.sum(func.length(Outbox.envelope)), 0))
                                .where(Outbox.state == "queued")).one()
    scans_waiting, scan_bytes_waiting = waiting_totals(session)
    last = as_utc(state.last_sync_at)
    return {
        "point_id": state.point_id, "name": state.name, "level": state.level, "hub_url": state.hub_url,
        "relay": state.relay_name, "online": state.online, "catalog_version": state.catalog_version,
        "calendar": [{"year": year, "from": source, "source": notice}
                     for year, source, notice in calendar_sources(session)],
        "queued": counts["queued"], "queued_bytes": int(queued_bytes), "quarantined": counts["quarantined"],
        "scans_waiting": scans_waiting, "scan_bytes_waiting": scan_bytes_waiting,
        "last_sync": {"at": last.isoformat() if last else None,
                      "at_county_time": last.astimezone(COUNTY_TIMEZONE).strftime("%Y-%m-%d %H:%M") if last else "",
                      "path": state.last_sync_path if state.last_sync_path in SYNC_PATHS else ""},
        "stuck_steps": {step: status.stuck for step, status in step_status(state.sync_steps).items() if status.stuck},
        "catalog_download": [catalog_download.offset, catalog_download.total] if catalog_download.offset else None,
    }
