"""Helpers for hub tests: a hub data directory, API sessions and a fake point built from ``sync``."""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import Session

from hub.web import create_app
from hub.trust.accounts import create_staff
from hub.catalog.versions import import_catalog, load_catalog_file
from hub.core.db import database_url, make_engine, session_scope
from hub.trust.enrollment import create_enrollment_token
from hub.instance import initialize
from hub.trust.keys import load_identity
from sync.envelope import Envelope, Kind, seal_envelope
from sync.client import HubClient
from sync.keys import Identity, PublicKeys, RecipientKey
from sync.signing import verify_document
from sync.clock import utcnow
from sync.kit.idnumber import check_character
from tests.support.cluster import loopback_client, loopback_transport

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_CATALOG = ROOT / "hub" / "data" / "sample_catalog.json"
DAY_MS = 24 * 3600 * 1000
# The items the loop_hub fixture adds to the sample catalog, of known limits (the sample's may change).
SILENT = "451030-TEST-SILENT"
CERTIFIED = "451030-TEST-CERT"
SLOW = "451030-TEST-SLOW"
NATURAL = "451030-TEST-NATURAL"
ADMIN_PASSWORD = "hub-admin-pass"
# County departments' reviewers; a township's (乡镇人民政府, XZ) belong to a township point: Hub.add_staff.
REVIEWERS = {"yb-li": "YB", "ny-wang": "NY", "zr-zhao": "ZR"}
REVIEWER_PASSWORD = "reviewer-pass"
MEDICAL_INSURANCE = "451030-YB-001"
HOMESTEAD = "451030-ZR-006"
VILLAGE = "八达镇周邦村便民服务站"


def valid_id(first17: str = "45102719800101234") -> str:
    return first17 + check_character(first17)


def resident_id() -> str:
    """A valid ID number of its own for each case: the same ID twice for one item is a duplicate application."""
    born = date(1950, 1, 1) + timedelta(days=secrets.randbelow(365 * 50))
    return valid_id(f"451027{born:%Y%m%d}{secrets.randbelow(1000):03d}")


class Hub:
    """One hub data directory and, once served, its URL."""

    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self.engine = make_engine(database_url(data_dir))
        self.identity = load_identity(data_dir)
        self.url = ""
        self.app = None  # set by serve(); a hub served by other processes has none here
        self._clients: list[httpx.Client | HubClient] = []

    def serve(self, live_server, **test_config: Any) -> "Hub":
        self.app = create_app(self.data_dir, test_config={"TESTING": True, **test_config})
        self.url = live_server(self.app).url
        return self

    def close(self) -> None:
        # Open keep-alive connections would hold the waitress thread past the test.
        for client in self._clients:
            client.close()
        if self.app is not None:
            self.app.extensions["hub_engine"].dispose()
        self.engine.dispose()

    @contextmanager
    def db(self) -> Iterator[Session]:
        with session_scope(self.engine) as session:
            yield session

    def token(self, name: str = VILLAGE, level: str = "village") -> str:
        with self.db() as session:
            return create_enrollment_token(session, name=name, level=level, identity=self.identity).token

    def enroll_point(self, name: str = VILLAGE, level: str = "village") -> "FakePoint":
        return FakePoint(self, name, level, self.token(name, level))

    def add_staff(self, username: str, *, role: str = "reviewer", department: str | None = None,
                  township: str | None = None) -> None:
        """One more account (password REVIEWER_PASSWORD), e.g. a township's XZ reviewer or its read-only staff."""
        with self.db() as session:
            create_staff(session, username=username, password=REVIEWER_PASSWORD, role=role,
                         department_code=department, township=township)

    def http(self, **kwargs: Any) -> httpx.Client:
        client = loopback_client(base_url=self.url, timeout=30, **kwargs)
        self._clients.append(client)
        return client

    def api(self, username: str, password: str | None = None) -> httpx.Client:
        """An httpx client logged in to the JSON API as ``username``."""
        client = self.http()
        if password is None:
            password = ADMIN_PASSWORD if username == "admin" else REVIEWER_PASSWORD
        response = client.post("/api/login", json={"username": username, "password": password})
        assert response.status_code == 200, response.text
        client.headers["Authorization"] = f"Bearer {response.json()['token']}"
        return client

    def browser(self, username: str | None = None, password: str | None = None) -> httpx.Client:
        """An httpx client acting as a browser (cookies), logged in through the page when asked."""
        client = self.http(follow_redirects=True)
        if username:
            token = csrf_from(client.get("/login").text)
            password = password or (ADMIN_PASSWORD if username == "admin" else REVIEWER_PASSWORD)
            response = client.post("/login", data={"username": username, "password": password, "csrf_token": token})
            assert response.status_code == 200 and "/login" not in str(response.url), response.text[:500]
        return client


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page carries a CSRF token"
    return match.group(1)


def make_hub(data_dir: Path, *, post_quantum: bool = False) -> Hub:
    initialize(data_dir, admin_user="admin", admin_password=ADMIN_PASSWORD, post_quantum=post_quantum)
    engine = make_engine(database_url(data_dir))
    with session_scope(engine) as session:
        import_catalog(session, load_catalog_file(SAMPLE_CATALOG), identity=load_identity(data_dir))
        for username, department in REVIEWERS.items():
            create_staff(session, username=username, password=REVIEWER_PASSWORD, role="reviewer",
                         department_code=department)
        create_staff(session, username="op", password=REVIEWER_PASSWORD, role="operator")
    engine.dispose()
    return Hub(data_dir)


class FakePoint:
    """A point made of ``sync`` only: its own keys, enrolled through HubClient."""

    def __init__(self, hub: Hub, name: str, level: str, token: str):
        self.hub = hub
        self.name = name
        self.identity = Identity.generate()
        self.client = HubClient(hub.url, attempts=1, transport=loopback_transport())
        hub._clients.append(self.client)
        self.enrollment = self.client.enroll(token=token, name=name, identity=self.identity)
        self.point_id = uuid.UUID(self.enrollment["point_id"])
        self.hub_keys = PublicKeys.from_json(self.enrollment["hub"])
        # What the point seals to: the hub's preferred recipient key (hybrid when the county chose --pq).
        self.recipient = RecipientKey.from_json(self.enrollment["recipients"][0])
        self.seq = 0

    def seal(self, kind: Kind, payload: dict[str, Any], *, seq: int | None = None,
             envelope_id: uuid.UUID | None = None, sign_key=None, recipient: RecipientKey | None = None) -> bytes:
        if seq is None:
            self.seq += 1
            seq = self.seq
        return seal_envelope(kind=kind, payload=payload, sender_id=self.point_id, seq=seq,
                             sender_key=sign_key or self.identity.sign_key, recipient_key=recipient or self.recipient,
                             envelope_id=envelope_id).to_bytes()

    def submit(self, item_code: str = MEDICAL_INSURANCE, **overrides: Any) -> dict[str, Any]:
        """A SubmitCase payload as the point would send it."""
        case_id = str(uuid.uuid4())
        payload = {
            "case_id": case_id,
            "receipt_no": f"PL-{case_id[:8]}",
            "item_code": item_code,
            "catalog_version": 1,
            "applicant": {"name": "韦秀兰", "id_number": resident_id(), "phone": "13807761234"},
            "form": {"insured_category": "普通居民"},
            "materials": ["id_card", "hukou"],
            "received_at": datetime.now(timezone.utc).isoformat(),
            "promised_date": date.today().isoformat(),
            "staff": "staff",
        }
        payload.update(overrides)
        return payload

    def push_case(self, item_code: str = MEDICAL_INSURANCE, **overrides: Any) -> str:
        payload = self.submit(item_code, **overrides)
        [result] = self.client.push([self.seal(Kind.SUBMIT, payload)])
        assert result.status == "accepted", result
        return payload["case_id"]

    def open(self, data: bytes) -> tuple[Envelope, dict[str, Any]]:
        """Verify a hub message with the pinned hub key and open it with this point's key."""
        envelope = Envelope.parse(data)
        envelope.verify(self.hub_keys.verifier())
        return envelope, envelope.open(self.identity.enc_key)

    def pull_all(self, after: int = 0) -> tuple[list[tuple[Envelope, dict[str, Any]]], int]:
        result = self.client.pull(after)
        return [self.open(item) for item in result.envelopes], result.cursor

    def verify_result(self, signed: dict[str, Any]) -> dict[str, Any]:
        return verify_document(signed, self.hub_keys.verifier())


def push(point: FakePoint, item_code: str) -> str:
    """Push one case for ``item_code`` received now, on a clock in step with the hub's; its case id."""
    return point.push_case(item_code, received_at=utcnow().isoformat(), clock_offset_ms=0)
