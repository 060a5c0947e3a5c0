"""The sync API over HTTP: its paths and the headers its answers carry, shared by the client and both servers.

The bodies are in sync/framing.py (envelopes), sync/messages.py (their payloads) and sync/resumable.py
(catalog and calendar downloads); docs/architecture.md describes each exchange.
"""

from __future__ import annotations

ENROLL_PATH = "/sync/v1/enroll"
PUSH_PATH = "/sync/v1/push"
PULL_PATH = "/sync/v1/pull"
CATALOG_PATH = "/sync/v1/catalog"
RELAY_VILLAGES_PATH = "/sync/v1/relay/villages"
RELAY_PULL_PATH = "/sync/v1/relay/pull"
# A point asks where an investment project stands, for its enterprise (project number and code in a signed body).
PROJECT_LOOKUP_PATH = "/sync/v1/projects/lookup"
# A point asks, for a resident at its window, for her valid e-certificates of some types (signed body).
CERTIFICATE_LOOKUP_PATH = "/sync/v1/certificates/lookup"
# A point fetches one sealed file of a pre-check it holds (its key came in the PRECHECK message), when its clerk
# opens it: photos cross the village link only when someone looks at them, and never at intake.
PRECHECK_FILE_PATH = "/sync/v1/prechecks/{precheck_id}/files/{file_id}"
HEADER_CURSOR = "X-Pointkit-Cursor"
HEADER_HUB_TIME = "X-Pointkit-Hub-Time"
HEADER_CATALOG_VERSION = "X-Pointkit-Catalog-Version"  # on pull answers: the hub's current catalog version
# On pull answers: the holiday-calendar years in force at the hub and their versions ("2027.1,2028.2").
HEADER_CALENDAR = "X-Pointkit-Calendar"
CALENDAR_PATH = "/sync/v1/calendar"
# On pull answers, what the hub holds from the pulling point: its highest envelope sequence number and its newest
# receipt number. A point restored from an old backup learns from them where it really stood, and numbers on
# from there instead of giving residents receipt numbers it gave before.
HEADER_LAST_SEQ = "X-Pointkit-Last-Seq"
HEADER_LAST_RECEIPT = "X-Pointkit-Last-Receipt"

# The years and versions a side holds, as they travel in a query or a header: "2027.1,2028.2".
MAX_HELD_YEARS = 50


def format_held_years(held: dict[int, int]) -> str:
    """``{2027: 1, 2028: 2}`` as ``2027.1,2028.2``."""
    return ",".join(f"{year}.{version}" for year, version in sorted(held.items()))


def parse_held_years(text: str | None) -> dict[int, int]:
    """``format_held_years`` read back; what does not read so (or is absurd) is left out."""
    held: dict[int, int] = {}
    for part in (text or "").split(",")[:MAX_HELD_YEARS]:
        year, _, version = part.strip().partition(".")
        if year.isdigit() and version.isdigit() and len(year) == 4 and len(version) <= 6:
            held[int(year)] = int(version)
    return held
