"""English pages count in the right number: "1 copy", "2 copies", "1 working day"; Chinese has one form."""

from __future__ import annotations

import re

from tests.pointkit.hubside import ITEMS, catalog_document

from pointkit import create_app, db
from pointkit.auth import create_staff
from pointkit.catalog import store_catalog
from pointkit.state import get_state
from sync.signing import sign_document

ONE_DAY_ITEM = {
    "code": "T-009", "name_zh": "当场办结事项", "name_en": "Same-day item", "departments": ["MZ"],
    "legal_days": 1, "promised_days": 1, "levels": ["village"],
    "materials": [{"code": "id_card", "name_zh": "居民身份证", "name_en": "Resident ID card", "required": True},
                  {"code": "photo", "name_zh": "照片", "name_en": "Photo", "copies": 2, "required": True}],
}


def test_intake_form_and_guide_say_1_copy_and_1_working_day_in_english(point):
    with db.session_scope(point.data_dir) as session:
        store_catalog(session, get_state(session),
                      sign_document(catalog_document(2, ITEMS + [ONE_DAY_ITEM]), point.hub.sign_key))
        create_staff(session, "staff", "window-pass-1")
    client = create_app(point.data_dir, test_config={"TESTING": True}).test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    client.post("/login", data={"username": "staff", "password": "window-pass-1", "csrf_token": token})

    page = client.get("/cases/new?item=T-009&lang=en").get_data(as_text=True)
    assert "1 copy)" in page and "2 copies" in page and "1 copies" not in page
    assert "1 working day " in page and "1 working days" not in page
    guide = client.get("/items/T-009/guide").get_data(as_text=True)
    assert "1 working day<" in guide and "1 working days" not in guide
    chinese = client.get("/cases/new?item=T-009&lang=zh").get_data(as_text=True)
    assert "1份" in chinese and "2份" in chinese and "1个工作日" in chinese
