"""Run the real loop on SQLite: a hub, a township point and a village point.

Starts three servers on free loopback ports, enrolls both points, loads the
sample catalog, drives one case through the whole loop through the JSON
APIs, then keeps serving for a person to try it (or exits with --once).
With --region the hub keeps its sealed scans in a real SeaweedFS (an
S3-compatible store, as a region's hubs share one) started here, and one
more case carries a scan there.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

from scripts.demo_precheck import run_precheck
from tests.support.cluster import SAMPLE_CATALOG, Cluster, wait_until
from tests.support.seaweed import Seaweed, start_seaweed

from sync.kit.idnumber import check_character


def catalog_reviewers(catalog: Path = SAMPLE_CATALOG) -> dict[str, tuple[str, str]]:
    """One reviewer per department of the catalog, username -> (department, password): whatever item a newcomer
    receives at the window, someone at the hub can decide it."""
    departments = json.loads(catalog.read_text(encoding="utf-8"))["departments"]
    return {f"{d['code'].lower()}-reviewer": (d["code"], f"{d['code'].lower()}-pass-2026") for d in departments}


def township_departments(catalog: Path = SAMPLE_CATALOG) -> set[str]:
    """The departments that are one per township (乡镇人民政府): their reviewers belong to a township point."""
    departments = json.loads(catalog.read_text(encoding="utf-8"))["departments"]
    return {d["code"] for d in departments if d.get("scope") == "township"}


REVIEWERS = catalog_reviewers()
# The township's own staff: reads the work of the township and its villages at the hub, changes nothing.
TOWNSHIP_STAFF = ("badai-township", "badai-pass-2026")
# The reviewer who decides the demo's own case (城乡居民基本医疗保险参保登记, department YB).
LOOP_REVIEWER = "yb-reviewer"
TOWNSHIP = "八达镇政务服务中心"
VILLAGE = "八达镇周邦村便民服务站"
STEP_TIMEOUT = 60
SYNC_INTERVAL = 30


def step(number: int, text: str) -> None:
    print(f"\n[{number}] {text}", flush=True)


def sync_now(point_api) -> None:
    """One sync round at the point, as the 'sync now' button does; print what moved."""
    report = point_api.post("/api/sync").json()
    moved = ", ".join(f"{key} {report[key]}" for key in ("pushed", "accepted", "pulled", "applied"))
    print(f"    sync: {moved}" + (f"; errors: {report['errors']}" if report["errors"] else ""))


def wait_for_outbox_empty(point_api) -> None:
    wait_until(lambda: point_api.get("/api/status").json()["queued"] == 0, timeout=STEP_TIMEOUT,
               what="the point's outbox to drain")
    status = point_api.get("/api/status").json()
    print(f"    outbox empty; point {'online' if status['online'] else 'offline'}, last sync {status['last_sync_at']}")


def run_loop(cluster: Cluster) -> None:
    hub, village = cluster.hub, cluster.points[VILLAGE]
    staff, reviewer = village.api("staff"), hub.api(LOOP_REVIEWER)

    step(3, "village staff receives an application (城乡居民基本医疗保险参保登记)")
    id_number = "45102719800101234" + check_character("45102719800101234")
    answer = staff.post("/api/cases", json={
        "item_code": "451030-YB-001",
        "applicant": {"name": "韦秀兰", "id_number": id_number, "phone": "13807761234"},
        "form": {"insured_category": "普通居民"},
        "materials": ["id_card", "hukou"],
    })
    answer.raise_for_status()
    receipt = answer.json()
    case_id = receipt["case_id"]
    print(f"    receipt {receipt['receipt_no']}  pickup code {receipt['pickup_code']}  "
          f"promised {receipt['promised_date']}  (sealed into the outbox)")

    step(4, "the point's sync agent pushes it (it wakes on every new case); the hub verifies, stores, opens, routes")
    wait_for_outbox_empty(staff)
    wait_until(lambda: any(c["case_id"] == case_id for c in reviewer.get("/api/queue").json()["cases"]),
               timeout=STEP_TIMEOUT, what="the case in the YB queue")
    print("    in the queue of 县医疗保障局 (YB)")

    step(5, "the YB reviewer approves; the hub issues a signed result")
    decided = reviewer.post(f"/api/cases/{case_id}/decision",
                            json={"decision": "approved", "reason": "", "certificate_no": "YB-2026-000123"})
    decided.raise_for_status()
    print(f"    hub status: {decided.json()['status']}")

    step(6, "the point pulls the result and verifies the hub's signature")
    sync_now(staff)
    wait_until(lambda: staff.get(f"/api/cases/{case_id}").json()["status"] == "result_ready",
               timeout=STEP_TIMEOUT, what="the result at the village point")
    print("    result ready at the village point")

    step(7, "the resident collects it with the pickup code and the last 4 ID digits")
    collected = staff.post(f"/api/cases/{case_id}/pickup",
                           json={"pickup_code": receipt["pickup_code"], "id_last4": id_number[-4:]})
    collected.raise_for_status()
    print(f"    handed over: {collected.json()['result']['document']['decision']}")

    step(8, "'collected' goes back; the hub closes the case (办结)")
    wait_for_outbox_empty(staff)
    wait_until(lambda: reviewer.get(f"/api/cases/{case_id}").json()["status"] == "closed",
               timeout=STEP_TIMEOUT, what="the case closed at the hub")
    events = reviewer.get(f"/api/cases/{case_id}").json()["events"]
    for event in events:
        print(f"    {event['at']}  {event['action']:<18} {event['actor']}  {event['note']}")

    step(9, "a resident pre-checks on the public site (网上预审); the village clerk answers; she applies with it")
    second = "45102719850202345" + check_character("45102719850202345")
    run_precheck(cluster, village, ("黄秀芳", second), STEP_TIMEOUT)


def run_region_scan(cluster: Cluster, store: Seaweed) -> None:
    """One more case with a scanned material: it travels sealed, village -> township -> hub, into the object store."""
    hub, village = cluster.hub, cluster.points[VILLAGE]
    staff, reviewer = village.api("staff"), hub.api(LOOP_REVIEWER)
    step(10, "a case with a scan: the hub stores it sealed in the object store (SeaweedFS)")
    id_number = "45102719900303456" + check_character("45102719900303456")
    case = {"item_code": "451030-YB-001", "applicant": {"name": "蓝秀梅", "id_number": id_number, "phone": ""},
            "form": {"insured_category": "普通居民"}, "materials": ["id_card", "hukou"]}
    scan = b"%PDF-1.4\n" + os.urandom(300_000)  # intake checks a scan's content: a PDF header passes
    answer = staff.post("/api/cases", data={"case": json.dumps(case)}, files=[("scans", ("hukou.pdf", scan))])
    answer.raise_for_status()
    case_id = answer.json()["case_id"]

    def arrived() -> bool:
        for point in (village, cluster.points[TOWNSHIP]):
            point.api("staff").post("/api/sync", params={"scans": "1"})
        listed = reviewer.get(f"/api/cases/{case_id}")
        return listed.status_code == 200 and [s["status"] for s in listed.json()["scans"]] == ["complete"]

    wait_until(arrived, timeout=STEP_TIMEOUT * 2, interval=1, what="the scan complete at the hub")
    (listed,) = reviewer.get(f"/api/cases/{case_id}").json()["scans"]
    shown = reviewer.get(f"/api/cases/{case_id}/scans/{listed['scan_id']}").content
    keys = store.keys()
    print(f"    scans in s3://{store.bucket}/ at {store.endpoint}: {len(keys)} object(s), "
          f"{len([k for k in keys if listed['scan_id'] in k])} of them this scan's chunks; "
          f"read back {'byte-identical' if shown == scan else 'DIFFERENT'}")
    if shown != scan:
        raise RuntimeError("the scan read back from the object store differs from the one sent")


def stop_on_sigterm(signum: int, frame: object) -> None:
    """SIGTERM (a service manager, ``kill``, a test) stops the servers as Ctrl-C does: through the same unwinding."""
    raise KeyboardInterrupt


def main() -> int:
    signal.signal(signal.SIGTERM, stop_on_sigterm)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--once", action="store_true", help="exit after the loop (0 if every step passed)")
    parser.add_argument("--data", type=Path, help="keep the servers' data here (default: a new temp dir)")
    parser.add_argument("--region", action="store_true",
                        help="keep the hub's scans in a SeaweedFS object store started here (S3, as a region does)")
    args = parser.parse_args()
    base = args.data or Path(tempfile.mkdtemp(prefix="pointkit-demo-"))
    fresh = not (base / "hub" / "hub.db").exists()
    started = time.monotonic()
    base.mkdir(parents=True, exist_ok=True)
    store = start_seaweed(base) if args.region else None

    try:
        return serve_demo(base, fresh, started, store, once=args.once)
    finally:
        if store is not None:
            store.stop()


def serve_demo(base: Path, fresh: bool, started: float, store: Seaweed | None, *, once: bool) -> int:
    """The loop and, unless ``once``, the servers kept up for a person to try."""
    # The setup commands (reviewers, points) run in this process: a newcomer waits for the loop, not for twenty
    # interpreters importing the hub (Cluster.setup).
    with Cluster(base, echo=lambda line: print("    " + line, flush=True), setup_in_process=True) as cluster:
        if store is not None:
            # Every hub command and process of the cluster reads these; the URL itself carries no secret.
            cluster.env.update({"POINTKIT_HUB_SCANS": store.scans_url(), **store.credentials_env})
            print(f"    object store: SeaweedFS S3 at {store.endpoint}, bucket {store.bucket}")
        step(1, f"hub: init, sample catalog, reviewers  (data in {base})")
        hub = cluster.start_hub()
        if fresh:
            # The township's own government (乡镇人民政府) decides its villages' township-level reviews: its reviewer
            # and its staff belong to the township point, registered here before it enrolls in step 2.
            cluster.setup(cluster.hub_cmd, "points", "add", TOWNSHIP, "--level", "township", "--data", str(hub.data))
            cluster.setup(cluster.hub_cmd, "users", "add", TOWNSHIP_STAFF[0], "--role", "township", "--township",
                          TOWNSHIP, "--password", TOWNSHIP_STAFF[1], "--data", str(hub.data))
        scoped = township_departments()
        for username, (department, password) in REVIEWERS.items():
            if fresh:
                cluster.add_reviewer(username, department, password,
                                     township=TOWNSHIP if department in scoped else None)
            hub.logins[username] = password
        hub.logins[TOWNSHIP_STAFF[0]] = TOWNSHIP_STAFF[1]
        print(f"    hub at {hub.url}")

        step(2, "enroll a township point and a village point")
        # The servers sync on their own every SYNC_INTERVAL s; the loop also syncs by hand to show each step.
        township = cluster.start_point(TOWNSHIP, "township", dirname="township", sync_interval=SYNC_INTERVAL)
        village = cluster.start_point(VILLAGE, "village", dirname="village", sync_interval=SYNC_INTERVAL,
                                      township=TOWNSHIP)
        print(f"    township at {township.url}\n    village  at {village.url}")

        try:
            run_loop(cluster)
            if store is not None:
                run_region_scan(cluster, store)
        except Exception as exc:
            print(f"\nFAILED: {exc}", file=sys.stderr)
            return 1
        print(f"\nloop complete in {time.monotonic() - started:.1f}s")
        if once:
            return 0

        print("\nTry it in a browser (Ctrl-C to stop):")
        print(f"  hub       {hub.url}/login  admin / {hub.logins['admin']}")
        print("  reviewers " + ", ".join(f"{u} / {p} ({d})" for u, (d, p) in REVIEWERS.items()))
        print(f"  township staff at the hub (read-only): {TOWNSHIP_STAFF[0]} / {TOWNSHIP_STAFF[1]}")
        print(f"  township  {township.url}/login  staff / {township.logins['staff']}")
        print(f"  village   {village.url}/login  staff / {village.logins['staff']}")
        print(f"  kiosk     {village.url}/status  (residents' self-service status check, no login)")
        print(f"  residents {hub.url}/residents/  (public site: guides and pre-checks, no login)")
        print(f"  data in   {base}", flush=True)
        try:
            while all(server.process.poll() is None for server in (hub, township, village)):
                time.sleep(1)
        except KeyboardInterrupt:
            print("\nstopping", flush=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # stopped during the loop: the servers are already down
        sys.exit(130)
