"""A case's timeline as the pages word it: each line from its action and its facts (``CaseEvent.data``).

The domain records an English note for the API and the CLI beside the facts (hub/core/timeline.py); the pages
word the facts in their own language instead, with department and material names, county dates and 即办 for a
same-day limit. A line recorded before the hub kept facts shows its English note on English pages only: a
Chinese page shows what its action says.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from flask import g
from flask_babel import format_date, format_datetime, lazy_gettext, ngettext
from flask_babel import gettext as _
from markupsafe import Markup, escape
from sqlmodel import Session, select

from hub.catalog.diff import FieldChange
from hub.core.clock import as_utc
from hub.core.models import CaseEvent, Department, Staff
from hub.core.timeline import HUB_ACTOR
from hub.web.catalog import change_line
from hub.web.deskwords import LABELS as DESK_LABELS
from hub.web.procedurewords import procedure_name

DECISIONS = {"approved": lazy_gettext("approved"), "rejected": lazy_gettext("rejected")}
SCAN_PROBLEMS = {
    "key": lazy_gettext("it does not decrypt with the key in the case"),
    "size": lazy_gettext("its size differs from the one in the case"),
    "digest": lazy_gettext("its fingerprint differs from the one in the case"),
}


# Timeline actions that are no case status (those are worded by the ``status`` filter, hub/web/cases.py).
ACTIONS = {
    "withdrawn": lazy_gettext("Withdrawn"),
    "amended": lazy_gettext("Corrected at the point"),
    "applicant_corrected": lazy_gettext("Applicant's name corrected"),
    "conflict_parked": lazy_gettext("Parked for an operator"),
    "conflict_merged": lazy_gettext("Merged by the hub"),
    "conflict_resolved": lazy_gettext("Conflict resolved"),
    "merged": lazy_gettext("Duplicate merged"),
    "collected_elsewhere": lazy_gettext("Collected with the other receipt"),
    "held_for_upgrade": lazy_gettext("Held for the point's upgrade"),
    "dates_recounted": lazy_gettext("Dates recounted"),
    "return_date_counted": lazy_gettext("Return date counted"),
    "legal_limit_counted": lazy_gettext("Legal limit counted"),
    "card_raised": lazy_gettext("Card raised"),
    "order_issued": lazy_gettext("Supervision order issued"),
    "order_answered": lazy_gettext("Supervision order answered"),
    "order_closed": lazy_gettext("Supervision order closed"),
    "follow_up_due_counted": lazy_gettext("Follow-up due date counted"),
    "referral_linked": lazy_gettext("Referred here"),
    "filed_for_project": lazy_gettext("Filed by the agent"),
    "collected_by_agent": lazy_gettext("Collected by the agent"),
    "project_withdrawn": lazy_gettext("Project withdrawn"),
    "procedure_started": lazy_gettext("Special procedure started"),
    "procedure_ended": lazy_gettext("Special procedure ended"),
    "certificate_registered": lazy_gettext("Certificate registered"),
    "certificate_parked": lazy_gettext("Parked on an e-certificate"),
    "certificate_settled": lazy_gettext("E-certificate settled"),
}
# What the hub found when it checked a 免提交 reference at intake (hub/approval/certificates.py).
CERTIFICATE_FINDINGS = {
    "valid": lazy_gettext("checked, valid"), "unknown": lazy_gettext("not in the register"),
    "not_holder": lazy_gettext("held by someone else"), "wrong_type": lazy_gettext("not a kind this material accepts"),
    "revoked": lazy_gettext("revoked"), "expired": lazy_gettext("expired"),
}
CARD_LINES = {
    "yellow": lazy_gettext("Yellow card: %(department)s passed the warning line of the promised limit %(date)s"),
    "red": lazy_gettext("Red card: %(department)s passed the promised limit %(date)s"),
    "legal": lazy_gettext("Past the legal limit: %(department)s passed the legal limit %(date)s"),
}
ORDER_SOURCES = {
    "office": lazy_gettext("issued by the supervision office"),
    "red_card": lazy_gettext("raised by a red card"),
    "legal_limit": lazy_gettext("raised by passing the legal limit"),
    "complaint": lazy_gettext("raised by a complaint"),
    "rating": lazy_gettext("raised by a low rating"),
}


@dataclass(frozen=True)
class TimelineLine:
    """One row of the timeline table."""

    at: datetime
    actor: str
    action: str
    label: str  # the action's name when the case's status words (the ``status`` filter) have none
    text: str


class Words:
    """What a line's text needs besides its facts: names of departments, materials and form fields."""

    def __init__(self, session: Session, *, material_names: dict[str, str], field_labels: dict[str, str]):
        chinese = g.get("lang", "zh") == "zh"
        self.chinese = chinese
        self.departments = {row.code: row.name_zh if chinese else row.name_en
                            for row in session.exec(select(Department)).all()}
        self.staff = {row.username: row.display_name for row in session.exec(select(Staff)).all()
                      if row.display_name}
        self.materials = material_names
        self.fields = field_labels

    @classmethod
    def for_item(cls, session: Session, item) -> Words:
        """The words of a case of ``item`` (its catalog entry, or None): its form fields' labels and its materials'
        names in the page's language, besides the departments and staff every page has."""
        chinese = g.get("lang", "zh") == "zh"
        field_labels = {f.name: f.label_zh if chinese else f.label_en for f in item.fields} if item else {}
        material_names = ({m.code: m.name_zh if chinese else (m.name_en or m.name_zh) for m in item.materials}
                          if item else {})
        return cls(session, material_names=material_names, field_labels=field_labels)

    def list_sep(self) -> str:
        return "、" if self.chinese else ", "

    def department(self, code: str | None) -> str:
        return self.departments.get(code or "", code or "")

    def department_list(self, codes: list[str] | None) -> str:
        return self.list_sep().join(self.department(code) for code in codes or [])

    def material_list(self, codes: list[str] | None) -> str:
        return self.list_sep().join(self.materials.get(code, code) for code in codes or [])

    def field_list(self, names: list[str] | None) -> str:
        return self.list_sep().join(self.field(name) for name in names or [])

    def field(self, name: str) -> str:
        if name.startswith("form."):
            return self.fields.get(name.removeprefix("form."), name)
        return str(FIELD_NAMES.get(name, name))

    def actor(self, actor: str) -> str:
        if actor == HUB_ACTOR:
            return _("County hub")
        if actor == CLI_ACTOR:
            return _("Command line at the hub")
        if actor == INIT_ACTOR:
            return _("Hub set-up")
        return self.staff.get(actor, actor)


# Who the CLI's commands act as unless told otherwise (hub/cli.py).
CLI_ACTOR = "cli"
# Who creates the first admin account when the hub is set up (hub/instance.py).
INIT_ACTOR = "init"
# Not \b: between 承诺 and 2026 there is no word boundary for Python (CJK characters are word characters).
DATE = re.compile(r"(?<!\d)\d{4}-\d{2}-\d{2}(?: \d{2}:\d{2}(?::\d{2})?)?(?!\d)")


def nowrap_dates(text: str) -> Markup:
    """``text`` escaped, with each date (and time) in it kept on one line: a table cell may wrap between words,
    never inside "2026-12-09"."""
    return Markup(DATE.sub(lambda match: f'<span class="nowrap">{match.group(0)}</span>', str(escape(text))))


FIELD_NAMES = {
    "applicant.name": lazy_gettext("Applicant's name"),
    "applicant.id_number": lazy_gettext("ID number"),
    "applicant.phone": lazy_gettext("Phone"),
    "applicant": lazy_gettext("Applicant"),
    "materials": lazy_gettext("Materials"),
    "form": lazy_gettext("Form"),
    "scans": lazy_gettext("Scans"),
}


def day(value: str | None) -> str:
    """An ISO date (already a county date) as the page writes dates."""
    if not value:
        return ""
    return format_date(date.fromisoformat(value), "yyyy-MM-dd")


def _promise(data: dict[str, Any]) -> str:
    if data.get("promised_days") == 0:
        return _("Same day")
    return _("promised by %(date)s", date=day(data.get("due")))


def _routed(data: dict[str, Any], words: Words) -> str:
    departments = words.department_list(data.get("departments"))
    route = data.get("route")
    if route == "staged":
        text = _("Staged: %(departments)s reviews first", departments=departments)
    elif route == "joint" and data.get("lead"):
        text = _("Joint approval: %(departments)s; lead department %(lead)s", departments=departments,
                 lead=words.department(data["lead"]))
    elif route == "joint":
        text = _("Joint approval: %(departments)s", departments=departments)
    else:
        text = _("Single department: %(departments)s", departments=departments)
    return _("%(route)s; %(promise)s", route=text, promise=_promise(data))


def _decided(data: dict[str, Any], words: Words) -> str:
    department = words.department(data.get("department"))
    if data.get("reason"):
        return _("%(department)s: %(reason)s", department=department, reason=data["reason"])
    return department


def _supplement_requested(data: dict[str, Any], words: Words) -> str:
    text = _("%(department)s asks for: %(materials)s; the time limit pauses",
             department=words.department(data.get("department")), materials=words.material_list(data.get("materials")))
    if data.get("return_by"):
        text = _("%(text)s; materials due by %(date)s", text=text, date=day(data["return_by"]))
    if data.get("on_behalf"):
        text = _("%(text)s (from the conflict desk)", text=text)
    return text


def _supplemented(data: dict[str, Any], words: Words) -> str:
    paused = data.get("paused_days", 0)
    if paused:
        text = ngettext("Materials supplemented; the time limit was paused %(num)s working day",
                        "Materials supplemented; the time limit was paused %(num)s working days", paused)
    else:
        text = _("Materials supplemented on the day they were asked for; the time limit did not pause")
    if data.get("due"):
        text = _("%(text)s; now due %(date)s", text=text, date=day(data["due"]))
    return text


def _result_issued(data: dict[str, Any], words: Words) -> str:
    decision = DECISIONS.get(data.get("decision", ""), "")
    if data.get("merged_into"):
        return _("Result issued (%(decision)s): the result of receipt %(receipt_no)s, which this case was merged "
                 "into; this receipt collects it too", decision=decision, receipt_no=data["merged_into"])
    if data.get("certificate_no"):
        return _("Result issued (%(decision)s); certificate number %(certificate_no)s", decision=decision,
                 certificate_no=data["certificate_no"])
    return _("Result issued (%(decision)s)", decision=decision)


def _withdrawn(data: dict[str, Any], words: Words) -> str:
    if data.get("unanswered"):
        return _("%(department)s: the materials were not brought by %(date)s; the application counts as withdrawn",
                 department=words.department(data.get("department")), date=day(data.get("return_by")))
    return _("Withdrawn at the point: %(reason)s", reason=data.get("reason", ""))


JOINT_OPINIONS = {"agree": lazy_gettext("agrees"), "agree_with_conditions": lazy_gettext("agrees with conditions"),
                  "disagree": lazy_gettext("disagrees")}
JOINT_MEETINGS = {"site_survey": lazy_gettext("joint site survey"),
                  "review_meeting": lazy_gettext("joint review meeting")}


def _joint_opinion(data: dict[str, Any], words: Words) -> str:
    text = _("%(department)s %(opinion)s", department=words.department(data.get("department")),
             opinion=JOINT_OPINIONS.get(data.get("opinion", ""), ""))
    if data.get("meeting"):
        text = _("%(text)s at the %(meeting)s", text=text, meeting=JOINT_MEETINGS.get(data["meeting"], ""))
    return _("%(text)s: %(words)s", text=text, words=data["text"]) if data.get("text") else text


def _meeting_time(data: dict[str, Any]) -> str:
    """A meeting's time on the county's clock, to the minute."""
    return format_datetime(as_utc(datetime.fromisoformat(data["scheduled_at"])), "yyyy-MM-dd HH:mm") \
        if data.get("scheduled_at") else ""


def _joint_meeting_called(data: dict[str, Any], words: Words) -> str:
    return _("%(meeting)s at %(time)s, %(place)s; invited: %(departments)s",
             meeting=JOINT_MEETINGS.get(data.get("kind", ""), ""), time=_meeting_time(data),
             place=data.get("place", ""),
             departments=words.department_list(data.get("departments")))


def _joint_decided(data: dict[str, Any], words: Words) -> str:
    text = _("The lead department %(department)s %(decision)s the joint review",
             department=words.department(data.get("lead")), decision=DECISIONS.get(data.get("decision", ""), ""))
    return _("%(text)s: %(reason)s", text=text, reason=data["reason"]) if data.get("reason") else text


def _scan_received(data: dict[str, Any], words: Words) -> str:
    return _("Scan of %(material)s received whole (%(size)s KB)",
             material=words.materials.get(data.get("material", ""), data.get("material", "")),
             size=max(1, round(data.get("size", 0) / 1024)))


def _scan_mismatch(data: dict[str, Any], words: Words) -> str:
    return _("Scan of %(material)s does not match the case: %(problem)s",
             material=words.materials.get(data.get("material", ""), data.get("material", "")),
             problem=SCAN_PROBLEMS.get(data.get("problem", ""), ""))


def _needs_attention(data: dict[str, Any], words: Words) -> str:
    if data.get("reason") == "unknown_item":
        return _("Item code %(code)s is not in the hub's catalog: an operator must route this case",
                 code=data.get("item_code", ""))
    return _("The intake time the point claims is earlier than the hub can vouch for: an operator decides it on "
             "the conflict desk")


def _catalog_outdated(data: dict[str, Any], words: Words) -> str:
    heading = _("Received under catalog version %(old)s; in the current version %(new)s",
                old=data.get("point_version", ""), new=data.get("latest", ""))
    if data.get("state") == "withdrawn":
        return _("%(heading)s the item is withdrawn", heading=heading)
    if data.get("state") == "new":
        return _("%(heading)s the item is new or changed", heading=heading)
    names = {**words.departments, **words.materials, **words.fields}
    changes = [change_line(FieldChange(*entry), names) for entry in data.get("changes", [])]
    return _("%(heading)s the item changed: %(changes)s", heading=heading,
             changes=("；" if words.chinese else "; ").join(changes))


def _conflict_resolved(data: dict[str, Any], words: Words) -> str:
    text = _("%(kind)s: %(action)s", kind=DESK_LABELS.get(data.get("kind", ""), ""),
             action=DESK_LABELS.get(data.get("action", ""), ""))
    return _("%(text)s (%(note)s)", text=text, note=data["note"]) if data.get("note") else text


def _intake_time_accepted(data: dict[str, Any], words: Words) -> str:
    moment = format_datetime(as_utc(datetime.fromisoformat(data["intake"])), "yyyy-MM-dd HH:mm") \
        if data.get("intake") else ""
    if data.get("basis") == "claimed":
        return _("Intake counted from %(time)s, as the point claimed", time=moment)
    return _("Intake counted from %(time)s, the earliest the hub can vouch for", time=moment)


def _responsible(reviewer: str, words: Words) -> str:
    if reviewer:
        return _("responsible reviewer: %(name)s", name=words.actor(reviewer))
    return _("no single reviewer to name")


def _card_raised(data: dict[str, Any], words: Words) -> str:
    line = CARD_LINES.get(data.get("colour", ""))
    text = str(line) % {"department": words.department(data.get("department")), "date": day(data.get("due"))} \
        if line else ""
    return _("%(text)s; %(who)s", text=text, who=_responsible(data.get("reviewer", ""), words))


def _order_issued(data: dict[str, Any], words: Words) -> str:
    return _("Supervision order %(number)s to %(department)s (%(source)s): answer by %(date)s",
             number=data.get("order_no", ""), department=words.department(data.get("department")),
             source=ORDER_SOURCES.get(data.get("source", ""), ""), date=day(data.get("due")))


def _order_answered(data: dict[str, Any], words: Words) -> str:
    if data.get("late"):
        return _("%(department)s answered supervision order %(number)s after its deadline",
                 department=words.department(data.get("department")), number=data.get("order_no", ""))
    return _("%(department)s answered supervision order %(number)s",
             department=words.department(data.get("department")), number=data.get("order_no", ""))


def _rated(data: dict[str, Any], words: Words) -> str:
    if data.get("follow_up_due"):
        return _("Rated %(score)s of 5; a follow-up is opened, due %(date)s", score=data.get("score"),
                 date=day(data["follow_up_due"]))
    if data.get("follow_up"):
        return _("Rated %(score)s of 5; a follow-up is opened", score=data.get("score"))
    return _("Rated %(score)s of 5", score=data.get("score"))


def _dates_recounted(data: dict[str, Any], words: Words) -> str:
    text = _("The holiday schedule of %(years)s is in force: now due %(due)s, legal limit %(legal)s",
             years=data.get("schedule", ""), due=day(data.get("due")), legal=day(data.get("legal_due")))
    if data.get("return_by"):
        text = _("%(text)s; materials due by %(date)s", text=text, date=day(data["return_by"]))
    return text


def _received(data: dict[str, Any], words: Words) -> str:
    """受理, naming the first-contact person (首问责任人) when the point sent one."""
    if not data.get("first_contact_name"):
        return _("Received at the point")
    return _("Received at the point by %(name)s (%(post)s), the first-contact person",
             name=data["first_contact_name"], post=data.get("first_contact_post") or _("post not given"))


def _procedure_started(data: dict[str, Any], words: Words) -> str:
    line = _("%(department)s started %(procedure)s (not counted in the time limit): %(reason)s",
             department=words.department(data.get("department")), procedure=procedure_name(data.get("kind", "")),
             reason=data.get("reason", ""))
    if data.get("expected_end"):
        return _("%(line)s; expected to end %(date)s", line=line, date=day(data["expected_end"]))
    return line


def _procedure_ended(data: dict[str, Any], words: Words) -> str:
    line = _("%(department)s ended %(procedure)s: %(note)s", department=words.department(data.get("department")),
             procedure=procedure_name(data.get("kind", "")), note=data.get("note", ""))
    if data.get("still_paused"):
        return _("%(line)s; the time limit stays paused for another pause", line=line)
    return _("%(line)s; due %(due)s, legal limit %(legal)s", line=line, due=day(data.get("due")),
             legal=day(data.get("legal_due")))


def _deemed_approved(data: dict[str, Any], words: Words) -> str:
    if data.get("renewal"):
        return _("No decision before the licence expired on %(expiry)s: deemed renewed until %(valid_until)s",
                 expiry=day(data.get("expiry")), valid_until=day(data.get("valid_until")))
    return _("No decision by the legal limit %(legal)s (counted from intake on %(start)s): deemed approved",
             legal=day(data.get("legal_due")), start=day(data.get("counted_from")))


def _certificate_parked(data: dict[str, Any], words: Words) -> str:
    findings = [_("%(material)s (e-certificate %(number)s): %(finding)s",
                  material=words.materials.get(row.get("material", ""), row.get("material", "")),
                  number=row.get("number", ""), finding=CERTIFICATE_FINDINGS.get(row.get("finding", ""), ""))
                for row in data.get("findings") or []]
    return _("Parked for the department: %(findings)s", findings=words.list_sep().join(findings))


def _certificate_settled(data: dict[str, Any], words: Words) -> str:
    materials = words.list_sep().join(words.materials.get(code, code) for code in data.get("materials") or [])
    if data.get("how") == "supplement":
        return _("The paper is asked for by a supplement request: %(materials)s", materials=materials)
    return _("The department goes on without the paper: %(materials)s", materials=materials)


# action -> how a line of it with facts reads
RENDERERS: dict[str, Callable[[dict[str, Any], Words], str]] = {
    "received": _received,
    "referral_linked": lambda data, words: _(
        "Referred here from %(point)s by %(name)s (%(post)s), slip %(slip_no)s", point=data.get("point", ""),
        name=data.get("name", ""), post=data.get("post", ""), slip_no=data.get("slip_no", "")),
    "routed": _routed,
    "approved": _decided,
    "rejected": _decided,
    "stage_opened": lambda data, words: _("Stage %(stage)s opens: %(departments)s", stage=data.get("stage", ""),
                                          departments=words.department_list(data.get("departments"))),
    "supplement_requested": _supplement_requested,
    "supplemented": _supplemented,
    "deemed_approved": _deemed_approved,
    "procedure_started": _procedure_started,
    "procedure_ended": _procedure_ended,
    "result_issued": _result_issued,
    "withdrawn": _withdrawn,
    "scan_received": _scan_received,
    "scan_mismatch": _scan_mismatch,
    "needs_attention": _needs_attention,
    "rated": _rated,
    "follow_up": lambda data, words: _("Rating follow-up noted"),
    "follow_up_closed": lambda data, words: _("Rating follow-up closed"),
    "closed": lambda data, words: _("The resident collected the result at the point"),
    "delivered": lambda data, words: _("The point received the signed result"),
    "collected_elsewhere": lambda data, words: _(
        "The same result was collected at %(point)s (receipt %(receipt_no)s)", point=data.get("point", ""),
        receipt_no=data.get("receipt_no", "")),
    "copy_sent": lambda data, words: ngettext(
        "%(point)s was restored from an older backup and lacked this case: it was sent again with "
        "%(num)s earlier message",
        "%(point)s was restored from an older backup and lacked this case: it was sent again with "
        "%(num)s earlier messages", data.get("messages", 0), point=data.get("point", "")),
    "held_for_upgrade": lambda data, words: _("Waits until %(point)s is upgraded", point=data.get("point", "")),
    "amended": lambda data, words: _("Version %(version)s: %(fields)s changed", version=data.get("version", ""),
                                     fields=words.field_list(data.get("fields"))),
    "conflict_parked": lambda data, words: _("Parked on the conflict desk: %(kind)s",
                                             kind=DESK_LABELS.get(data.get("kind", ""), "")),
    "conflict_merged": lambda data, words: _("Merged by the hub: %(fields)s",
                                             fields=words.field_list(data.get("fields"))),
    "dates_recounted": _dates_recounted,
    "catalog_outdated": _catalog_outdated,
    # The desk's lines (hub/reconcile/desk.py) read these facts when their record_event passes them.
    "conflict_resolved": _conflict_resolved,
    "intake_time_accepted": _intake_time_accepted,
    "applicant_corrected": lambda data, words: _("The applicant's name was taken from receipt %(receipt_no)s",
                                                 receipt_no=data.get("receipt_no", "")),
    "merged": lambda data, words: _("Receipt %(receipt_no)s was merged into this case; it collects the same result",
                                    receipt_no=data.get("receipt_no", "")),
    "return_date_counted": lambda data, words: _(
        "%(department)s: materials due by %(date)s, counted when the hub was upgraded",
        department=words.department(data.get("department")), date=day(data.get("return_by"))),
    "legal_limit_counted": lambda data, words: _(
        "Legal limit %(date)s, counted when the hub was upgraded", date=day(data.get("legal_due"))),
    "card_raised": _card_raised,
    "order_issued": _order_issued,
    "order_answered": _order_answered,
    "order_closed": lambda data, words: _("Supervision order %(number)s closed by the supervision office",
                                          number=data.get("order_no", "")),
    "joint_opened": lambda data, words: _("The lead department %(department)s opened the joint review",
                                          department=words.department(data.get("lead"))),
    "joint_meeting_called": _joint_meeting_called,
    "joint_meeting_held": lambda data, words: _("The %(meeting)s was held",
                                                meeting=JOINT_MEETINGS.get(data.get("kind", ""), "")),
    "joint_meeting_cancelled": lambda data, words: _("The %(meeting)s of %(time)s was cancelled: %(reason)s",
                                                     meeting=JOINT_MEETINGS.get(data.get("kind", ""), ""),
                                                     time=_meeting_time(data), reason=data.get("reason", "")),
    "joint_opinion": _joint_opinion,
    "joint_decided": _joint_decided,
    "follow_up_due_counted": lambda data, words: _("Rating follow-up due %(date)s, counted from the rating's day",
                                                   date=day(data.get("due"))),
    "filed_for_project": lambda data, words: ngettext(
        "Filed at the county centre by the agent %(agent)s for project %(project_no)s; %(num)s material reused",
        "Filed at the county centre by the agent %(agent)s for project %(project_no)s; %(num)s materials reused",
        len(data.get("reused") or []), agent=words.actor(data.get("agent", "")),
        project_no=data.get("project_no", "")),
    "collected_by_agent": lambda data, words: _("The agent %(agent)s collected the result for the enterprise",
                                                agent=words.actor(data.get("agent", ""))),
    "project_withdrawn": lambda data, words: _("Project %(project_no)s was withdrawn; this application keeps "
                                               "running", project_no=data.get("project_no", "")),
    "certificate_registered": lambda data, words: _("%(name)s No. %(number)s entered the certificate register",
                                                    name=data.get("name_zh", ""), number=data.get("number", "")),
    "certificate_parked": _certificate_parked,
    "certificate_settled": _certificate_settled,
}



def line_text(event: CaseEvent, words: Words) -> str:
    """The 说明 of one line: worded from its facts, else its English note on an English page only."""
    render = RENDERERS.get(event.action)
    if render is not None and (event.data or event.action in ("received", "delivered", "closed")):
        return render(event.data or {}, words)
    return "" if words.chinese else event.note


def timeline(session: Session, case_id: str, *, words: Words) -> list[TimelineLine]:
    """A case's timeline, oldest first, worded for the page."""
    # Lines written in one millisecond keep their order by id (sync.clock.uuid7).
    events = session.exec(select(CaseEvent).where(CaseEvent.case_id == case_id)
                          .order_by(CaseEvent.at, CaseEvent.id)).all()
    return [TimelineLine(at=event.at, actor=words.actor(event.actor), action=event.action,
                         label=str(ACTIONS.get(event.action, "")), text=line_text(event, words)) for event in events]
