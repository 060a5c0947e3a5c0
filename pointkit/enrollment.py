"""Enrollment (the X-Road shape): make our own keys, prove them to the hub, pin the hub's keys.

The token ends in the first 16 hex characters of the hub's key fingerprint,
given to the point's admin out of band. The point computes the fingerprint of
the keys the hub answers with and refuses to pin them unless it matches: a
man in the middle cannot swap in his own keys.
"""

from __future__ import annotations

import re
import string
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from sync.client import HubClient, HubRefused, HubUnreachable
from sync.clock import now_ms, utcnow
from sync.keys import Identity, PublicKeys, RecipientKey, b64, fingerprint
from sync.resumable import Progress

from . import audit, db
from .catalog import CatalogError
from .catalogfetch import catalog_download
from .catalogfetch import fetch_catalog as fetch_catalog_once
from .models import PointState
from .state import KEY_PREFIX, find_state, get_state, hub_client, keys_dir, load_identity
from .trust import pin_hub_keys, read_recipients

FINGERPRINT_PREFIX_CHARS = 16
# How long ``init`` keeps resuming the catalog download over a link that cuts before it gives up.
CATALOG_WAIT_S = 600.0
LINK_DOWN_PAUSE_S = 2.0
NO_CATALOG = "the county hub has no service catalog yet; ask the county admin to import one"
_HEX = re.compile(r"^[0-9a-f]{16}$")


class EnrollmentError(RuntimeError):
    """Enrollment could not complete; the message says what to do next."""


@dataclass(frozen=True)
class Enrollment:
    """What ``init`` reports once the point is enrolled."""

    point_id: str
    name: str
    level: str
    hub_fingerprint: str
    catalog_version: int
    catalog_error: str = ""
    # The township the hub says this village syncs through, and the address it syncs with from now on.
    relay_name: str = ""
    sync_url: str = ""


def token_fingerprint(token: str) -> str:
    """The hub fingerprint prefix a token carries after its last dot."""
    if "." not in token:
        raise EnrollmentError("the enrollment token must look like SECRET.FINGERPRINT (16 hex characters after the dot)")
    suffix = token.rsplit(".", 1)[1].strip().lower()
    if not _HEX.match(suffix):
        raise EnrollmentError("the enrollment token's fingerprint part must be 16 hex characters")
    return suffix


def is_initialized(data_dir: str | Path) -> bool:
    data_dir = Path(data_dir)
    if (keys_dir(data_dir) / f"{KEY_PREFIX}-sign.pem").exists():
        return True
    if db.database_path(data_dir).exists():
        with db.session_scope(data_dir) as session:
            return find_state(session) is not None
    return False


def pinned_hub_keys(response: dict[str, Any], token: str) -> PublicKeys:
    """The hub keys from an enrollment answer, only if their fingerprint matches the token."""
    expected = token_fingerprint(token)
    try:
        keys = PublicKeys.from_json(response["hub"])
    except (KeyError, TypeError, ValueError):
        raise EnrollmentError("the hub's enrollment answer has no usable keys") from None
    actual = fingerprint(keys.sign_public, keys.enc_public)
    if not actual.startswith(expected):
        raise EnrollmentError(
            f"the hub's keys have fingerprint {actual}, but the token expects {expected}…; "
            "refusing to trust this hub (check the hub address and ask the county for a new token)")
    return keys


def record_enrollment(data_dir: str | Path, *, identity: Identity, response: dict[str, Any], token: str,
                      hub_url: str) -> PointState:
    """Check the hub keys against the token, then save our keys and pin the hub's in one state row."""
    keys = pinned_hub_keys(response, token)
    level = str(response.get("level", ""))
    if level not in ("village", "township", "county"):
        raise EnrollmentError(f"the hub gave this point an unknown level {level!r}")
    recipients, generation = _recipients(response, keys)
    identity.save(keys_dir(data_dir), KEY_PREFIX)
    db.init_db(data_dir)
    with db.session_scope(data_dir) as session:
        state = PointState(
            point_id=str(response["point_id"]), name=str(response.get("name", ""))[:128], level=level,
            hub_url=hub_url.rstrip("/"), hub_sign_public_key=b64(keys.sign_public),
            hub_enc_public_key=b64(keys.enc_public), hub_fingerprint=keys.fingerprint,
            clock_offset_ms=_offset(response), enrolled_at=utcnow(),
        )
        pin_hub_keys(session, state, sign_public=keys.sign_public, recipients=recipients, generation=generation)
        audit.record(session, audit.SYSTEM_ACTOR, "enrolled", state.point_id, hub_fingerprint=state.hub_fingerprint,
                     generation=generation, suite=int(recipients[0].suite), point_fingerprint=identity.fingerprint)
    return state


def _recipients(response: dict[str, Any], keys: PublicKeys) -> tuple[list[RecipientKey], int]:
    """The keys to seal to (preferred first) and their generation; without a list, the pinned X25519 key."""
    generation = response.get("generation", 1)
    if not isinstance(generation, int) or isinstance(generation, bool) or generation < 1:
        raise EnrollmentError(f"the hub's key generation {generation!r} is not a positive number")
    if "recipients" not in response:
        return [RecipientKey.x25519(keys.enc_public)], generation
    try:
        return read_recipients(response["recipients"], keys.enc_public), generation
    except ValueError as exc:
        raise EnrollmentError(f"{exc}; refusing to trust this hub (ask the county hub to check its keys)") from None


def _offset(response: dict[str, Any]) -> int:
    hub_time = response.get("hub_time_ms")
    return int(hub_time) - now_ms() if isinstance(hub_time, int) else 0


def fetch_catalog(data_dir: str | Path, *, transport: httpx.BaseTransport | None = None,
                  wait_s: float = CATALOG_WAIT_S, progress: Progress | None = None) -> int:
    """Fetch the signed catalog, verify it with the pinned key and store it; return its version. A cut resumes
    the download where it stopped, again and again for up to ``wait_s`` seconds; after that (or at once, for a
    refusal or an answer that cannot be used) the last error is raised, and what arrived stays for the next
    sync."""
    with db.session_scope(data_dir) as session:
        state = get_state(session)
    started = time.monotonic()
    with hub_client(state, load_identity(data_dir), transport=transport) as client:
        while True:
            try:
                fetched = fetch_catalog_once(data_dir, client, progress=progress)
                break
            except HubUnreachable:
                if time.monotonic() - started >= wait_s:
                    raise
                if not client.answers:
                    time.sleep(LINK_DOWN_PAUSE_S)  # no link at all: the client's own retries were quick
        offset = client.clock_offset_ms
    with db.session_scope(data_dir) as session:
        state = get_state(session)
        state.clock_offset_ms = offset
        session.add(state)
    return fetched.after


def enroll(data_dir: str | Path, *, hub_url: str, token: str, name: str = "", relay_url: str = "",
           transport: httpx.BaseTransport | None = None, catalog_wait_s: float = CATALOG_WAIT_S,
           progress: Progress | None = None) -> Enrollment:
    """Enroll a fresh data directory with the hub and fetch its catalog (``fetch_catalog``); when the catalog
    did not come, ``catalog_error`` says why and what to do (the point cannot receive cases without it).

    Enrollment always talks to the hub itself (once). With ``relay_url`` (a
    village enrolled ``--via`` a township) every later request goes to that
    township instead, which relays it: it is stored as the point's sync address.
    """
    if is_initialized(data_dir):
        raise EnrollmentError(f"{data_dir} already holds an enrolled point; use another data directory")
    token = token.strip()
    token_fingerprint(token)
    if any(ch in string.whitespace for ch in token):
        raise EnrollmentError("the enrollment token must not contain spaces")
    identity = Identity.generate()
    with HubClient(hub_url, transport=transport) as client:
        try:
            response = client.enroll(token=token, name=name, identity=identity)
        except HubRefused as exc:
            raise EnrollmentError(_refusal_text(exc.reason, str(exc))) from None
        except HubUnreachable as exc:
            raise EnrollmentError(f"cannot reach the hub at {hub_url}: {exc.__cause__ or exc}") from None
    state = record_enrollment(data_dir, identity=identity, response=response, token=token,
                              hub_url=relay_url or hub_url)
    relay = response.get("relay") if isinstance(response.get("relay"), dict) else {}
    if relay_url:
        with db.session_scope(data_dir) as session:
            enrolled = get_state(session)
            enrolled.relay_name = str(relay.get("name") or relay_url)[:128]
            session.add(enrolled)
    catalog_error = ""
    try:
        version = fetch_catalog(data_dir, transport=transport, wait_s=catalog_wait_s, progress=progress)
    except HubRefused as exc:
        version, catalog_error = 0, (NO_CATALOG if exc.reason == "no_catalog"
                                     else f"the county hub refused the catalog request ({exc.reason}: {exc})")
    except HubUnreachable as exc:
        received = catalog_download(data_dir)
        so_far = f"; {received.offset} of {received.total} bytes arrived and are kept" if received.offset else ""
        version, catalog_error = 0, (f"the catalog did not arrive within {catalog_wait_s:.0f} s "
                                     f"({exc.__cause__ or exc}){so_far}")
    except CatalogError as exc:
        version, catalog_error = 0, f"the catalog from the hub was refused: {exc}"
    return Enrollment(state.point_id, state.name, state.level, state.hub_fingerprint, version, catalog_error,
                      relay_name=str(relay.get("name", "")), sync_url=state.hub_url)


_REFUSALS = {
    "token_unknown": "the hub does not know this enrollment token; check it was copied whole",
    "token_used": "this enrollment token was already used; ask the county hub for a new one",
    "token_expired": "this enrollment token has expired; ask the county hub for a new one",
    "name_mismatch": "the token was issued for a different point name; pass the name it was issued for with --name",
    "bad_proof": "the hub could not verify this point's key proof; run init again",
}


def _refusal_text(reason: str, message: str) -> str:
    return _REFUSALS.get(reason, f"the hub refused enrollment ({reason}): {message}")
