"""The enterprise's project lookup at the kiosk (全程代办): where its investment project stands, asked of the hub.

The hub owns projects (DESIGN.md "Who owns what"): a point holds no copy, so it asks the hub online with a signed
request (sync/client.py ``project_lookup``) and shows the answer as the hub gave it. Without a link it says so
plainly instead of guessing. A wrong code and an unknown project number are refused in the same words; the hub
counts wrong codes per project, from every point, and locks the lookup at the fifth.
"""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_babel import lazy_gettext

from sync.client import HubRefused, HubUnreachable

from . import db
from .runtime import data_dir, identity
from .state import find_state, hub_client

bp = Blueprint("projectlookup", __name__)

PROJECT_NO_MAX = 40
# An approval's state as the hub names it (hub/approval/projects.py ItemStatus.state), for the enterprise.
ITEM_STATES = {"not_filed": lazy_gettext("Not filed yet"), "in_review": lazy_gettext("Being reviewed"),
               "supplement": lazy_gettext("Materials to bring"), "ready": lazy_gettext("Result ready at the agent"),
               "collected": lazy_gettext("Result collected by the agent"),
               "withdrawn": lazy_gettext("Withdrawn; the agent files it again")}
DECISIONS = {"approved": lazy_gettext("approved"), "rejected": lazy_gettext("not approved")}
PROJECT_STATES = {"open": lazy_gettext("In progress"), "completed": lazy_gettext("All approvals done"),
                  "withdrawn": lazy_gettext("Withdrawn")}
REFUSALS = {
    "wrong_code": lazy_gettext("The project number or the code is wrong. Check both on the filing slip and type "
                               "them again. After 5 wrong codes the project's lookup is locked for 15 minutes."),
    "locked": lazy_gettext("Checking this project is locked after 5 wrong codes. Try again in 15 minutes, or ask "
                           "your agent."),
    "unreachable": lazy_gettext("The county centre cannot be reached from here just now, so the project's state "
                                "cannot be shown. Try again later, or ask your agent."),
    "not_enrolled": lazy_gettext("This point is not connected to the county centre yet, so projects cannot be "
                                 "looked up here."),
}
TITLES = {"": lazy_gettext("Check your investment project"), "answer": lazy_gettext("Where your project stands"),
          **{reason: lazy_gettext("The project cannot be shown") for reason in REFUSALS}}


@bp.route("/status/project", methods=("GET", "POST"))
def project_kiosk():
    """The enterprise types its project number and code; the point asks the hub and shows the stages, per approval
    its state, the next deadline and what the enterprise must still bring."""
    answer, reason = None, ""
    project_no = request.form.get("project_no", "").strip().upper()[:PROJECT_NO_MAX]
    if request.method == "POST":
        answer, reason = _ask_hub(project_no, request.form.get("code", "").strip()[:20])
    return render_template("kiosk_project.html", answer=answer, reason=reason, project_no=project_no,
                           refusal=REFUSALS.get(reason, ""), titles=TITLES, item_states=ITEM_STATES,
                           decisions=DECISIONS, project_states=PROJECT_STATES), (422 if reason else 200)


def _ask_hub(project_no: str, code: str) -> tuple[dict | None, str]:
    with db.session_scope(data_dir()) as session:
        state = find_state(session)
    if state is None or not state.point_id or not state.hub_url:
        return None, "not_enrolled"
    try:
        with hub_client(state, identity(), attempts=1) as client:
            return client.project_lookup(project_no, code), ""
    except HubRefused as exc:
        return None, exc.reason if exc.reason in ("wrong_code", "locked") else "unreachable"
    except HubUnreachable:
        return None, "unreachable"
