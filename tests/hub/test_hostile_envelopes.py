"""One bad envelope is refused alone, never a 500 for the batch: directly, through a township, on a USB stick.

A hostile (or broken) point signs envelopes whose payloads carry extreme values: integers past every
column, times in year 1 or 9999, JSON nested 200,000 deep, wrong types, strings longer than any field,
text no database can store, sequence numbers past what the hub stores. Each such envelope must come back
``rejected`` with a machine reason and a message, be kept for the operator where it can be stored, and
leave the good envelopes beside it applied: on the direct push, through a township relay and in a bundle.
"""

from __future__ import annotations

import os
import uuid
import zlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import hpke
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import select

from hub.cli import main as hub_cli
from hub.trust.enrollment import create_enrollment_token
from hub.core.models import Case, RawEnvelope
from hub.web.relay import assign_relay
from tests.hub.hubkit import FakePoint, Hub, resident_id
from pointkit import create_app as create_point_app
from pointkit import db as point_db
from pointkit.enrollment import enroll
from pointkit.intake import Applicant, receive_case
from pointkit.models import Outbox, ScanFile
from pointkit.scans import ScanInput, prepare_scans
from pointkit.state import load_identity
from pointkit.syncagent import sync_once
from sync.envelope import Envelope, Header, Kind, seal_envelope
from sync.client import HubClient
from sync.canonical import canonical_json
from sync.framing import encode_frames
from sync.bundle import write_bundle
from sync.clock import now_ms, uuid7
from sync.envelope import MAX_SEQ
from sync.keys import Suite
from sync.messages import MAX_CLOCK_OFFSET_MS, MAX_FORM_VALUE

TOWNSHIP = "八达镇政务服务中心"
VILLAGES = ("八达镇周邦村便民服务站", "八达镇新丰村便民服务站")
REASONS = {"malformed", "out_of_range", "too_deep", "too_large", "invalid_payload"}
EXAMPLES = settings(max_examples=12, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                           HealthCheck.data_too_large])
# Stands for a value canonical JSON cannot carry (deep nesting, unpaired surrogates): replaced in the bytes.
RAW = "\x01raw\x01"


def seal_plaintext(point: FakePoint, kind: Kind, plaintext: bytes, *, seq: int | None = None) -> bytes:
    """An envelope around any plaintext, sealed and signed by the book (docs/architecture.md, "Envelope")
    instead of by seal_envelope, which seals only what canonical JSON can say: what a hostile point sends."""
    if seq is None:
        point.seq += 1
        seq = point.seq
    assert point.recipient.suite == Suite.X25519_CHACHA
    header = Header(kind=kind, envelope_id=uuid7(), sender_id=point.point_id, seq=seq,
                    recipient_key_id=point.recipient.key_id, sender_clock_ms=now_ms())
    header_bytes = header.pack()
    suite = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.CHACHA20_POLY1305)
    ciphertext = suite.encrypt(zlib.compress(plaintext), point.recipient.hpke_public(),
                               info=b"pointkit/v1 envelope" + header_bytes)
    signature = point.identity.sign_key.sign(Envelope(header, header_bytes, ciphertext, b"").signed_bytes())
    return Envelope(header, header_bytes, ciphertext, signature).to_bytes()


# -- what a hostile point puts in a payload ----------------------------------------------------------------

def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def base_payload(kind: Kind, point: FakePoint) -> dict:
    """A payload of ``kind`` the hub's schema accepts as it is."""
    case_id = str(uuid.uuid4())
    return {
        Kind.SUBMIT: lambda: point.submit(),
        Kind.AMEND: lambda: {"case_id": case_id, "base_version": 1, "form": {"insured_category": "普通居民"},
                             "amended_at": _now(), "staff": "staff"},
        Kind.WITHDRAW: lambda: {"case_id": case_id, "base_version": 1, "reason": "", "withdrawn_at": _now(),
                                "staff": "staff"},
        Kind.SUPPLEMENT: lambda: {"case_id": case_id, "materials": ["hukou"], "note": "", "supplemented_at": _now(),
                                  "staff": "staff"},
        Kind.RATE: lambda: {"case_id": case_id, "score": 3, "comment": "", "rated_at": _now()},
        Kind.COLLECTED: lambda: {"case_id": case_id, "collected_at": _now(), "staff": "staff"},
    }[kind]()


# Where each kind's payload takes a value, and what sort of value: a stored number, a clock offset, a score,
# a time, a date, or a string with its longest length.
FIELDS: dict[Kind, list[tuple[tuple, str, int]]] = {
    Kind.SUBMIT: [(("catalog_version",), "count", 0), (("clock_offset_ms",), "offset", 0),
                  (("received_at",), "time", 0), (("promised_date",), "date", 0), (("case_id",), "text", 36),
                  (("receipt_no",), "text", 40), (("item_code",), "text", 64), (("staff",), "text", 64),
                  (("applicant", "name"), "text", 64), (("applicant", "id_number"), "text", 18),
                  (("applicant", "phone"), "text", 20), (("form", "insured_category"), "text", MAX_FORM_VALUE),
                  (("materials", 0), "text", 64)],
    Kind.AMEND: [(("base_version",), "count", 0), (("amended_at",), "time", 0),
                 (("form", "insured_category"), "text", MAX_FORM_VALUE)],
    Kind.WITHDRAW: [(("base_version",), "count", 0), (("withdrawn_at",), "time", 0), (("reason",), "text", 500)],
    Kind.SUPPLEMENT: [(("supplemented_at",), "time", 0), (("note",), "text", 2000), (("materials", 0), "text", 64)],
    Kind.RATE: [(("score",), "score", 0), (("rated_at",), "time", 0), (("comment",), "text", 500)],
    Kind.COLLECTED: [(("collected_at",), "time", 0), (("staff",), "text", 64)],
}

BEYOND_COUNTS = st.one_of(st.integers(min_value=2**31, max_value=2**80), st.integers(min_value=-2**80, max_value=-1),
                          st.sampled_from([2**63, 2**64 - 1, 10**18]))
BEYOND_OFFSETS = st.one_of(st.integers(min_value=MAX_CLOCK_OFFSET_MS + 1, max_value=2**80),
                           st.integers(min_value=-2**80, max_value=-MAX_CLOCK_OFFSET_MS - 1),
                           st.sampled_from([10**18, -10**18]))
BEYOND_SCORES = st.one_of(st.integers(max_value=0, min_value=-2**70), st.integers(min_value=6, max_value=2**70))
FAR_ZONES = st.sampled_from([timezone.utc, timezone(timedelta(hours=14)), timezone(timedelta(hours=-12))])
FAR_TIMES = st.one_of(
    st.datetimes(max_value=datetime(1969, 12, 30), timezones=FAR_ZONES).map(datetime.isoformat),
    st.datetimes(min_value=datetime(2200, 1, 2), timezones=FAR_ZONES).map(datetime.isoformat),
    st.sampled_from(["9999-12-31T23:59:59+00:00", "9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00",
                     10**20, -10**20]))
FAR_DATES = st.one_of(st.dates(max_value=datetime(1969, 12, 31).date()),
                      st.dates(min_value=datetime(2200, 1, 1).date())).map(lambda day: day.isoformat())
WRONG_FOR_TEXT = st.sampled_from([12, 1.5, True, None, [], {}, ["x"], {"a": "b"}])
WRONG_FOR_NUMBER = st.sampled_from(["x", "", 1.5, [], {}, [1], {"a": 1}])
UNSTORABLE_TEXT = st.sampled_from(["a\x00b", "\x00", RAW])  # RAW becomes an unpaired surrogate below


def extreme(sort: str, limit: int) -> st.SearchStrategy:
    """Values a field of ``sort`` never accepts."""
    if sort == "text":
        return st.one_of(st.integers(min_value=limit + 1, max_value=200_000).map(lambda n: "长" * n),
                         WRONG_FOR_TEXT, UNSTORABLE_TEXT)
    numbers = {"count": BEYOND_COUNTS, "offset": BEYOND_OFFSETS, "score": BEYOND_SCORES}
    if sort in numbers:
        return st.one_of(numbers[sort], WRONG_FOR_NUMBER)
    far = FAR_TIMES if sort == "time" else FAR_DATES
    return st.one_of(far, WRONG_FOR_NUMBER)


@st.composite
def bad_envelopes(draw, point: FakePoint) -> bytes:
    """A signed envelope from ``point`` the hub must refuse: one field (or the nesting, or the sequence number)
    out of every bound."""
    kind = draw(st.sampled_from(list(FIELDS)))
    payload = base_payload(kind, point)
    how = draw(st.sampled_from(["field", "field", "field", "nesting", "seq"]))
    raw = b""
    if how == "seq":
        return seal_envelope(kind=kind, payload=payload, sender_id=point.point_id,
                             seq=draw(st.sampled_from([MAX_SEQ + 1, 2**63 - 1, 2**63, 2**64 - 1])),
                             sender_key=point.identity.sign_key, recipient_key=point.recipient).to_bytes()
    path, sort, limit = draw(st.sampled_from(FIELDS[kind]))
    value = draw(extreme(sort, limit))
    if how == "nesting":
        depth = draw(st.one_of(st.integers(min_value=33, max_value=2000), st.just(200_000)))
        value, raw = RAW, b"[" * depth + b"]" * depth
    elif value == RAW:
        raw = b'"a\\ud800b"'
    target = payload
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    plaintext = canonical_json(payload)
    if raw:
        plaintext = plaintext.replace(canonical_json(RAW), raw)
    return seal_plaintext(point, kind, plaintext)


# -- the hub, a township, its villages ---------------------------------------------------------------------

def good_case(point: FakePoint) -> bytes:
    return point.seal(Kind.SUBMIT, point.submit())


def envelope_id(data: bytes) -> str:
    return str(uuid.UUID(bytes=data[8:24]))


def assert_refused_alone(hub: Hub, answers: dict[str, tuple[str, str, str]], bad: bytes, good: list[bytes]) -> None:
    """``bad`` rejected with a reason and a message, kept for the operator when it can be stored; every good
    one applied (its case at the hub)."""
    status, reason, message = answers[envelope_id(bad)]
    assert status == "rejected" and reason in REASONS and message, answers[envelope_id(bad)]
    assert [answers[envelope_id(data)][0] for data in good] == ["accepted"] * len(good), answers
    with hub.db() as session:
        kept = session.exec(select(RawEnvelope).where(RawEnvelope.envelope_id == envelope_id(bad))).first()
        applied = {raw.envelope_id for raw in session.exec(select(RawEnvelope).where(
            RawEnvelope.envelope_id.in_([envelope_id(data) for data in good]))).all() if raw.case_id}
    if int.from_bytes(bad[40:48], "big") <= MAX_SEQ:  # the header's seq (docs/architecture.md)
        assert kept is not None and (kept.outcome, kept.reason) == ("rejected", reason), "kept for the operator"
    else:
        assert kept is None, "a sequence number no column holds is answered, not stored"
    assert applied == {envelope_id(data) for data in good}


def test_a_bad_envelope_pushed_directly_is_refused_alone(hub):
    point = hub.enroll_point()

    @EXAMPLES
    @given(st.data())
    def pushed(data):
        bad = data.draw(bad_envelopes(point))
        good = [good_case(point), good_case(point)]
        results = point.client.push([good[0], bad, good[1]])  # raises on a 5xx
        assert_refused_alone(hub, {r.envelope_id: (r.status, r.reason, r.message) for r in results}, bad, good)

    pushed()


def deep_submit(point: FakePoint) -> bytes:
    payload = point.submit(form=RAW)
    return seal_plaintext(point, Kind.SUBMIT, canonical_json(payload).replace(
        canonical_json(RAW), b"[" * 200_000 + b"]" * 200_000))


ISSUE_EXAMPLES = {
    "nested 200,000 deep": deep_submit,
    "clock offset 10^18": lambda point: point.seal(Kind.SUBMIT, point.submit(clock_offset_ms=10**18)),
    "received 9999-12-31 plus an offset": lambda point: point.seal(Kind.SUBMIT, point.submit(
        received_at="9999-12-31T23:59:59+00:00", clock_offset_ms=86_400_000)),
    "seq 2^63": lambda point: point.seal(Kind.SUBMIT, point.submit(), seq=2**63),
}


def test_the_envelopes_of_the_report_are_refused_alone(hub):
    point = hub.enroll_point()
    bad = {what: make(point) for what, make in ISSUE_EXAMPLES.items()}
    good = [good_case(point) for _ in range(len(bad) + 1)]
    batch = [envelope for pair in zip(good, [*bad.values(), None]) for envelope in pair if envelope]
    answer = httpx.post(hub.url + "/sync/v1/push", content=encode_frames(batch),
                        headers={"Content-Type": "application/vnd.pointkit.frames"}, timeout=60)
    assert answer.status_code == 200, answer.text
    results = {r["envelope_id"]: (r["status"], r["reason"], r["message"]) for r in answer.json()["results"]}
    for envelope in bad.values():
        assert_refused_alone(hub, results, envelope, good)


class FailsOn(httpx.HTTPTransport):
    """The link to the hub, where a push carrying one given envelope is answered 500 (a hub bug it trips)."""

    def __init__(self, poison: bytes):
        super().__init__()
        self.poison = poison
        self.pushes = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/sync/v1/push":
            self.pushes += 1
            if self.poison in request.read():
                return httpx.Response(500, json={"error": "the hub failed", "reason": "internal_error"})
        return super().handle_request(request)


def receive(data_dir: Path, *, scan: bytes = b"") -> str:
    with point_db.session_scope(data_dir) as session:
        prepared = prepare_scans(data_dir, [ScanInput("hukou.pdf", scan, "hukou")]) if scan else []
        case, _ = receive_case(session, "staff", "451030-YB-001", Applicant("韦秀兰", resident_id(), "13807761234"),
                               {"insured_category": "普通居民"}, ["id_card", "hukou"],
                               identity=load_identity(data_dir), scans=prepared)
        return case.id


def outbox_states(data_dir: Path) -> list[str]:
    with point_db.session_scope(data_dir) as session:
        return [row.state for row in session.exec(select(Outbox).order_by(Outbox.seq)).all()]


def test_a_point_whose_envelope_makes_the_hub_fail_still_sends_the_others(hub, tmp_path):
    """Defence in depth at the point: a push answered 500 goes again envelope by envelope; the one the hub
    fails on stays queued and says why, the others are acknowledged, and the round goes on."""
    data = tmp_path / "point"
    enroll(data, hub_url=hub.url, token=hub.token("八达镇土黄村便民服务站"))
    cases = [receive(data) for _ in range(3)]
    with point_db.session_scope(data) as session:
        poison = session.exec(select(Outbox).order_by(Outbox.seq)).first().envelope
    link = FailsOn(poison)
    report = sync_once(data, transport=link, attempts=1)
    assert outbox_states(data) == ["queued", "acked", "acked"]
    assert report.accepted == 2 and any("HTTP 500" in error for error in report.errors), report
    with hub.db() as session:
        assert {case.id for case in session.exec(select(Case)).all()} == set(cases[1:])
    with point_db.session_scope(data) as session:
        assert "failed on this envelope" in session.exec(select(Outbox).order_by(Outbox.seq)).first().last_error
    # A hub that fails on every push is not searched envelope by envelope: the batch, then two alone.
    receive(data)
    everything = FailsOn(b"PKE")
    assert sync_once(data, transport=everything, attempts=1).accepted == 0
    assert everything.pushes == 3
    assert sync_once(data, attempts=1).accepted == 2
    assert outbox_states(data) == ["acked"] * 4


class Township:
    """A township point served on loopback, enrolled with the hub, relaying for two villages made of ``sync``."""

    def __init__(self, hub: Hub, tmp_path: Path, live_server):
        self.hub = hub
        self.data = tmp_path / "township"
        enroll(self.data, hub_url=hub.url, token=hub.token(TOWNSHIP, "township"))
        self.villages = []
        for name in VILLAGES:
            with hub.db() as session:
                token = create_enrollment_token(session, name=name, level="village", identity=hub.identity).token
                assign_relay(session, name, TOWNSHIP)
            village = FakePoint(hub, name, "village", token)
            self.villages.append(village)
        self.url = live_server(create_point_app(self.data, test_config={"TESTING": True})).url
        self.clients = [HubClient(self.url, attempts=1) for _ in self.villages]

    def push(self, index: int, envelopes: list[bytes]) -> dict[str, tuple[str, str, str]]:
        return {r.envelope_id: (r.status, r.reason, r.message) for r in self.clients[index].push(envelopes)}

    def close(self) -> None:
        for client in self.clients:
            client.close()
        point_db.dispose(self.data)


@pytest.fixture
def township(hub, tmp_path, live_server):
    running = Township(hub, tmp_path, live_server)
    yield running
    running.close()


def test_a_bad_village_envelope_is_refused_alone_through_the_township(hub, township):
    village, neighbour = township.villages

    @settings(EXAMPLES, max_examples=4)
    @given(st.data())
    def relayed(data):
        bad = data.draw(bad_envelopes(village))
        good, other = [good_case(village), good_case(village)], good_case(neighbour)
        own = receive(township.data)
        township.push(0, [good[0], bad, good[1]])
        township.push(1, [other])
        report = sync_once(township.data, attempts=1)
        assert not report.errors, report
        answers = township.push(0, [good[0], bad, good[1]])
        assert_refused_alone(hub, answers, bad, good)
        assert township.push(1, [other])[envelope_id(other)][0] == "accepted"
        with hub.db() as session:
            assert session.get(Case, own) is not None, "the township's own case went too"

    relayed()


def test_a_village_envelope_the_hub_fails_on_never_stops_the_townships_round(hub, township):
    village, neighbour = township.villages
    poison, good, other = good_case(village), good_case(village), good_case(neighbour)
    township.push(0, [poison, good])
    township.push(1, [other])
    own = receive(township.data, scan=os.urandom(70_000))
    report = sync_once(township.data, transport=FailsOn(poison), attempts=1)
    assert any("HTTP 500" in error for error in report.errors), report
    assert township.push(0, [poison, good]) == {envelope_id(poison): ("relayed", "", "held for the county hub"),
                                                envelope_id(good): ("accepted", "", "case received and routed")}
    assert township.push(1, [other])[envelope_id(other)][0] == "accepted"
    with hub.db() as session:
        assert session.get(Case, own) is not None
    with point_db.session_scope(township.data) as session:
        assert [row.state for row in session.exec(select(ScanFile)).all()] == ["uploaded"], "its scans went too"
    # The hub well again, the held envelope goes with the next round.
    sync_once(township.data, attempts=1)
    assert township.push(0, [poison])[envelope_id(poison)][0] == "accepted"


def test_a_hostile_bundle_gets_an_outcome_for_every_envelope(hub, tmp_path):
    point = hub.enroll_point()
    fingerprint = hub.identity.fingerprint
    runner = CliRunner()

    @settings(EXAMPLES, max_examples=6)
    @given(st.data())
    def imported(data):
        bad = [data.draw(bad_envelopes(point)) for _ in range(2)]
        good = [good_case(point), good_case(point)]
        path = tmp_path / f"{uuid.uuid4()}.pkb"
        write_bundle(path, [good[0], bad[0], good[1], bad[1]], signer=point.identity.sign_key,
                     sender_id=point.point_id, recipient=fingerprint, cursor=2**70)
        done = runner.invoke(hub_cli, ["import-bundle", str(path), "--data", str(hub.data_dir)])
        assert done.exit_code == 0 and done.exception is None, done.output
        # One line per envelope: id, status, reason ("-" for none).
        answers = {line.split("\t")[0]: (line.split("\t")[1], line.split("\t")[2].strip("-"), line)
                   for line in done.output.splitlines() if line.count("\t") == 2}
        assert len(answers) == 4, done.output
        for one in bad:
            assert_refused_alone(hub, answers, one, good)

    imported()
