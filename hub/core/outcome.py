"""What one envelope from a point came to at the hub: its fate, and why, as the point is told.

Every step that applies a point's envelope (ingest, each intent, reconciliation) comes back with one
``Outcome``; the push answer, the relay's answer and a USB bundle's report carry it as
``{"status", "reason", "message"}`` (docs/architecture.md, "Push").
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Fate(StrEnum):
    """The four answers a point can get for an envelope."""

    ACCEPTED = "accepted"  # applied (``reason`` may add a remark: parked, unknown_item, …)
    DUPLICATE = "duplicate"  # the hub had it already; nothing changed
    CONFLICT = "conflict"  # stored and parked for an operator
    REJECTED = "rejected"  # refused; the point quarantines it and tells its staff


@dataclass(frozen=True)
class Outcome:
    """An envelope's fate, a machine-readable reason and a message for the point's staff (English)."""

    fate: Fate
    reason: str = ""
    message: str = ""

    @classmethod
    def accepted(cls, message: str, *, reason: str = "") -> Outcome:
        return cls(Fate.ACCEPTED, reason, message)

    @classmethod
    def duplicate(cls, reason: str, message: str) -> Outcome:
        return cls(Fate.DUPLICATE, reason, message)

    @classmethod
    def conflict(cls, reason: str, message: str) -> Outcome:
        return cls(Fate.CONFLICT, reason, message)

    @classmethod
    def rejected(cls, reason: str, message: str) -> Outcome:
        return cls(Fate.REJECTED, reason, message)

    @property
    def refused(self) -> bool:
        return self.fate is Fate.REJECTED


@dataclass(frozen=True)
class Answer:
    """The hub's answer for one envelope of a push, a relayed batch or a bundle."""

    envelope_id: str
    outcome: Outcome

    def as_dict(self) -> dict[str, str]:
        """As the push endpoint returns it."""
        return {"envelope_id": self.envelope_id, "status": str(self.outcome.fate), "reason": self.outcome.reason,
                "message": self.outcome.message}
