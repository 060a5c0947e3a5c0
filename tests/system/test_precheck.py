"""网上预审 over real servers: a resident pre-checks on the hub's public site with real photos, the village clerk
answers with a one-time notice, she pre-checks again with the corrected photo and reads 材料齐全 by number and code,
and the clerk takes that pre-check into an intake whose scans the hub attaches from its own store: the village link
does not carry the photos again (the bytes the point sent through a link simulator are counted), and the hub's case
holds scans with the very digests of the photos she sent.
"""

from __future__ import annotations

import io
import random
import re
import sqlite3
from urllib.parse import urlparse

from PIL import Image

from sync.kit.idnumber import check_character
from tests.support.cluster import MEDICAL_INSURANCE, wait_until
from tests.support.linksim import LinkSimulator

VILLAGE = "八达镇周邦村便民服务站"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
RESIDENT_ID = "45102719800101234" + check_character("45102719800101234")


def photo(seed: int) -> bytes:
    """A noisy 2400×1800 JPEG like a phone's photo of a paper."""
    rng = random.Random(seed)
    small = Image.frombytes("RGB", (240, 180), rng.randbytes(240 * 180 * 3))
    out = io.BytesIO()
    small.resize((2400, 1800)).save(out, "JPEG", quality=92)
    return out.getvalue()


def rows(db_path, query: str, *args) -> list[tuple]:
    with sqlite3.connect(db_path) as db:
        return db.execute(query, args).fetchall()


def token(response) -> str:
    return CSRF.search(response.text).group(1)


def pre_check(site, files: dict[str, bytes]) -> tuple[str, str]:
    """Send a pre-check of the medical insurance item on the public site; its number and code."""
    form = site.get(f"/residents/items/{MEDICAL_INSURANCE}/precheck")
    sent = site.post(f"/residents/items/{MEDICAL_INSURANCE}/precheck",
                     data={"csrf_token": token(form), "name": "韦秀兰", "id_number": RESIDENT_ID,
                           "phone": "13807761234", "point": VILLAGE},
                     files=[(f"file_{material}", (f"{material}.jpg", data, "image/jpeg"))
                            for material, data in files.items()])
    assert sent.status_code == 200, sent.text[:1500]
    number = re.search(r'id="precheck-no">([^<]+)<', sent.text).group(1).strip()
    code = re.search(r'id="precheck-code">([^<]+)<', sent.text).group(1).strip()
    return number, code


def read_answer(site, number: str, code: str) -> str:
    page = site.get("/residents/prechecks")
    return site.post("/residents/prechecks", data={"csrf_token": token(page), "precheck_no": number,
                                                   "code": code}).text


def test_pre_check_answered_at_the_point_then_taken_into_an_intake_without_sending_the_photos_again(cluster):
    import httpx

    hub = cluster.start_hub()
    with LinkSimulator(("127.0.0.1", urlparse(hub.url).port)) as link:
        point = cluster.start_point(VILLAGE, "village", hub_url=link.url)
        point_db, hub_db = point.data / "point.db", hub.data / "hub.db"
        site = httpx.Client(base_url=hub.url, timeout=30)
        clerk = httpx.Client(base_url=point.url, timeout=60, follow_redirects=True)
        clerk.post("/login", data={"username": "staff", "password": "point-staff-pass",
                                   "csrf_token": token(clerk.get("/login"))})

        first, first_code = pre_check(site, {"id_card": photo(1), "hukou": photo(2)})
        first_id = wait_until(lambda: rows(point_db, "SELECT id FROM precheck WHERE precheck_no = ?", first),
                              timeout=60, what="the pre-check at the point")[0][0]
        page = clerk.get(f"/prechecks/{first_id}")
        assert "户口" in page.text
        file_id = re.search(rf"/prechecks/{first_id}/files/([0-9a-f-]{{36}})", page.text).group(1)
        opened = clerk.get(f"/prechecks/{first_id}/files/{file_id}")
        assert opened.headers["content-type"] == "image/jpeg"
        assert Image.open(io.BytesIO(opened.content)).size == (2000, 1500)
        clerk.post(f"/prechecks/{first_id}", data={"csrf_token": token(page), "outcome": "notice",
                                                   "note_hukou": "户口簿照片看不清，请重拍本人页"})
        wait_until(lambda: rows(hub_db, "SELECT outcome FROM precheck WHERE precheck_no = ?", first)
                   == [("notice",)], timeout=60, what="the clerk's answer at the hub")
        notice = read_answer(site, first, first_code)
        assert "一次性告知" in notice and "户口簿照片看不清，请重拍本人页" in notice

        photos = {"id_card": photo(1), "hukou": photo(3)}
        second, second_code = pre_check(site, photos)
        second_id = wait_until(lambda: rows(point_db, "SELECT id FROM precheck WHERE precheck_no = ?", second),
                               timeout=60, what="the second pre-check at the point")[0][0]
        page = clerk.get(f"/prechecks/{second_id}")
        clerk.post(f"/prechecks/{second_id}", data={"csrf_token": token(page), "outcome": "complete"})
        wait_until(lambda: "材料齐全，可前来办理" in read_answer(site, second, second_code), timeout=60,
                   what="the complete answer on the public site")

        form = clerk.get("/cases/new", params={"precheck": second_id})
        assert RESIDENT_ID in form.text and 'id="from-precheck"' in form.text
        sent_before = link.stats.bytes_up
        receipt = clerk.post("/cases/new", params={"item": MEDICAL_INSURANCE}, data={
            "csrf_token": token(form), "precheck_id": second_id, "item_code": MEDICAL_INSURANCE,
            "applicant_name": "韦秀兰", "applicant_id_number": RESIDENT_ID, "applicant_phone": "13807761234",
            "field_insured_category": "普通居民", "materials": ["id_card", "hukou"], "action": "receive"})
        assert receipt.status_code == 200 and "/receipt" in str(receipt.url), receipt.text[:1500]
        case_id = str(receipt.url).split("/cases/")[1].split("/")[0]
        scans = wait_until(lambda: rows(hub_db, "SELECT scan_id, sha256, status FROM casescan WHERE case_id = ?",
                                        case_id), timeout=60, what="the case and its scans at the hub")
        sent = link.stats.bytes_up - sent_before

    stored = dict(rows(hub_db, "SELECT p.id, p.sha256 FROM precheckphoto p JOIN precheck c ON c.id = p.precheck_id "
                               "WHERE c.precheck_no = ?", second))
    assert {scan_id: sha for scan_id, sha, _ in scans} == stored and {status for *_, status in scans} == {"complete"}
    assert rows(hub_db, "SELECT status, case_id FROM precheck WHERE precheck_no = ?", second) == [("taken", case_id)]
    # The case went up, its photos did not: far fewer bytes than one photo.
    assert sent < min(len(data) for data in photos.values()) / 4, sent
    assert rows(point_db, "SELECT count(*) FROM scanfile WHERE case_id = ?", case_id) == [(0,)]
