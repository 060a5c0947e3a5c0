"""Envelope sizes and sealing speed for each suite: what the post-quantum option costs.

Seals a typical SUBMIT (one medical-insurance enrolment) with the default
X25519 suite and with the hybrid ML-KEM-768 + X25519 suite, and prints the
bytes on the wire and seal/verify+open rates. Ends with one RESULT line.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid

from sync.envelope import Envelope, Kind, seal_envelope
from sync.keys import Identity, Suite
from sync.clock import uuid7
from sync.kit.idnumber import check_character

PAYLOAD = {
    "case_id": str(uuid7()),
    "receipt_no": "20261129-7137E6-0001",
    "item_code": "451030-YB-001",
    "catalog_version": 3,
    "applicant": {"name": "韦秀兰", "id_number": "45102719800101234" + check_character("45102719800101234"),
                  "phone": "13807761234"},
    "form": {"insured_category": "普通居民"},
    "materials": ["id_card", "hukou"],
    "received_at": "2026-11-29T09:12:33+08:00",
    "promised_date": "2026-11-30",
    "staff": "staff",
}


def measure(suite: Suite, rounds: int) -> dict[str, float]:
    hub = Identity.generate(post_quantum=True)
    point = Identity.generate()
    recipient = next(key for key in hub.recipient_keys() if key.suite == suite)
    opening = hub.opening_keys()
    started = time.perf_counter()
    sealed = [seal_envelope(kind=Kind.SUBMIT, payload=PAYLOAD, sender_id=uuid.UUID(int=1), seq=n + 1,
                            sender_key=point.sign_key, recipient_key=recipient).to_bytes() for n in range(rounds)]
    seal_seconds = time.perf_counter() - started
    started = time.perf_counter()
    for data in sealed:
        envelope = Envelope.parse(data)
        envelope.verify(point.sign_key.public_key())
        envelope.open(opening)
    open_seconds = time.perf_counter() - started
    return {"bytes": len(sealed[0]), "seal_per_s": rounds / seal_seconds, "open_per_s": rounds / open_seconds}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=500, help="envelopes sealed and opened per suite")
    args = parser.parse_args()
    plain = len(str(PAYLOAD).encode("utf-8"))
    results = {suite: measure(suite, args.rounds) for suite in (Suite.X25519_CHACHA, Suite.MLKEM768_X25519_CHACHA)}
    print(f"payload: one SUBMIT, about {plain} bytes of form data before compression")
    print(f"{'suite':<26} {'bytes/envelope':>15} {'seal/s':>10} {'verify+open/s':>14}")
    for suite, figures in results.items():
        print(f"{suite.name:<26} {figures['bytes']:>15} {figures['seal_per_s']:>10.0f} {figures['open_per_s']:>14.0f}")
    classic, hybrid = results[Suite.X25519_CHACHA], results[Suite.MLKEM768_X25519_CHACHA]
    extra = hybrid["bytes"] - classic["bytes"]
    print(f"RESULT classic_bytes={classic['bytes']} pq_bytes={hybrid['bytes']} pq_extra_bytes={extra} "
          f"classic_open_per_s={classic['open_per_s']:.0f} pq_open_per_s={hybrid['open_per_s']:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
