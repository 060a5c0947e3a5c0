"""``pointkit-hub audit verify``: the chain's links, the heads kept outside the database, the live rows.

Four checks, each naming the entry it found wrong: the chains themselves (an entry edited, removed or moved,
hub/core/audit.py); the county heads that bind them (hub/trust/countyheads.py); the signed heads in ``DATA/audit-heads.log`` and those points hold (entries cut off the end,
hub/trust/auditheads.py); and every case, review task, 补正 round and timeline line against the newest entry that
recorded it (a row edited in the database, hub/core/auditrows.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlmodel import Session

from sync.audit import AuditProblem

from hub.core.audit import ChainReport, verify_audit
from hub.core.auditrows import cross_check
from hub.trust.auditheads import anchored_heads, check_anchored_heads, heads_file
from hub.trust.countyheads import verify_county_heads
from hub.trust.keys import Keyring


@dataclass(frozen=True)
class AuditFindings:
    """What ``check_audit`` found: the chain's own report, every other problem, and what it was checked against."""

    chain: ChainReport
    problems: list[AuditProblem]
    anchored: int
    point_heads: int

    @property
    def holds(self) -> bool:
        return self.chain.broken is None and not self.problems


def check_audit(session: Session, data_dir: Path, keyring: Keyring,
                point_heads: list[tuple[str, Any]] = ()) -> AuditFindings:
    """Run every check; ``point_heads`` as ``hub.trust.auditheads.read_point_heads`` reads them."""
    chain = verify_audit(session)
    problems = (verify_county_heads(session) + check_anchored_heads(session, data_dir, keyring, point_heads)
                + cross_check(session))
    return AuditFindings(chain, problems, len(anchored_heads(heads_file(data_dir))), len(point_heads))
