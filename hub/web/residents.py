"""The residents' site at the hub (no login): the item list and guides, pre-checks (网上预审) and their answers.

Every point's kiosk serves the same pages (pointkit/residents.py) from the shared templates in
sync/kit/residents; the endpoints carry the same names on both apps. The domain work is in
hub/approval/prechecks.py; these views read the form, call it, and say in words what was refused.
"""

from __future__ import annotations

from flask import Blueprint, Flask, abort, current_app, render_template, request
from flask_babel import gettext as _
from werkzeug.exceptions import RequestEntityTooLarge

from sync.catalog import ServiceItem
from sync.kit.residents.words import COMPLETE_ANSWER, FIELD_PROBLEMS, NOTICE_ANSWER, REFUSALS, STATUSES

from hub.approval.prechecks import (
    Applicant,
    PrecheckLimits,
    PrecheckRefused,
    Upload,
    answerable_points,
    lookup_precheck,
    precheck_photos,
    submit_precheck,
)
from hub.catalog.versions import current_version
from hub.web.context import get_session

bp = Blueprint("residents", __name__, url_prefix="/residents")

MAX_QUERY = 40
PRECHECK_NO_MAX = 24


def cap_bodies(app: Flask) -> None:
    """Refuse a residents' form post over the pre-check body cap before anything reads it (the CSRF check reads
    the form first, so this runs before it): the page then says the limit in words."""
    @app.before_request
    def _cap() -> None:
        if request.path.startswith(bp.url_prefix + "/") and request.method == "POST":
            request.max_content_length = precheck_limits().max_body_bytes



@bp.errorhandler(RequestEntityTooLarge)
def _too_large(_error: RequestEntityTooLarge):
    return _page("residents/message.html", 413, title=_("Pre-check"), message=REFUSALS["too_large"])


def precheck_limits() -> PrecheckLimits:
    """The county's pre-check limits: the defaults, or the hub's PRECHECK_LIMITS setting (a dict)."""
    return PrecheckLimits(**current_app.config.get("PRECHECK_LIMITS", {}))


def _items() -> list[ServiceItem]:
    version = current_version(get_session())
    items = version.signed["document"]["items"] if version else []
    return [ServiceItem.model_validate(entry) for entry in items]


def _item(code: str) -> ServiceItem:
    item = next((item for item in _items() if item.code == code), None)
    if item is None:
        abort(404)
    return item


def _page(template: str, status: int = 200, **context):
    return render_template(template, site_name=_("County government service centre"), kiosk=False,
                           **context), status


@bp.get("/")
def index():
    """The county's items, searched by name; each links to its guide."""
    query = request.args.get("q", "").strip()[:MAX_QUERY]
    items = [item for item in _items()
             if not query or query.lower() in item.name_zh.lower() or query.lower() in item.name_en.lower()]
    return _page("residents/index.html", items=items, query=query)


@bp.get("/items/<code>")
def guide(code: str):
    """An item's guide: conditions, the materials checklist, process, time limits and fees."""
    return _page("residents/guide.html", item=_item(code))


@bp.route("/items/<code>/precheck", methods=("GET", "POST"))
def precheck_new(code: str):
    """The pre-check form: who she is, where she will apply, a photo of each material; then her number and code."""
    item = _item(code)
    session = get_session()
    points = answerable_points(session, item)
    limits = precheck_limits()
    refusal, fields = "", {}
    if request.method == "POST":
        try:
            submitted = submit_precheck(
                session, current_app.config["DATA_DIR"], item=item, point_name=request.form.get("point", ""),
                applicant=_applicant(), uploads=_uploads(item), client_address=request.remote_addr or "",
                limits=limits)
            session.commit()
            return _page("residents/precheck_done.html", item=item, precheck=submitted.precheck,
                         code=submitted.code, reviewer_point=submitted.precheck.reviewer == "point")
        except PrecheckRefused as refused:
            session.rollback()
            refusal, fields = refused.reason, refused.fields
    return _page("residents/precheck_new.html", 422 if refusal else 200, item=item, points=points,
                 refusal=REFUSALS.get(refusal, ""), fields={k: FIELD_PROBLEMS.get(v, v) for k, v in fields.items()},
                 form=request.form)


def _applicant() -> Applicant:
    form = request.form
    return Applicant(name=form.get("name", "")[:64], id_number=form.get("id_number", "")[:18],
                     phone=form.get("phone", "")[:20])


def _uploads(item: ServiceItem) -> list[Upload]:
    uploads = []
    for material in item.materials:
        for upload in request.files.getlist(f"file_{material.code}"):
            data = upload.read()
            if upload.filename or data:
                uploads.append(Upload(material.code, upload.filename or "photo", data))
    return uploads


@bp.route("/prechecks", methods=("GET", "POST"))
def precheck_lookup():
    """She types her pre-check number and code and reads the answer (or that it waits for review)."""
    precheck, photos, refusal = None, [], ""
    precheck_no = request.form.get("precheck_no", "").strip().upper()[:PRECHECK_NO_MAX]
    if request.method == "POST":
        session = get_session()
        try:
            precheck = lookup_precheck(session, precheck_no, request.form.get("code", "")[:20])
            photos = precheck_photos(session, precheck)
        except PrecheckRefused as refused:
            refusal = refused.reason
        session.commit()
    item = next((item for item in _items() if precheck and item.code == precheck.item_code), None)
    return _page("residents/precheck_lookup.html", 422 if refusal else 200, precheck=precheck, item=item,
                 photos=photos, precheck_no=precheck_no, refusal=REFUSALS.get(refusal, ""), statuses=STATUSES,
                 complete_answer=COMPLETE_ANSWER, notice_answer=NOTICE_ANSWER)
