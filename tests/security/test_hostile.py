"""Hostile input against a real hub process: each gets a clear error, nothing is applied,
nothing already accepted changes, and the hub writes one log line about it."""

from __future__ import annotations

import itertools
import socket
import sqlite3
import uuid

import httpx
import pytest

from tests.support.cluster import Cluster, command
from sync.framing import CONTENT_TYPE, encode_frames
from sync.envelope import Envelope, Kind, seal_envelope
from sync.client import HubClient
from sync.keys import Identity, RecipientKey
from sync.clock import utcnow, uuid7
from sync.kit.idnumber import check_character
from sync.signing import sign_request

VILLAGE = "八达镇周邦村便民服务站"
OTHER = "八达镇新丰村便民服务站"


_residents = itertools.count()


def next_resident_id() -> str:
    """A resident of her own for every case: one resident applying twice for an item is a duplicate (a conflict)."""
    n = next(_residents)
    first17 = f"45102719{50 + n // 1000 % 50:02d}0101{n % 1000:03d}"
    return first17 + check_character(first17)


class Point:
    """A point made of ``sync`` alone: enrolled for real, sealing exactly as pointkit does."""

    def __init__(self, cluster: Cluster, name: str):
        token = cluster.setup(command("pointkit-hub"), "points", "add", name, "--level", "village",
                              "--data", str(cluster.hub.data)).strip().splitlines()[-1]
        self.identity = Identity.generate()
        self.client = HubClient(cluster.hub.url, attempts=1)
        answer = self.client.enroll(token=token, name=name, identity=self.identity)
        self.point_id = uuid.UUID(answer["point_id"])
        recipients = answer.get("recipients") or [{"suite": 1, "public_key": answer["hub"]["enc_public_key"]}]
        self.hub_key = RecipientKey.from_json(recipients[0])
        self.seq = 0

    def submit(self, name: str = "韦秀兰", **overrides) -> bytes:
        self.seq += 1
        payload = {
            "case_id": str(uuid7()), "receipt_no": f"20261129-HOSTILE-{self.seq:04d}", "item_code": "451030-YB-001",
            "catalog_version": 1,
            "applicant": {"name": name, "id_number": next_resident_id(), "phone": "13807761234"},
            "form": {"insured_category": "普通居民"}, "materials": ["id_card", "hukou"],
            "received_at": utcnow().isoformat(), "staff": "staff", **overrides,
        }
        return seal_envelope(kind=Kind.SUBMIT, payload=payload, sender_id=self.point_id, seq=self.seq,
                             sender_key=self.identity.sign_key, recipient_key=self.hub_key).to_bytes()

    def push(self, *envelopes: bytes) -> list:
        return self.client.push(list(envelopes))


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    with Cluster(tmp_path_factory.mktemp("hostile"), reuse_init=True, setup_in_process=True) as cluster:
        cluster.start_hub()
        cluster.village = Point(cluster, VILLAGE)
        cluster.other = Point(cluster, OTHER)
        yield cluster


def case_count(hub) -> int:
    with sqlite3.connect(hub.hub.data / "hub.db") as db:
        (count,) = db.execute("select count(*) from \"case\"").fetchone()
    return count


def hub_log(hub) -> str:
    return "\n".join(path.read_text(errors="replace") for path in hub.hub.data.glob("*.log"))


def logged_once(hub, needle: str) -> None:
    lines = [line for line in hub_log(hub).splitlines() if needle in line]
    assert len(lines) == 1, f"expected one log line with {needle!r}, found {lines}"


def flip(data: bytes, offset: int) -> bytes:
    changed = bytearray(data)
    changed[offset] ^= 0x01
    return bytes(changed)


@pytest.mark.parametrize("where", ["header", "ciphertext", "signature"])
def test_tampered_envelopes_are_rejected_and_the_rest_flow(hub, where):
    point = hub.village
    genuine, victim = point.submit(), point.submit()
    offset = {"header": 50, "ciphertext": 64 + 4 + 20, "signature": len(victim) - 3}[where]
    tampered = flip(victim, offset)
    before = case_count(hub)
    results = point.push(tampered, genuine)
    assert results[0].status == "rejected" and results[0].reason == "bad_signature", results[0]
    assert results[1].status == "accepted"
    assert case_count(hub) == before + 1
    logged_once(hub, f"{results[0].envelope_id}: rejected bad_signature")


def test_unknown_point_is_rejected(hub):
    stranger = Identity.generate()
    envelope = seal_envelope(kind=Kind.SUBMIT, payload={"x": 1}, sender_id=uuid.uuid4(), seq=1,
                             sender_key=stranger.sign_key, recipient_key=hub.village.hub_key)
    before = case_count(hub)
    [result] = hub.village.push(envelope.to_bytes())
    assert (result.status, result.reason) == ("rejected", "unknown_point")
    assert case_count(hub) == before
    logged_once(hub, f"{result.envelope_id}: rejected unknown_point")


def test_envelope_sealed_to_a_key_the_hub_does_not_hold_is_rejected(hub):
    point = hub.village
    point.seq += 1
    wrong = seal_envelope(kind=Kind.SUBMIT, payload={"x": 1}, sender_id=point.point_id, seq=point.seq,
                          sender_key=point.identity.sign_key, recipient_key=Identity.generate().enc_key.public_key())
    before = case_count(hub)
    [result] = point.push(wrong.to_bytes())
    assert (result.status, result.reason) == ("rejected", "unknown_key")
    assert case_count(hub) == before
    logged_once(hub, f"{result.envelope_id}: rejected unknown_key")


def test_a_replayed_envelope_is_a_duplicate_and_applied_once(hub):
    envelope = hub.village.submit()
    before = case_count(hub)
    assert hub.village.push(envelope)[0].status == "accepted"
    [again] = hub.village.push(envelope)
    assert again.status == "duplicate"
    assert case_count(hub) == before + 1
    logged_once(hub, f"{again.envelope_id}: duplicate")


def signed_pull_headers(point: Point, *, as_point: uuid.UUID | None = None) -> dict[str, str]:
    return sign_request(method="GET", path="/sync/v1/pull", query="after=0", body=b"",
                        point_id=str(as_point or point.point_id), key=point.identity.sign_key)


def test_a_replayed_request_is_refused(hub):
    headers = signed_pull_headers(hub.village)
    first = httpx.get(hub.hub.url + "/sync/v1/pull?after=0", headers=headers)
    again = httpx.get(hub.hub.url + "/sync/v1/pull?after=0", headers=headers)
    assert first.status_code in (200, 204)
    assert again.status_code in (401, 403) and again.json()["reason"] == "replayed"
    logged_once(hub, f"from {hub.village.point_id}: 401 replayed")


def test_a_point_cannot_ask_for_another_points_messages(hub):
    forged = signed_pull_headers(hub.village, as_point=hub.other.point_id)
    answer = httpx.get(hub.hub.url + "/sync/v1/pull?after=0", headers=forged)
    assert answer.status_code in (401, 403) and answer.json()["reason"] == "bad_signature"
    logged_once(hub, f"from {hub.other.point_id}: 401 bad_signature")


def test_an_oversized_body_is_refused_before_it_is_read(hub):
    port = int(hub.hub.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"POST /sync/v1/push HTTP/1.1\r\nHost: hub\r\nContent-Type: " + CONTENT_TYPE.encode()
                     + b"\r\nContent-Length: 500000000\r\n\r\n" + b"PKF1")
        answer = sock.recv(4096).decode("latin-1")
    assert answer.split()[1] == "413", answer[:200]
    # Refused by the server before the app saw it, and still under the security headers (issue 27).
    head = {name.lower(): value for name, _, value in
            (line.partition(": ") for line in answer.split("\r\n\r\n")[0].split("\r\n")[1:])}
    assert head["x-content-type-options"] == "nosniff" and head["x-frame-options"] == "DENY", head
    assert "frame-ancestors 'none'" in head["content-security-policy"] and head["cache-control"] == "no-store", head
    logged_once(hub, "refused POST /sync/v1/push before reading it: RequestEntityTooLarge")


@pytest.mark.parametrize("body, reason", [
    (b"", "malformed"),
    (b"PKF1\x00\x00\x00\x02\x00\x00\x00\x10abc", "truncated"),
    (b"GARBAGE-NOT-FRAMES", "malformed"),
    (encode_frames([b"x" * 10]) + b"trailing", "malformed"),
])
def test_truncated_and_malformed_framing_is_refused(hub, body, reason):
    before = hub_log(hub).count(f"400 {reason}")
    answer = httpx.post(hub.hub.url + "/sync/v1/push", content=body, headers={"Content-Type": CONTENT_TYPE})
    assert answer.status_code == 400 and answer.json()["reason"] == reason
    assert hub_log(hub).count(f"400 {reason}") == before + 1


def test_a_truncated_envelope_inside_good_framing_is_rejected(hub):
    envelope = hub.village.submit()
    [result] = hub.village.push(envelope[:100])
    assert (result.status, result.reason) == ("rejected", "truncated")
    assert Envelope.parse(envelope)
    logged_once(hub, f"{result.envelope_id}: rejected truncated")


SQL_NAME = "Robert'); DROP TABLE \"case\";--"


def test_sql_like_strings_are_stored_verbatim_and_break_nothing(hub):
    before = case_count(hub)
    [result] = hub.village.push(hub.village.submit(name=SQL_NAME))
    assert result.status == "accepted"
    assert case_count(hub) == before + 1
    admin = httpx.Client(base_url=hub.hub.url)
    token = admin.post("/api/login", json={"username": "admin", "password": hub.hub.logins["admin"]}).json()["token"]
    admin.headers["Authorization"] = f"Bearer {token}"
    names = [admin.get(f"/api/cases/{c['case_id']}").json()["applicant"]["name"]
             for c in admin.get("/api/queue").json()["cases"]]
    assert SQL_NAME in names
