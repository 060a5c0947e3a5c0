"""Catalog versions reach real points as signed deltas, offline points included; an intake made under an
older version against a since-withdrawn item is kept and flagged at the hub."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlparse

from tests.support.cluster import command, wait_until
from tests.support.linksim import LinkSimulator
from sync.kit.idnumber import check_character

SAMPLE_CATALOG = Path(__file__).resolve().parents[2] / "hub" / "data" / "sample_catalog.json"
MEDICAL_INSURANCE = "451030-YB-001"
PLAQUE = "451030-TY-037"  # withdrawn in version 2
BIRTH_REGISTRATION = "451030-WJ-005"  # changed in version 3


def catalog_version(point) -> int:
    return point.api("staff").get("/api/status").json()["catalog_version"]


def import_version(cluster, path: Path, catalog: dict) -> str:
    path.write_text(json.dumps(catalog, ensure_ascii=False), encoding="utf-8")
    return cluster.run(command("pointkit-hub"), "catalog", "import", str(path), "--data", str(cluster.hub.data))


def test_three_versions_reach_two_points_by_delta_one_offline_in_between(cluster, tmp_path):
    hub = cluster.start_hub()
    online = cluster.start_point("八达镇政务服务中心", "township")
    with LinkSimulator(("127.0.0.1", urlparse(hub.url).port)) as link:
        offline = cluster.start_point("八达镇周邦村便民服务站", "village", hub_url=link.url)
        for point in (online, offline):
            wait_until(lambda: catalog_version(point) == 1, timeout=60, what=f"version 1 at {point.name}")

        link.set_down(True)  # the village loses its link for the middle version
        catalog = json.loads(SAMPLE_CATALOG.read_text(encoding="utf-8"))
        catalog["items"] = [item for item in catalog["items"] if item["code"] != PLAQUE]
        next(item for item in catalog["items"] if item["code"] == MEDICAL_INSURANCE)["promised_days"] = 3
        assert "new version 2" in import_version(cluster, tmp_path / "v2.json", catalog)
        wait_until(lambda: catalog_version(online) == 2, timeout=60, what="version 2 at the township")

        # Offline on version 1, the village still receives the item version 2 withdrew.
        first17 = "45102719600315002"
        received = offline.api("staff").post("/api/cases", json={
            "item_code": PLAQUE, "applicant": {"name": "农志强", "id_number": first17 + check_character(first17),
                                               "phone": ""},
            "form": {"address": "周邦村三组12号"}, "materials": ["id_card", "proof"]})
        assert received.status_code == 201, received.text

        next(item for item in catalog["items"] if item["code"] == BIRTH_REGISTRATION)["promised_days"] = 2
        assert "new version 3" in import_version(cluster, tmp_path / "v3.json", catalog)
        wait_until(lambda: catalog_version(online) == 3, timeout=60, what="version 3 at the township")
        assert catalog_version(offline) == 1

        link.set_down(False)
        assert offline.api("staff").post("/api/sync").status_code == 200
        wait_until(lambda: catalog_version(offline) == 3, timeout=60, what="version 3 at the village")

    # Identical catalogs (whether this level may receive an item is the point's own business).
    catalogs = [point.api("staff").get("/api/items").json() for point in (online, offline)]
    for answer in catalogs:
        for item in answer["items"]:
            del item["accepted_here"]
    assert catalogs[0] == catalogs[1] and catalogs[0]["catalog_version"] == 3
    assert PLAQUE not in {item["code"] for item in catalogs[0]["items"]}
    logs = [(point.data / "point.log").read_text(encoding="utf-8") for point in (online, offline)]
    assert "catalog version 1 -> 2 (delta: 1 changed or new, 1 withdrawn)" in logs[0]
    assert "catalog version 2 -> 3 (delta: 1 changed or new, 0 withdrawn)" in logs[0]
    assert "catalog version 1 -> 3 (delta: 2 changed or new, 1 withdrawn)" in logs[1]

    case_id = received.json()["case_id"]
    admin = hub.api("admin")
    case = wait_until(lambda: (r := admin.get(f"/api/cases/{case_id}")).status_code == 200 and r.json(),
                      timeout=60, what="the village's case at the hub")
    [note] = case["catalog_notes"]
    assert note.startswith(f"received under catalog version 1; in the current version 3 item {PLAQUE} is withdrawn; "
                           f"parked as conflict "), "the note names the catalog_drift conflict a withdrawal parks"
    assert case["item_name"] == "“光荣之家”光荣牌申领", "the withdrawn item's last entry still names and routes it"
