"""The residents' status kiosk: a receipt number and its pickup code show where a case stands, with no staff login.

A resident types the receipt number as she reads it off the paper: lower case, with spaces around it, or with a
Chinese input method's full-width digits and dash. The kiosk reads all of these as the printed number.

The kiosk must not tell anyone which receipt numbers exist: a number no case has and a wrong pickup code get the
same refusal, with no count of tries left (that count exists only for a real case). Wrong codes on a real case
still count towards the kiosk's own lock (pickup.check_pickup_code), and an unknown number costs the same password
check as a known one, so the time of the answer tells nothing either.
"""

from __future__ import annotations

import secrets
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache

from sqlmodel import Session

from sync.kit.passwords import hash_password, verify_password

from .pickup import PickupError, check_pickup_code, find_case, held_at_hub
from .progress import CaseDates, case_dates, stage
from .state import as_utc

RECEIPT_NO_MAX = 40
# Dashes a resident's keyboard or input method may type for the receipt's "-".
_DASHES = str.maketrans({"\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2212": "-",
                         "\u30fc": "-", "\uff70": "-"})
# Stages whose answer has no date: the case ended without a result to collect here.
_UNDATED = ("collected_elsewhere", "withdrawn", "merged", "refused", "send_problem")


@dataclass(frozen=True)
class KioskAnswer:
    """What the kiosk shows for one case: never the name in full, never an id."""

    receipt_no: str
    item_name: str
    masked_name: str
    stage: str
    dates: CaseDates
    # The date the answer line names: the collection day once collected, else the promised date (None: no date).
    date_kind: str | None
    date: date | datetime | None


def normalize_receipt_no(typed: str) -> str:
    """The receipt number as printed (upper case, ASCII digits and dashes), from what a resident typed."""
    text = unicodedata.normalize("NFKC", typed or "").translate(_DASHES)
    return "".join(text.split()).upper()[:RECEIPT_NO_MAX]


def look_up(session: Session, receipt_no: str, pickup_code: str, *, masked_name) -> KioskAnswer:
    """The kiosk's answer for ``receipt_no`` (as typed) and ``pickup_code``, or a PickupError whose reason is
    ``wrong_pickup_code`` alike for an unknown number and a wrong code; ``pickup_locked``, ``held_at_hub`` and
    ``no_pickup_code_here`` as pickup.py says."""
    key = normalize_receipt_no(receipt_no)
    case = find_case(session, key) if key else None
    if case is None and key and held_at_hub(session, key):
        raise PickupError("held_at_hub", "this point no longer holds the case; the county does")
    if case is None or case.receipt_no != key:
        verify_password(pickup_code or "", _no_case_hash())
        raise PickupError("wrong_pickup_code", "wrong receipt number or pickup code")
    try:
        check_pickup_code(session, case, pickup_code, "kiosk")
    except PickupError as exc:
        if exc.reason == "wrong_pickup_code":
            raise PickupError("wrong_pickup_code", "wrong receipt number or pickup code") from None
        raise
    where = stage(case)
    dates = case_dates(case)
    if where == "collected":
        date_kind, when = "collected", as_utc(case.collected_at) if case.collected_at else None
    elif where in _UNDATED:
        date_kind, when = None, None
    else:
        date_kind, when = "promised", dates.promised
    return KioskAnswer(receipt_no=case.receipt_no, item_name=case.item_name, masked_name=masked_name(case.applicant_name),
                       stage=where, dates=dates, date_kind=date_kind if when else None, date=when)


@cache
def _no_case_hash() -> str:
    """A pickup code hash no case has, checked for an unknown receipt number so that it costs what a known one does."""
    return hash_password(secrets.token_hex(8))
