"""Time at the hub: timezone-aware UTC now (through sync.clock's one seam) and ISO 8601 for stored datetimes."""

from __future__ import annotations

from datetime import datetime, timezone

from sync.clock import utcnow


def utc_now() -> datetime:
    """Timezone-aware UTC now, through the one clock seam (sync.clock)."""
    return utcnow()


def as_utc(value: datetime) -> datetime:
    """A datetime from the wire in UTC; a value without a zone is taken as UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def iso(value: datetime | None) -> str | None:
    """A stored datetime as ISO 8601 with its zone."""
    return None if value is None else as_utc(value).isoformat()
