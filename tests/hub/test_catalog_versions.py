"""Catalog versions at the hub: signed deltas for points, the catalog pages, and a case received under an
older version flagged on its page with what changed."""

from __future__ import annotations

import re

from hub.catalog.versions import import_catalog, load_catalog_file
from tests.hub.hubkit import MEDICAL_INSURANCE, SAMPLE_CATALOG
from sync.envelope import Kind
from sync.signing import verify_document
from sync.catalog import CATALOG_DELTA_TYPE, apply_delta
from sync.messages import CATALOG_DOCUMENT_TYPE

WITHDRAWN = "451030-TY-037"


def second_version(hub, *, promised_days: int = 3) -> None:
    """Version 2: the medical insurance item promises more days and gains a material; one item is withdrawn."""
    catalog = load_catalog_file(SAMPLE_CATALOG)
    item = next(item for item in catalog.items if item.code == MEDICAL_INSURANCE)
    photo = item.materials[0].model_copy(update={"code": "photo", "name_zh": "近期照片", "required": False})
    changed = item.model_copy(update={"promised_days": promised_days, "materials": [*item.materials, photo]})
    catalog.items = [changed if entry is item else entry for entry in catalog.items if entry.code != WITHDRAWN]
    with hub.db() as session:
        assert import_catalog(session, catalog, identity=hub.identity, source="v2.json").version == 2


def test_points_get_a_signed_delta_of_what_changed_or_the_whole_version(hub):
    point = hub.enroll_point()
    version_1 = verify_document(point.client.catalog(), point.hub_keys.verifier())
    second_version(hub)

    signed = point.client.catalog(have=1)
    delta = verify_document(signed, point.hub_keys.verifier())
    assert delta["type"] == CATALOG_DELTA_TYPE and (delta["base_version"], delta["version"]) == (1, 2)
    assert [item["code"] for item in delta["items"]] == [MEDICAL_INSURANCE] and delta["withdrawn"] == [WITHDRAWN]
    rebuilt = apply_delta(version_1, delta)
    whole = {"document": rebuilt, "signature": delta["signature"]}
    assert verify_document(whole, point.hub_keys.verifier()) == rebuilt, "the hub signed exactly this version"
    assert verify_document(point.client.catalog(), point.hub_keys.verifier()) == rebuilt

    assert point.client.catalog(have=2) is None
    unknown_base = verify_document(point.client.catalog(have=7), point.hub_keys.verifier())
    assert unknown_base["type"] == CATALOG_DOCUMENT_TYPE and unknown_base["version"] == 2


def test_catalog_pages_and_a_case_under_an_older_version_is_flagged(hub):
    point = hub.enroll_point()
    second_version(hub)
    case_id = point.push_case(catalog_version=1)
    payload = point.submit(WITHDRAWN, catalog_version=1, form={"address": "周邦村三组"})
    [parked] = point.client.push([point.seal(Kind.SUBMIT, payload)])
    assert (parked.status, parked.reason) == ("conflict", "catalog_drift"), "kept, and on the conflict desk too"
    withdrawn_case = payload["case_id"]

    staff = hub.browser("yb-li")
    versions = staff.get("/catalog").text
    assert "事项目录" in versions and 'href="/catalog"' in versions, "linked from the navigation"
    assert 'href="/catalog/2"' in versions and "v2.json" in versions and "新增0项，变更1项，取消1项" in versions
    version = staff.get("/catalog/2").text
    # The page says what changed in Chinese (the CLI's ``catalog diff`` keeps English).
    changes = re.sub(r"<[^>]*>", " ", version.split('id="catalog-changes"')[1].split("<h2>")[0])
    assert f"{MEDICAL_INSURANCE}" in changes and "承诺时限（工作日）：1 → 3" in changes
    assert "材料“近期照片”：新增" in changes and f"{WITHDRAWN}" in changes and "：取消" in changes
    assert not re.search(r"\b(added|removed|changed|withdrawn|promised_days|materials)\b", changes)
    assert f'href="/catalog/2/items/{MEDICAL_INSURANCE}"' in version
    guide = staff.get(f"/catalog/2/items/{MEDICAL_INSURANCE}").text
    for expected in ("办事指南", "《中华人民共和国社会保险法》", "3个工作日", "12345", "近期照片", "参保类别"):
        assert expected in guide, expected
    english = staff.get(f"/catalog/2/items/{MEDICAL_INSURANCE}?lang=en").text
    assert "Service guide" in english and "basic medical insurance enrolment" in english
    assert staff.get("/catalog/9").status_code == 404

    page = staff.get(f"/cases/{case_id}?lang=zh").text
    assert 'id="catalog-outdated"' in page and "旧版事项目录" in page
    assert "按第1版事项目录受理；现行第2版中该事项有变更" in page
    assert "承诺时限（工作日）：1 → 3" in page and "材料“近期照片”：新增" in page
    assert "received under catalog version" not in page and "materials.photo" not in page
    flagged = hub.api("admin").get(f"/api/cases/{withdrawn_case}").json()
    [note] = flagged["catalog_notes"]
    assert note.startswith(f"received under catalog version 1; in the current version 2 item {WITHDRAWN} is "
                           f"withdrawn; parked as conflict "), "one warning: the note names the drift conflict"
    assert flagged["tasks"][0]["department"] == "TY", "kept and routed by the item's last entry"
    [drift] = [c for c in hub.api("admin").get("/api/conflicts", params={"kind": "catalog_drift"}).json()["conflicts"]
               if c["case_id"] == withdrawn_case]
    assert drift["conflict_id"] in note
    flagged_page = hub.browser("admin").get(f"/cases/{withdrawn_case}?lang=zh").text
    assert "须先由中心在冲突处理台处理" in flagged_page and f'href="/desk/{drift["conflict_id"]}"' in flagged_page
    current = point.push_case(catalog_version=2)
    assert hub.api("admin").get(f"/api/cases/{current}").json()["catalog_notes"] == []
