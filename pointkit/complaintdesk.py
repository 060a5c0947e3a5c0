"""The window's complaint pages (投诉): the form a clerk fills in, the complaint receipt the complainant takes home,
and the list and page where staff read the county's answer. The steps themselves are pointkit/complaints.py."""

from __future__ import annotations

from flask import Blueprint, abort, g, redirect, render_template, request, session, url_for
from flask_babel import lazy_gettext

from . import complaints as steps
from . import db
from .auth import login_required
from .catalog import department_names
from .intake import NOT_A_PHONE
from .models import Complaint
from .runtime import data_dir, identity, wake_sync
from .state import as_utc, get_state
from .views import mask_name

bp = Blueprint("complaints", __name__)

# The code of the complaint just taken, shown once on its receipt (as a case's pickup code is).
FRESH_CODE = "fresh_complaint_code"
CHANNEL_LABELS = {"in_person": lazy_gettext("In person"), "phone": lazy_gettext("By phone"),
                  "box": lazy_gettext("Complaint box")}
CATEGORY_LABELS = {"attitude": lazy_gettext("Attitude"), "overdue": lazy_gettext("Overdue"),
                   "repeated_trips": lazy_gettext("Repeated trips"), "fees": lazy_gettext("Improper fees"),
                   "other": lazy_gettext("Other")}
SUBJECT_LABELS = {"case": lazy_gettext("A case received here"), "department": lazy_gettext("A department"),
                  "point": lazy_gettext("A service point"), "staff": lazy_gettext("A staff member"),
                  "general": lazy_gettext("General")}
# Where a complaint stands, in words a resident reads (the hub's answer, or sent and waiting for it).
STATE_LABELS = {"": lazy_gettext("Sent to the county; waiting for the supervision office"),
                "received": lazy_gettext("Received by the county supervision office"),
                "assigned": lazy_gettext("Sent to the department; it must reply"),
                "replied": lazy_gettext("The department replied; the supervision office is checking"),
                "closed": lazy_gettext("Closed: the county's answer is below")}
PROBLEMS = {steps.REQUIRED: lazy_gettext("required"), steps.TOO_LONG: lazy_gettext("too long"),
            steps.NOT_A_CHOICE: lazy_gettext("choose one of the listed options"),
            steps.UNKNOWN_RECEIPT: lazy_gettext("no case with this receipt number was received here"),
            steps.UNKNOWN_DEPARTMENT: lazy_gettext("choose a department from the list"),
            steps.NO_CONTACT: lazy_gettext("give a name or a phone number, or tick anonymous"),
            NOT_A_PHONE: lazy_gettext("must be 11 digits starting with 1")}


def _words() -> dict:
    return {"channels": CHANNEL_LABELS, "categories": CATEGORY_LABELS, "subjects": SUBJECT_LABELS,
            "states": STATE_LABELS}


def _form() -> steps.ComplaintForm:
    text = {name: request.form.get(name, "").strip() for name in
            ("channel", "category", "subject", "receipt_no", "department_code", "about_name", "contact_name",
             "contact_phone")}
    return steps.ComplaintForm(text=request.form.get("text", "").strip()[:steps.MAX_TEXT + 1],
                               anonymous=request.form.get("anonymous") == "1", **{k: v[:200] for k, v in text.items()})


@bp.route("/complaints/new", methods=("GET", "POST"))
@login_required
def new_complaint():
    """The complaint form: how it came in, its category, what it is about, the complainant (or anonymous) and
    the words. Taken, it is sealed for the county at once and its receipt printed."""
    with db.session_scope(data_dir()) as dbs:
        departments = department_names(get_state(dbs))
    form, problems = steps.ComplaintForm(channel="in_person", category="", text=""), {}
    if request.method == "POST":
        form = _form()
        try:
            with db.session_scope(data_dir()) as dbs:
                complaint, code = steps.take_complaint(dbs, g.staff.username, form, identity=identity(),
                                                       staff_name=g.staff.display_name)
        except steps.ComplaintError as exc:
            problems = exc.fields
        else:
            session[FRESH_CODE] = {"complaint_id": complaint.id, "code": code}
            wake_sync()
            return redirect(url_for("complaints.receipt", complaint_id=complaint.id))
    return render_template("complaint_form.html", form=form, problems=problems, problem_text=PROBLEMS,
                           departments=departments, **_words()), (422 if problems else 200)


def _complaint_or_404(complaint_id: str) -> Complaint:
    with db.session_scope(data_dir()) as dbs:
        complaint = dbs.get(Complaint, complaint_id[:36])
    if complaint is None:
        abort(404)
    return complaint


@bp.get("/complaints/<complaint_id>/receipt")
@login_required
def receipt(complaint_id: str):
    """The complaint receipt (a resident's page): its number and, right after it was taken, the code to read the
    answer with at the kiosk; an anonymous complaint has neither code nor lookup."""
    complaint = _complaint_or_404(complaint_id)
    fresh = session.get(FRESH_CODE)
    code = None
    if fresh and fresh.get("complaint_id") == complaint.id:
        code = fresh["code"]
        session.pop(FRESH_CODE)
    with db.session_scope(data_dir()) as dbs:
        state = get_state(dbs)
    return render_template("complaint_receipt.html", complaint=complaint, code=code, point=state,
                           masked_name=mask_name(complaint.contact_name), taken_at=as_utc(complaint.taken_at),
                           **_words())


@bp.get("/complaints")
@login_required
def complaint_list():
    """The complaints taken here, open ones first, each with where it stands at the county."""
    with db.session_scope(data_dir()) as dbs:
        rows = steps.complaints(dbs)
    return render_template("complaints.html", rows=rows, **_words())


@bp.get("/complaints/<complaint_id>")
@login_required
def complaint_page(complaint_id: str):
    """One complaint as taken, and the county's answer as it came back: department, reply due, reply, result."""
    complaint = _complaint_or_404(complaint_id)
    with db.session_scope(data_dir()) as dbs:
        departments = department_names(get_state(dbs))
    return render_template("complaint.html", complaint=complaint, departments=departments,
                           taken_at=as_utc(complaint.taken_at), **_words())
