"""The demo's pre-check step (网上预审): a resident sends a photo on the hub's public site, the village clerk answers
on the point's page, she reads the answer by number and code, and the clerk receives her application from it.
Driven through the pages (form posts), as a phone and the clerk's browser do."""

from __future__ import annotations

import io
import re
import sqlite3

import httpx
from PIL import Image, ImageDraw

from tests.support.cluster import Cluster, Server, wait_until

ITEM = "451030-YB-001"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _token(response: httpx.Response) -> str:
    return CSRF.search(response.text).group(1)


def _photo() -> bytes:
    """A phone's photo of a card on a table: 3000×2250, grainy, about a megabyte."""
    table = Image.linear_gradient("L").resize((3000, 2250)).convert("RGB")
    grain = Image.effect_noise((3000, 2250), 12).convert("RGB")
    picture = Image.blend(table, grain, 0.3)
    ImageDraw.Draw(picture).rectangle((600, 500, 2400, 1650), fill=(236, 232, 220), outline=(40, 40, 40), width=12)
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=92)
    return out.getvalue()


def _rows(db_path, query: str, *args) -> list[tuple]:
    with sqlite3.connect(db_path) as db:
        return db.execute(query, args).fetchall()


def run_precheck(cluster: Cluster, village: Server, resident: tuple[str, str], timeout: float) -> None:
    """Pre-check, answer, read the answer, receive the application from it; print each step's outcome."""
    name, id_number = resident
    site = httpx.Client(base_url=cluster.hub.url, timeout=60)
    form = site.get(f"/residents/items/{ITEM}/precheck")
    photo = _photo()
    sent = site.post(f"/residents/items/{ITEM}/precheck", data={
        "csrf_token": _token(form), "name": name, "id_number": id_number, "phone": "13807761234",
        "point": village.name}, files=[("file_id_card", ("id.jpg", photo, "image/jpeg")),
                                       ("file_hukou", ("hukou.jpg", photo, "image/jpeg"))])
    sent.raise_for_status()
    number = re.search(r'id="precheck-no">([^<]+)<', sent.text).group(1).strip()
    code = re.search(r'id="precheck-code">([^<]+)<', sent.text).group(1).strip()
    stored = _rows(cluster.hub.data / "hub.db", "SELECT p.size FROM precheckphoto p JOIN precheck c "
                   "ON c.id = p.precheck_id WHERE c.precheck_no = ?", number)
    print(f"    pre-check {number}  code {code}  (2 photos of {len(photo) // 1024} KB stored re-encoded, "
          f"{stored[0][0] // 1024} KB each)")

    point_db = village.data / "point.db"
    staff = village.api("staff")
    staff.post("/api/sync")  # the 'sync now' button: the village would pull it on its next round anyway
    precheck_id = wait_until(lambda: _rows(point_db, "SELECT id FROM precheck WHERE precheck_no = ?", number),
                             timeout=timeout, what="the pre-check at the village")[0][0]
    clerk = httpx.Client(base_url=village.url, timeout=60, follow_redirects=True)
    clerk.post("/login", data={"username": "staff", "password": village.logins["staff"],
                               "csrf_token": _token(clerk.get("/login"))})
    page = clerk.get(f"/prechecks/{precheck_id}")
    clerk.post(f"/prechecks/{precheck_id}", data={"csrf_token": _token(page), "outcome": "complete"})
    staff.post("/api/sync")
    wait_until(lambda: _rows(cluster.hub.data / "hub.db", "SELECT outcome FROM precheck WHERE precheck_no = ?",
                             number) == [("complete",)], timeout=timeout, what="the clerk's answer at the hub")
    lookup = site.get("/residents/prechecks")
    answer = site.post("/residents/prechecks", data={"csrf_token": _token(lookup), "precheck_no": number,
                                                     "code": code})
    print("    the resident reads: " + re.search(r'id="precheck-answer">([^<]+)<', answer.text).group(1))

    form = clerk.get("/cases/new", params={"precheck": precheck_id})
    receipt = clerk.post("/cases/new", params={"item": ITEM}, data={
        "csrf_token": _token(form), "precheck_id": precheck_id, "item_code": ITEM, "applicant_name": name,
        "applicant_id_number": id_number, "applicant_phone": "13807761234", "field_insured_category": "普通居民",
        "materials": ["id_card", "hukou"], "action": "receive"})
    receipt.raise_for_status()
    case_id = str(receipt.url).split("/cases/")[1].split("/")[0]
    scans = wait_until(lambda: _rows(cluster.hub.data / "hub.db", "SELECT count(*) FROM casescan WHERE case_id = ? "
                                     "AND status = 'complete'", case_id)[0][0], timeout=timeout,
                       what="the case and its scans at the hub")
    uploads = _rows(point_db, "SELECT count(*) FROM scanfile WHERE case_id = ?", case_id)[0][0]
    print(f"    received from the pre-check; the hub attached {scans} scans from its own store, "
          f"the village uploaded {uploads}")
