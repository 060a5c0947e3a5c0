"""What the pages call each special procedure (sync.catalog.SPECIAL_PROCEDURES): the case page, its timeline and
the supervision page word them from here."""

from __future__ import annotations

from flask_babel import lazy_gettext

PROCEDURE_NAMES = {
    "hearing": lazy_gettext("Hearing"),
    "tender": lazy_gettext("Tender"),
    "auction": lazy_gettext("Auction"),
    "inspection": lazy_gettext("Inspection"),
    "testing": lazy_gettext("Testing"),
    "quarantine": lazy_gettext("Quarantine"),
    "appraisal": lazy_gettext("Appraisal"),
    "expert_review": lazy_gettext("Expert review"),
    "publicity": lazy_gettext("Publicity"),
    "site_check": lazy_gettext("Site check"),
}


def procedure_name(kind: str) -> str:
    """The page's name of a procedure kind (an unknown kind as it is)."""
    return str(PROCEDURE_NAMES.get(kind, kind))
