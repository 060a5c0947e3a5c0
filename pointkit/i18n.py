"""The words the point's pages show for stored values: states, levels, decisions, the hub's outcomes, sync steps and
problems, field problems and material forms. Each table is keyed by the stored value and holds lazy_gettext
messages, so ``pybabel extract`` sees every one and the catalogs (pointkit/translations) say them in the page's
language."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from flask_babel import gettext, lazy_gettext, ngettext
from flask_babel.speaklater import LazyString

from sync.kit import idnumber

from . import certificates, intake, referrals, scans, syncagent
from .progress import COLLECTED_HERE, case_dates

TRANSLATIONS = Path(__file__).parent / "translations"

STATUS_LABELS = {
    "received": lazy_gettext("Received at the window"),
    "queued": lazy_gettext("Queued to send"),
    "sent": lazy_gettext("Sent, awaiting confirmation"),
    "acked": lazy_gettext("With the county hub"),
    "supplement_requested": lazy_gettext("Materials requested (supplement)"),
    "supplemented": lazy_gettext("Materials supplemented, back with the department"),
    "result_ready": lazy_gettext("Result ready"),
    "collected": lazy_gettext("Collected (closed)"),
    "collected_elsewhere": lazy_gettext("Collected at another service point (closed)"),
    COLLECTED_HERE: lazy_gettext("Collected at this service point with the resident's other receipt (closed)"),
}
# The hub's states of a case (a STATUS or a RESULT), and what this point wrote there itself, in staff's words.
HUB_STATUS_LABELS = {
    "accepted": lazy_gettext("Received by the county hub"),
    "routed": lazy_gettext("Sent to the department"),
    "in_review": lazy_gettext("Under review by the department"),
    "supplement_requested": lazy_gettext("Waiting for the resident's materials (supplement)"),
    "supplemented": lazy_gettext("Materials supplemented, back with the department"),
    "needs_attention": lazy_gettext("Being checked by a county operator"),
    "result_issued": lazy_gettext("Decided; the result is on its way to this window"),
    "delivered": lazy_gettext("Result delivered to this window"),
    "closed": lazy_gettext("Closed (result collected)"),
    "withdrawn": lazy_gettext("Withdrawn"),
    "withdrawal_sent": lazy_gettext("Withdrawal sent to the county"),
    "merged": lazy_gettext("Merged with the resident's other application"),
    "refused": lazy_gettext("Not accepted by the county"),
    "collected_elsewhere": lazy_gettext("Collected at another service point (closed)"),
    "conflict": lazy_gettext("Held for a county operator (conflicting data)"),
    "rejected": lazy_gettext("Refused by the hub (quarantined)"),
}
# A state a newer hub may send that this point has no words for yet: still never the raw key.
HUB_STATUS_UNKNOWN = lazy_gettext("Updated by the county hub")
# Where a case stands (progress.stage), in the plain words a resident reads at the kiosk.
STAGE_LABELS = {
    "sending": lazy_gettext("Received; being sent to the county"),
    "in_review": lazy_gettext("Under review at the county"),
    "supplement_requested": lazy_gettext("Materials are needed: please bring them to this window"),
    "supplemented": lazy_gettext("Materials received; under review again"),
    "decided": lazy_gettext("Decided; the result is on its way to this window"),
    "result_ready": lazy_gettext("Your result is ready: bring this receipt and your ID card to the window"),
    "collected": lazy_gettext("Collected (closed)"),
    "collected_elsewhere": lazy_gettext("Collected at another service point (closed)"),
    COLLECTED_HERE: lazy_gettext("Collected at this service point with your other receipt (closed)"),
    "withdrawn": lazy_gettext("Withdrawn"),
    "merged": lazy_gettext("Merged with your other application: either receipt collects the result"),
    "refused": lazy_gettext("Not accepted by the county: please ask at the window"),
    "send_problem": lazy_gettext("There is a problem with this application: please ask at the window"),
}
DECISION_LABELS = {"approved": lazy_gettext("Approved"), "rejected": lazy_gettext("Rejected")}
LEVEL_LABELS = {"county": lazy_gettext("county service centre"), "township": lazy_gettext("township service centre"),
                "village": lazy_gettext("village service station")}

# What the hub decided on a conflict (a RECONCILED outcome, sync/messages.py), when its operator wrote no note.
OUTCOME_LABELS = {
    "take_left": lazy_gettext("the hub kept the version it already had"),
    "take_right": lazy_gettext("the hub took the version this point sent"),
    "merge": lazy_gettext("the hub merged the two versions field by field"),
    "merge_cases": lazy_gettext("the two applications were merged into one; both receipts stay valid for pickup"),
    "keep_both": lazy_gettext("the hub keeps both"),
    "accept_old": lazy_gettext("accepted under the catalog version in force at intake"),
    "accept_claimed": lazy_gettext("the county accepted the time of intake; the case goes to its department"),
    "accept_earliest": lazy_gettext("the county counts the time limit from the earliest time it can confirm"),
    "supplement": lazy_gettext("the department asks the resident for materials (补正)"),
    "reject": lazy_gettext("the hub rejected it"),
    "resume": lazy_gettext("this point used an envelope number twice (restored from a backup?); it continues from a "
                           "fresh one"),
}
# The steps of a sync round (pointkit/syncagent.py STEP_NAMES), as the sync page names them.
STEP_LABELS = {
    "push": lazy_gettext("sending cases and requests to the county hub"),
    "pull": lazy_gettext("receiving results and messages from the county hub"),
    "catalog": lazy_gettext("fetching the new service catalog and holiday calendar"),
    "relay": lazy_gettext("relaying for the villages"),
    "scans": lazy_gettext("uploading scans of materials"),
}
# Why a sync round or step stopped, as the sync agent records it; any other record is shown as it is.
SYNC_PROBLEMS = {
    syncagent.LINK_TIMED_OUT: lazy_gettext("the link to the county hub timed out"),
    syncagent.CANNOT_CONNECT: lazy_gettext("cannot connect to the county hub (no network, or the hub is down)"),
    syncagent.HUB_SERVER_ERROR: lazy_gettext("the county hub answered with a server error; tell county IT"),
    syncagent.LINK_BROKE_OFF: lazy_gettext("the link to the county hub broke off"),
    syncagent.CANNOT_REACH_HUB: lazy_gettext("cannot reach the county hub"),
    syncagent.HUB_REFUSED_STEP: lazy_gettext("the county hub refused the request; tell county IT"),
    syncagent.REVOKED_MESSAGE: lazy_gettext("this point has been revoked by the county hub; contact county IT"),
}
# Why the hub refused an envelope (its answer's reason: hub/core/outcome.py, sync/envelope.py EnvelopeError, the hub's
# intake refusals), as the sync page's quarantine lists it; the hub's own words stay for county IT on hover.
QUARANTINE_REASONS = {
    "unknown_point": lazy_gettext("the county hub does not know this point"),
    "point_pending": lazy_gettext("this point's enrollment is not complete at the county hub"),
    "point_revoked": lazy_gettext("this point has been revoked by the county hub"),
    "envelope_id_taken": lazy_gettext("the county hub already holds another envelope with this number"),
    "bad_signature": lazy_gettext("its signature does not verify at the county hub"),
    "decrypt_failed": lazy_gettext("the county hub cannot open it (keys do not match)"),
    "unknown_key": lazy_gettext("it was sealed for a key the county hub does not hold"),
    "malformed": lazy_gettext("the county hub cannot read it (damaged)"),
    "truncated": lazy_gettext("it arrived incomplete"),
    "too_large": lazy_gettext("it is too large for the county hub"),
    "out_of_range": lazy_gettext("its numbers are out of range"),
    "version": lazy_gettext("it uses a format version the county hub does not read"),
    "invalid_payload": lazy_gettext("its contents are not valid for the county hub"),
    "no_result": lazy_gettext("the case has no result at the county hub yet"),
    "not_accepted_here": lazy_gettext("the item is not accepted at this point's level"),
    "not_closed": lazy_gettext("the case is not closed at the county hub"),
    "not_your_case": lazy_gettext("the case belongs to another point"),
    "unknown_case": lazy_gettext("the county hub does not know this case"),
    "unsupported_kind": lazy_gettext("the county hub does not take this kind of message"),
    "complaint_id_taken": lazy_gettext("the county hub holds another point's complaint with this id"),
    "complaint_no_taken": lazy_gettext("the county hub already holds a complaint with this number"),
}
QUARANTINE_UNKNOWN = lazy_gettext("refused by the county hub")
# What is wrong with a field of the intake form (pointkit/intake.py, sync/idnumber.py).
FIELD_PROBLEMS = {
    intake.REQUIRED: lazy_gettext("required"),
    intake.TOO_LONG: lazy_gettext("too long"),
    intake.NOT_A_NUMBER: lazy_gettext("must be a number"),
    intake.NOT_A_DATE: lazy_gettext("must be a date (YYYY-MM-DD)"),
    intake.NOT_A_CHOICE: lazy_gettext("choose one of the listed options"),
    intake.NOT_A_PHONE: lazy_gettext("must be 11 digits starting with 1"),
    intake.NOT_A_FIELD: lazy_gettext("not a field of this item"),
    intake.MATERIALS_MISSING: lazy_gettext("required materials are missing"),
    intake.SCANNED_SPARED: lazy_gettext("this material is marked as not handed over (e-certificate): attach no "
                                        "scan for it"),
    certificates.NOT_SPARED: lazy_gettext("no valid e-certificate with this number is held for this resident and "
                                          "material: look again or take the paper"),
    referrals.NOT_AN_ITEM: lazy_gettext("not a service item of the catalog"),
    referrals.NOT_A_DEPARTMENT: lazy_gettext("not a department of the catalog"),
    referrals.MATTER_OR_ITEM: lazy_gettext("choose the item or describe the matter"),
    referrals.NOT_A_TARGET: lazy_gettext("choose a department or another point"),
    scans.NOT_A_SCAN: lazy_gettext("not a scan: attach an image (JPEG, PNG, TIFF) or a PDF file"),
    scans.SCAN_TOO_LARGE: lazy_gettext("larger than 10 MB: scan it again at a lower resolution"),
    scans.EMPTY_SCAN: lazy_gettext("the file is empty"),
    scans.TOO_MANY_PIXELS: lazy_gettext("more than 40 megapixels: take the photo again at a lower resolution"),
    scans.TOO_MANY_SCANS: lazy_gettext("more than %(limit)s files: one application takes at most %(limit)s (put the "
                                       "pages of one material into one PDF)", limit=scans.MAX_SCANS_PER_CASE),
    idnumber.WRONG_LENGTH: lazy_gettext("must be 18 characters"),
    idnumber.WRONG_CHARACTERS: lazy_gettext("must be 17 digits followed by a digit or X"),
    idnumber.IMPOSSIBLE_BIRTH_DATE: lazy_gettext("contains an impossible birth date"),
    idnumber.WRONG_CHECK_CHARACTER: lazy_gettext("check character does not match (mistyped digit?)"),
}
# Where a referral's envelope stands (its outbox row's state).
REFERRAL_SYNC_LABELS = {
    "queued": lazy_gettext("Waiting to send"),
    "acked": lazy_gettext("Received by the county hub"),
    "quarantined": lazy_gettext("Refused by the hub (quarantined)"),
}
# How a material is handed in (the catalog's "form").
MATERIAL_FORMS = {
    "original": lazy_gettext("original"),
    "copy": lazy_gettext("copy"),
    "original_and_copy": lazy_gettext("original and copy"),
}
# The special procedures (特别程序) a department may run while the time limit stands still.
PROCEDURE_LABELS = {
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
ROUTE_LABELS = {
    "single": lazy_gettext("single route"),
    "joint": lazy_gettext("joint route"),
    "staged": lazy_gettext("staged route"),
}


def install_filters(app: Flask) -> None:
    """Jinja filters that turn stored words into the page's language, and a case into the dates and the stage its
    pages show (pointkit/progress.py)."""
    filters = {
        "decision_label": DECISION_LABELS,
        "level_label": LEVEL_LABELS,
        "step_label": STEP_LABELS,
        "sync_problem": SYNC_PROBLEMS,
        "field_problem": FIELD_PROBLEMS,
        "material_form": MATERIAL_FORMS,
        "route_label": ROUTE_LABELS,
        "referral_sync": REFERRAL_SYNC_LABELS,
        "procedure_label": PROCEDURE_LABELS,
    }
    for name, table in filters.items():
        app.jinja_env.filters[name] = _label_filter(table)
    app.jinja_env.filters["status_label"] = lambda state: STATUS_LABELS.get(state, HUB_STATUS_UNKNOWN)
    app.jinja_env.filters["hub_status_label"] = lambda state: HUB_STATUS_LABELS.get(state, HUB_STATUS_UNKNOWN)
    app.jinja_env.filters["stage_label"] = lambda key: STAGE_LABELS[key]
    app.jinja_env.filters["case_state"] = case_state
    app.jinja_env.filters["quarantine_reason"] = lambda reason: QUARANTINE_REASONS.get(reason, QUARANTINE_UNKNOWN)
    app.jinja_env.filters["working_days"] = working_days
    app.jinja_env.filters["labelled"] = labelled
    app.jinja_env.filters["case_dates"] = case_dates
    app.jinja_env.filters["outcome_label"] = outcome_label


def _label_filter(table: dict[str, LazyString]):
    """The label of a stored value; a value the table does not know is shown as it is."""
    return lambda value: table.get(value, value)


def working_days(days: int, unit: str = "working_days") -> str:
    """A time limit as people say it: 即办 (same day) for 0, else the working days or the natural days (日) its
    rule counts."""
    if days == 0:
        return gettext("Same day")
    if unit == "natural_days":
        return ngettext("%(num)s day", "%(num)s days", days)
    return ngettext("%(num)s working day", "%(num)s working days", days)


def labelled(label: str) -> str:
    """A label before its value, with the colon of the page's language (Chinese takes the full-width one)."""
    return gettext("%(label)s: ", label=label)


def case_state(case) -> LazyString | str:
    """Where a case stands, in one phrase for staff lists: this point's state, or once the hub holds the case,
    what the hub last said about it."""
    if case.status == "acked" and case.hub_status:
        return HUB_STATUS_LABELS.get(case.hub_status, HUB_STATUS_UNKNOWN)
    return STATUS_LABELS.get(case.status, HUB_STATUS_UNKNOWN)


def sync_problem(recorded: str) -> str:
    """Why a sync round or step stopped, as the sync agent recorded it, in the page's language."""
    return str(SYNC_PROBLEMS.get(recorded, recorded))


def outcome_label(outcome: str) -> str:
    """What the hub decided on a conflict (a RECONCILED outcome), as a sentence in the page's language."""
    text = str(OUTCOME_LABELS.get(outcome, outcome))
    return text[:1].upper() + text[1:]
