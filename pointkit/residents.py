"""The residents' site on the point's kiosk: the same pages as the hub's (sync/kit/residents), served from this
point's own catalog and its copies of pre-checks, so they work with the link down.

A resident reads an item's guide and checklist here and reads her pre-check's answer by number and code (checked
against the hash the hub sent; wrong codes lock it as a pickup's). She does not submit a pre-check at the kiosk:
it stands a few steps from the window, where the clerk checks her papers at once, and it has no camera; the
pre-check form here says so and names the county site she can use from her phone.
"""

from __future__ import annotations

import json

from flask import Blueprint, abort, render_template, request
from flask_babel import gettext as _

from sync.catalog import ServiceItem
from sync.kit.residents.words import COMPLETE_ANSWER, NOTICE_ANSWER, REFUSALS, STATUSES

from . import db
from .catalog import get_item
from .itemsearch import find_items
from .prechecks import PrecheckError, look_up_at_kiosk
from .runtime import data_dir
from .state import find_state

bp = Blueprint("residents", __name__, url_prefix="/residents")

MAX_QUERY = 40
PRECHECK_NO_MAX = 24


def _page(template: str, status: int = 200, **context):
    with db.session_scope(data_dir()) as session:
        state = find_state(session)
    name = state.name if state is not None and state.name else _("Service point")
    return render_template(template, site_name=name, kiosk=True, **context), status


def _item(code: str) -> ServiceItem:
    with db.session_scope(data_dir()) as session:
        item = get_item(session, code)
    if item is None:
        abort(404)
    return item


@bp.get("/")
def index():
    """The items of this point's catalog, searched by name (or pinyin, as at the window)."""
    query = request.args.get("q", "").strip()[:MAX_QUERY]
    with db.session_scope(data_dir()) as session:
        items = find_items(session, query)
    return _page("residents/index.html", items=items, query=query)


@bp.get("/items/<code>")
def guide(code: str):
    """An item's guide and materials checklist, from the catalog this point holds."""
    return _page("residents/guide.html", item=_item(code))


@bp.get("/items/<code>/precheck")
def precheck_new(code: str):
    """At the kiosk a pre-check is the clerk's check at the window; the page says so and where to pre-check from
    a phone."""
    return _page("residents/precheck_kiosk.html", item=_item(code))


@bp.route("/prechecks", methods=("GET", "POST"))
def precheck_lookup():
    """She types her pre-check number and code; the point's copy shows the answer, offline too."""
    precheck, item, notes, refusal = None, None, {}, ""
    precheck_no = request.form.get("precheck_no", "").strip().upper()[:PRECHECK_NO_MAX]
    if request.method == "POST":
        with db.session_scope(data_dir()) as session:
            try:
                precheck = look_up_at_kiosk(session, precheck_no, request.form.get("code", "")[:20])
                item = get_item(session, precheck.item_code)
                notes = json.loads(precheck.notes_json)
            except PrecheckError as refused:
                refusal = refused.reason
    view = None
    if precheck is not None:
        view = {"precheck_no": precheck.precheck_no, "item_name": item.name_zh if item else precheck.item_code,
                "status": precheck.status, "outcome": precheck.outcome, "notes": notes,
                "answered_at": precheck.answered_at}
    return _page("residents/precheck_lookup.html", 422 if refusal else 200, precheck=view, item=item, photos=[],
                 precheck_no=precheck_no, refusal=REFUSALS.get(refusal, ""), statuses=STATUSES,
                 complete_answer=COMPLETE_ANSWER, notice_answer=NOTICE_ANSWER)
