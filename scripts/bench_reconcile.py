"""Reconciliation at scale: 100 points × 100 cases, 5% of them made into conflicts of mixed types.

Each point is a real key pair enrolled in-process (``hub.trust.enrollment.enroll``);
its envelopes are sealed with ``sync`` exactly as a point seals them and fed,
one push batch per point, through ``hub.intake.ingest.ingest_envelopes`` — the
function the push endpoint calls (no HTTP, so the figure is the hub's own
work). Injected: duplicate applications (same and other point), identity
mismatches, catalog drift, forks (a seq reused with other content),
withdrawals and amendments after the decision, and amendments against an
older version (same field: a conflict; other field: a parallel update the hub
merges, which must *not* be counted). Ends with one line
``RESULT detected=N expected=N false_positives=N seconds=S``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlmodel import Session, select  # noqa: E402

from hub.trust.accounts import create_staff
from hub.catalog.versions import import_catalog, load_catalog_file
from hub.core.db import DATABASE_URL_ENV, database_url, make_engine
from hub.trust.enrollment import create_enrollment_token, enroll
from hub.intake.ingest import ingest_envelopes
from hub.instance import initialize
from hub.trust.keys import load_keyring
from hub.core.models import Case, Conflict, Staff
from hub.reconcile.arrival import apply_fields
from hub.approval.review import decide
from sync.keys import Identity, RecipientKey
from sync.envelope import Kind, seal_envelope
from sync.signing import sign_document
from sync.clock import utcnow, uuid7
from sync.catalog import CatalogFile
from sync.kit.idnumber import check_character

SAMPLE_CATALOG = ROOT / "hub" / "data" / "sample_catalog.json"
ITEM = "451030-YB-001"  # single route, one form field: cheap to decide
DRIFTED = "451030-RS-002"  # its required materials change in catalog version 2
KINDS = ("duplicate", "identity", "catalog_drift", "fork", "after_decision", "same_field")


class BenchPoint:
    """A point made of ``sync`` only: keys, a sequence counter, the cases it sent."""

    def __init__(self, session: Session, keyring, index: int):
        self.name = f"bench-point-{index:03d}"
        self.identity = Identity.generate()
        token = create_enrollment_token(session, name=self.name, level="village", identity=keyring.current).token
        claim = {"token": token, "name": self.name, **self.identity.public().to_json()}
        answer = enroll(session, token=token, name=self.name, proof=sign_document(claim, self.identity.sign_key)[
            "signature"], sign_public_key=claim["sign_public_key"], enc_public_key=claim["enc_public_key"],
            keyring=keyring)
        self.point_id = uuid.UUID(answer["point_id"])
        self.recipient = RecipientKey.from_json(answer["recipients"][0])
        self.seq = 0
        self.frames: list[bytes] = []
        self.sent: list[tuple[int, dict[str, Any]]] = []

    def queue(self, kind: Kind, payload: dict[str, Any], seq: int | None = None) -> int:
        if seq is None:
            self.seq += 1
            seq = self.seq
        self.frames.append(seal_envelope(kind=kind, payload=payload, sender_id=self.point_id, seq=seq,
                                         sender_key=self.identity.sign_key, recipient_key=self.recipient).to_bytes())
        return seq


class Residents:
    """Distinct valid ID numbers."""

    def __init__(self, rng: random.Random):
        self.rng, self.used = rng, set()

    def new(self) -> str:
        while True:
            born = date(1940, 1, 1) + timedelta(days=self.rng.randrange(365 * 60))
            first17 = f"451027{born:%Y%m%d}{self.rng.randrange(1000):03d}"
            if first17 not in self.used:
                self.used.add(first17)
                return first17 + check_character(first17)


def submit(item: str, id_number: str, name: str, version: int) -> dict[str, Any]:
    case_id = str(uuid7())  # as a point makes them (pointkit/intake.py)
    # The random tail: a uuid7 begins with its millisecond, which cases made together share.
    return {"case_id": case_id, "receipt_no": f"B-{case_id[-12:]}", "item_code": item, "catalog_version": version,
            "applicant": {"name": name, "id_number": id_number, "phone": ""}, "form": {"insured_category": "普通居民"},
            "materials": ["id_card", "hukou"], "received_at": utcnow().isoformat(), "staff": "bench"}


def amend(case_id: str, field: str, value: str) -> dict[str, Any]:
    return {"case_id": case_id, "base_version": 1, "form": {field: value}, "amended_at": utcnow().isoformat(),
            "staff": "bench"}


def drifted_catalog() -> CatalogFile:
    """Catalog version 2: the drifted item asks for one more required material."""
    data = json.loads(SAMPLE_CATALOG.read_text(encoding="utf-8"))
    for item in data["items"]:
        if item["code"] == DRIFTED:
            item["materials"].append({"code": "income", "name_zh": "收入证明", "name_en": "Income proof",
                                      "required": True})
    return CatalogFile.model_validate(data)


def run(points: int, cases: int, rate: float, seed: int, work: Path) -> dict[str, Any]:
    rng = random.Random(seed)
    initialize(work, admin_user="admin", admin_password="bench-admin-pass")
    engine = make_engine(database_url(work))
    residents = Residents(rng)
    expected: set[tuple[str, str]] = set()
    parallel: set[str] = set()
    with Session(engine, expire_on_commit=False) as session:
        keyring = load_keyring(session, work)
        import_catalog(session, load_catalog_file(SAMPLE_CATALOG), identity=keyring.current)
        import_catalog(session, drifted_catalog(), identity=keyring.current)
        create_staff(session, username="yb-bench", password="bench-reviewer", role="reviewer",
                     department_code="YB")
        fleet = [BenchPoint(session, keyring, index) for index in range(points)]
        session.commit()
        reviewer = session.exec(select(Staff).where(Staff.username == "yb-bench")).one()

        # Round 1: every point's cases; some of them are the other half of a later injection.
        people: list[tuple[BenchPoint, dict[str, Any]]] = []
        for point in fleet:
            for _ in range(cases):
                payload = submit(ITEM, residents.new(), "韦秀兰", 2)
                point.queue(Kind.SUBMIT, payload)
                people.append((point, payload))
        injections = max(len(KINDS), round(points * cases * rate))
        targets = rng.sample(people, injections * 2)
        started = time.perf_counter()
        _push_all(session, fleet, keyring)

        # Hub-side changes the injections build on: decisions, and an operator's correction (a newer version).
        plan = [(KINDS[index % len(KINDS)], targets[2 * index], targets[2 * index + 1]) for index in range(injections)]
        for kind, (point, payload), _ in plan:
            if kind == "after_decision":
                decide(session, case_id=payload["case_id"], staff=reviewer, decision="approved",
                       identity=keyring.current)
            elif kind == "same_field":
                apply_fields(session, session.get(Case, payload["case_id"]), {"insured_category": "学生"},
                             point_id=None, seq=0, source="operator", actor="bench-operator")
        session.commit()

        # Round 2: the injections, plus parallel updates that must merge without a conflict.
        for kind, (point, payload), (other, _) in plan:
            applicant = payload["applicant"]
            if kind == "duplicate":
                twin = submit(ITEM, applicant["id_number"], applicant["name"], 2)
                (point if rng.random() < 0.5 else other).queue(Kind.SUBMIT, twin)
                expected.add((kind, twin["case_id"]))
            elif kind == "identity":
                renamed = submit("451030-YB-007", applicant["id_number"], "韦秀英", 2)
                (other if other is not point else fleet[(fleet.index(point) + 1) % points]).queue(Kind.SUBMIT,
                                                                                                 renamed)
                expected.add((kind, renamed["case_id"]))
            elif kind == "catalog_drift":
                old = submit(DRIFTED, residents.new(), "黄丽", 1)
                point.queue(Kind.SUBMIT, old)
                expected.add((kind, old["case_id"]))
            elif kind == "fork":
                restored = submit(ITEM, residents.new(), "陆海", 2)
                point.queue(Kind.SUBMIT, restored, seq=rng.randrange(1, point.seq + 1))
                expected.add((kind, restored["case_id"]))
            elif kind == "after_decision":
                if rng.random() < 0.5:
                    point.queue(Kind.WITHDRAW, {"case_id": payload["case_id"], "base_version": 1, "reason": "",
                                                "withdrawn_at": utcnow().isoformat(), "staff": "bench"})
                else:
                    point.queue(Kind.AMEND, amend(payload["case_id"], "insured_category", "学生"))
                expected.add((kind, payload["case_id"]))
            elif kind == "same_field":
                point.queue(Kind.AMEND, amend(payload["case_id"], "insured_category", "老人"))
                expected.add((kind, payload["case_id"]))
        for kind, _, (point, payload) in plan:
            if kind == "same_field":
                parallel.add(payload["case_id"])
                apply_fields(session, session.get(Case, payload["case_id"]), {"insured_category": "学生"},
                             point_id=None, seq=0, source="operator", actor="bench-operator")
                point.queue(Kind.AMEND, amend(payload["case_id"], "phone_note", "夜间联系"))
        session.commit()
        _push_all(session, fleet, keyring)
        seconds = time.perf_counter() - started

        found = {(conflict.kind, conflict.case_id) for conflict in session.exec(
            select(Conflict).where(Conflict.status == "open")).all()}
        merged = {conflict.case_id for conflict in session.exec(
            select(Conflict).where(Conflict.status == "merged")).all()}
        total_cases = len(session.exec(select(Case.id)).all())
    engine.dispose()
    return {"points": points, "cases": total_cases, "injected": Counter(kind for kind, _ in expected),
            "detected": len(found & expected), "expected": len(expected), "false_positives": len(found - expected),
            "missed": sorted(expected - found)[:5], "parallel_merged": len(parallel & merged),
            "parallel_expected": len(parallel), "seconds": seconds}


def _push_all(session: Session, fleet: list[BenchPoint], keyring) -> None:
    for point in fleet:
        frames, point.frames = point.frames, []
        for start in range(0, len(frames), 50):
            for result in ingest_envelopes(session, frames[start:start + 50], keyring=keyring).results:
                if result["status"] == "rejected":
                    raise SystemExit(f"{point.name}: envelope rejected: {result['reason']} {result['message']}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=100, help="points sending cases (default 100)")
    parser.add_argument("--cases", type=int, default=100, help="cases per point (default 100)")
    parser.add_argument("--conflict-rate", type=float, default=0.05, help="share of cases made into conflicts")
    parser.add_argument("--seed", type=int, default=7, help="random seed, for a repeatable run")
    parser.add_argument("--database-url", default=None, help="a PostgreSQL URL instead of SQLite in a temp dir")
    args = parser.parse_args()
    if args.database_url:
        os.environ[DATABASE_URL_ENV] = args.database_url
    work = Path(tempfile.mkdtemp(prefix="bench-reconcile-"))
    try:
        figures = run(args.points, args.cases, args.conflict_rate, args.seed, work / "hub")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    backend = "PostgreSQL" if args.database_url else "SQLite"
    print(f"{figures['points']} points, {figures['cases']} cases on {backend}, fed through hub.intake.ingest.ingest_envelopes")
    print("injected: " + ", ".join(f"{kind} {count}" for kind, count in sorted(figures["injected"].items())))
    print(f"parallel updates merged without a conflict: {figures['parallel_merged']}/{figures['parallel_expected']}")
    if figures["missed"]:
        print(f"missed (first 5): {figures['missed']}")
    print(f"ingest and reconcile: {figures['seconds']:.1f} s")
    print(f"RESULT detected={figures['detected']} expected={figures['expected']} "
          f"false_positives={figures['false_positives']} seconds={figures['seconds']:.1f}")
    return 0 if figures["detected"] == figures["expected"] and not figures["false_positives"] else 1


if __name__ == "__main__":
    sys.exit(main())
