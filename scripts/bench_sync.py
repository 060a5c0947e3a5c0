"""Sync over a simulated village link: wire overhead, time against the line rate, cuts, idle traffic.

Workload: 20 cases each with one 40 KB scan, plus one case with a 640 KB
multi-page scan. Link: 256 kbit/s, 300 ms one-way latency (tests/support/linksim.py).
Payload = the cases' form data as JSON plus the scan files; the line-rate
minimum = payload bits / link rate.

  (a) no cuts: wire bytes / payload bytes, elapsed / line-rate minimum
  (b) a cut every 8 s: elapsed / line-rate minimum
  (c) a naive baseline in the same run, on (a) and (b): one multipart POST per
      case with its scans, restarted from zero after any failure (how OpenRosa
      clients upload), stopped at 3x the line-rate minimum
  (d) idle traffic: bytes per day for an idle point, from a simulated 24-hour
      clock that runs every timer the point has (each round really runs)
  (e) a new point gets the sample catalog over a 64 kbit/s, 600 ms round trip link
      cut every 8 s: seconds from `pointkit init` until the catalog is stored
  (f) relayed scans: a village's scans (256 KB and 640 KB) through its township
      over the village link of issue 16 (64 kbit/s, 600 ms round trip, a cut
      every 8 s): wire bytes on the village link / sealed scan bytes

The point is a real pointkit data directory whose sync agent runs in this
process; the hub is a real `pointkit-hub serve` process. Ends with one
RESULT line. `--scale 0.1` runs a small version (the suite does).
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
from flask import Flask, request
from sqlmodel import select

from tests.support.cluster import Cluster, command, free_port
from tests.support.linksim import LinkSimulator, LinkStats

from pointkit import db
from pointkit.catalog import get_item  # noqa: F401  (imported so a missing catalog fails loudly here)
from pointkit.intake import Applicant, receive_case
from pointkit.scans import ScanInput, prepare_scans
from pointkit.models import Case, ScanFile
from pointkit.state import get_state, load_identity
from pointkit.syncagent import CUT_RETRY_S, DEFAULT_INTERVAL, MAX_IDLE_INTERVAL, SyncWorker, sync_once
from sync.client import HubUnreachable
from sync.clock import utcnow
from sync.kit.idnumber import check_character

RATE_BPS = 256_000
LATENCY_S = 0.3
CUT_EVERY_S = 8.0
SMALL_CASES = 20
SMALL_SCAN = 40 * 1024
LARGE_SCAN = 640 * 1024
BASELINE_LIMIT = 3.0
DAY_S = 86_400
# (e): the village link of issue 16, where the catalog used to never arrive.
CATALOG_RATE_BPS = 64_000
CATALOG_LATENCY_S = 0.3
CATALOG_LIMIT_S = 300.0
# Where the first cut falls: the link's own 8 s rhythm, and twice in the middle of the catalog's download.
CATALOG_FIRST_CUTS = (None, 2.5, 3.5)
# A TCP connection's own packets (handshake, acknowledgements, close: about ten of 40-60 bytes each).
TCP_OVERHEAD_PER_CONNECTION = 520
RELAY_RATE_BPS = 64_000
RELAY_LATENCY_S = 0.3
RELAY_SCANS = (256 * 1024, 640 * 1024)
TOWNSHIP = "八达镇政务服务中心"
RELAYED_VILLAGE = "八达镇那岩村便民服务站"


def applicant(number: int) -> Applicant:
    first17 = f"45102719800101{number % 1000:03d}"
    return Applicant(f"居民{number}", first17 + check_character(first17), "13807761234")


def make_cases(data: Path, sizes: list[int], start: int) -> tuple[list[str], int, list[tuple[dict, bytes]]]:
    """Receive one case per scan size; return case ids, payload bytes, and (form, scan) for the baseline."""
    case_ids, payload, baseline = [], 0, []
    identity = load_identity(data)
    for offset, size in enumerate(sizes):
        number = start + offset
        scan = os.urandom(size)
        form = {"insured_category": "普通居民"}
        person = applicant(number)
        prepared = prepare_scans(data, [ScanInput(f"scan-{number}.pdf", scan, "id_card")])
        with db.session_scope(data) as session:
            case, _ = receive_case(session, "staff", "451030-YB-001", person, form, ["id_card", "hukou"],
                                   identity=identity, scans=prepared)
            case_ids.append(case.id)
        form_json = json.dumps({"item_code": "451030-YB-001", "applicant": person.__dict__, "form": form,
                                "materials": ["id_card", "hukou"]}, ensure_ascii=False).encode("utf-8")
        payload += len(form_json) + size
        baseline.append(({"case": form_json.decode("utf-8")}, scan))
    return case_ids, payload, baseline


def hub_complete(hub_db: Path, case_ids: list[str]) -> bool:
    marks = ",".join("?" * len(case_ids))
    with sqlite3.connect(hub_db) as conn:
        cases = conn.execute(f'select count(*) from "case" where id in ({marks})', case_ids).fetchone()[0]
        scans = conn.execute(f"select count(*) from casescan where status = 'complete' and case_id in ({marks})",
                             case_ids).fetchone()[0]
    return cases == len(case_ids) and scans == len(case_ids)


def run_sync(data: Path, hub_db: Path, case_ids: list[str], link: LinkSimulator, limit_s: float) -> float | None:
    """Sync rounds back to back (as the agent does when there is work, and after a cut once the agent's
    short retry delay has passed) until the hub holds everything."""
    started = time.monotonic()
    while time.monotonic() - started < limit_s:
        try:
            sync_once(data, send_scans=True, attempts=1)
        except HubUnreachable:
            time.sleep(CUT_RETRY_S)
        if hub_complete(hub_db, case_ids):
            return time.monotonic() - started
    return None


class Receiver:
    """The naive baseline's server: takes one multipart POST per case."""

    def __init__(self):
        from waitress import create_server

        app = Flask("baseline")
        self.received: set[str] = set()

        @app.post("/upload")
        def upload():
            files = list(request.files.values())
            if files and files[0].read():
                self.received.add(request.form["case"])
            return {"ok": True}

        self.port = free_port()
        self.server = create_server(app, host="127.0.0.1", port=self.port, threads=4,
                                    max_request_body_size=64 * 1024 * 1024)
        threading.Thread(target=self.server.run, daemon=True).start()

    def close(self) -> None:
        self.server.close()


def run_baseline(cases: list[tuple[dict, bytes]], cut_every_s: float | None, limit_s: float) -> tuple[float | None, int]:
    receiver = Receiver()
    started = time.monotonic()
    done = 0
    with LinkSimulator(("127.0.0.1", receiver.port), rate_bps=RATE_BPS, latency_s=LATENCY_S,
                       cut_every_s=cut_every_s) as link:
        for form, scan in cases:
            while True:
                left = limit_s - (time.monotonic() - started)
                if left <= 0:
                    receiver.close()
                    return None, done
                try:
                    httpx.post(link.url + "/upload", data=form, files={"scan": ("scan.pdf", scan)}, timeout=left)
                    done += 1
                    break
                except httpx.HTTPError:
                    continue  # restarted from zero, as an OpenRosa client does
    receiver.close()
    return time.monotonic() - started, done


def idle_day(data: Path, link: LinkSimulator) -> tuple[int, int, LinkStats]:
    """A simulated 24 hours of an idle point: the sync worker's own timer (default intervals, slowing down while
    nothing moves) decides when each round runs, and each round runs for real over the link, judged at the
    simulated time, so every timer the point has fires as it would in a day: the rounds, the hourly catalog
    check (due only when no pull answer names the catalog version), a township's village list every 10
    minutes. Hub key rotations and results arrive on the pulls: no other timer talks to the hub."""
    sync_once(data)  # settle: nothing left to move
    worker = SyncWorker(data)
    start, elapsed, rounds = utcnow(), 0.0, 0
    link.stats = LinkStats()
    while elapsed < DAY_S:
        worker.run_round(now=start + timedelta(seconds=elapsed))
        rounds += 1
        elapsed += worker.next_delay()
    return rounds, link.stats.bytes_up + link.stats.bytes_down, link.stats


def catalog_over_a_cut_link(cluster: Cluster, hub_port: int, base: Path,
                            first_cut_s: float | None) -> tuple[float | None, int, int]:
    """`pointkit init` of a new village point over the issue's village link (64 kbit/s, 600 ms round trip, a cut
    every 8 s, the first one after ``first_cut_s`` if given): seconds until it holds the sample catalog
    (enrollment included), bytes down, cuts."""
    name = f"八达镇维新村便民服务站{first_cut_s or 0:.1f}"
    token = cluster.setup(command("pointkit-hub"), "points", "add", name, "--level", "village",
                          "--data", str(cluster.hub.data)).strip().splitlines()[-1]
    with LinkSimulator(("127.0.0.1", hub_port), rate_bps=CATALOG_RATE_BPS, latency_s=CATALOG_LATENCY_S,
                       cut_every_s=CUT_EVERY_S) as link:
        early_cut = threading.Timer(first_cut_s, link.cut) if first_cut_s else None
        started = time.monotonic()
        if early_cut:
            early_cut.start()
        done = subprocess.run([command("pointkit"), "init", "--data", str(base / f"new-village-{first_cut_s}"),
                               "--hub", link.url, "--token", token, "--name", name, "--staff-password",
                               "point-staff-pass", "--catalog-wait", str(CATALOG_LIMIT_S)],
                              capture_output=True, text=True, timeout=CATALOG_LIMIT_S + 120)
        elapsed = time.monotonic() - started
        if early_cut:
            early_cut.cancel()
        stats = link.stats
    finished = done.returncode == 0 and "catalog version:  0" not in done.stdout
    if not finished:
        said = (done.stdout + done.stderr).strip().splitlines()[-6:]
        print(f"(e) pointkit init exited {done.returncode} without the catalog; it said:", *said, sep="\n    ")
    return (elapsed if finished else None), stats.bytes_down, stats.cuts


@dataclass
class RelayScanFigures:
    """What relayed scans cost on the village link (both directions, every request of the rounds)."""

    sealed: int
    wire: int
    connections: int
    cuts: int
    seconds: float

    @property
    def ratio(self) -> float:
        return self.wire / self.sealed


def relay_scan_figures(cluster: Cluster, sizes: list[int], *, rate_bps: float, latency_s: float,
                       cut_every_s: float, limit_s: float) -> RelayScanFigures:
    """A village enrolled through a township (a new one in ``cluster``), its cases acknowledged, then its scans
    of ``sizes`` sent through the link until the township holds them whole."""
    township = cluster.start_point(TOWNSHIP, "township", dirname="relay-township")
    with LinkSimulator(("127.0.0.1", int(township.url.rsplit(":", 1)[1]))) as link:
        data = cluster.base / "relayed-village"
        token = cluster.setup(command("pointkit-hub"), "points", "add", RELAYED_VILLAGE, "--level", "village",
                              "--via", TOWNSHIP, "--data", str(cluster.hub.data)).strip().splitlines()[-1]
        cluster.setup(command("pointkit"), "init", "--data", str(data), "--hub", cluster.hub.url, "--relay",
                      link.url, "--token", token, "--name", RELAYED_VILLAGE, "--staff-password", "point-staff-pass")
        _set_metered(data, True)
        case_ids = make_cases(data, sizes, start=201)[0]
        deadline = time.monotonic() + 120
        while not _all_acked(data, case_ids):
            if time.monotonic() > deadline:
                raise RuntimeError("the relayed village's cases were not acknowledged within 120 s")
            sync_once(data)
            time.sleep(CUT_RETRY_S)
        _set_metered(data, False)
        link.rate_bps, link.latency_s, link.cut_every_s = rate_bps, latency_s, cut_every_s
        link.stats = LinkStats()
        started = time.monotonic()
        while (sealed := _held_whole(data, case_ids)) is None:
            if time.monotonic() - started > limit_s:
                raise RuntimeError(f"the relayed village's scans did not reach the township within {limit_s:.0f} s")
            try:
                sync_once(data, send_scans=True, attempts=1)
            except HubUnreachable:
                time.sleep(CUT_RETRY_S)
        stats = link.stats
        return RelayScanFigures(sealed, stats.bytes_up + stats.bytes_down, stats.connections, stats.cuts,
                                time.monotonic() - started)


def _set_metered(data: Path, metered: bool) -> None:
    with db.session_scope(data) as session:
        state = get_state(session)
        state.metered = metered
        session.add(state)


def _all_acked(data: Path, case_ids: list[str]) -> bool:
    with db.session_scope(data) as session:
        return all(session.get(Case, case_id).status == "acked" for case_id in case_ids)


def _held_whole(data: Path, case_ids: list[str]) -> int | None:
    """The sealed bytes of the cases' scans once the other side holds every one whole, else None."""
    with db.session_scope(data) as session:
        rows = session.exec(select(ScanFile).where(ScanFile.case_id.in_(case_ids))).all()
    return sum(row.sealed_size for row in rows) if all(row.hub_offset >= row.sealed_size for row in rows) else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="scale the scan sizes (0.1 for a quick run)")
    parser.add_argument("--catalog-first-cut", type=float, action="append", metavar="SECONDS",
                        help="(e) only with the first cut after SECONDS (repeatable; default: the link's own 8 s, "
                             "then 2.5 and 3.5, in the middle of the download)")
    args = parser.parse_args()
    first_cuts = tuple(args.catalog_first_cut) if args.catalog_first_cut else CATALOG_FIRST_CUTS
    sizes = [int(SMALL_SCAN * args.scale)] * SMALL_CASES + [int(LARGE_SCAN * args.scale)]
    figures: dict[str, str] = {}
    # The setup commands (points add, pointkit init) run in this process (Cluster.setup); (e) times its
    # `pointkit init` as a process of its own.
    with tempfile.TemporaryDirectory(prefix="pointkit-bench-") as base, \
            Cluster(Path(base), setup_in_process=True) as cluster:
        hub = cluster.start_hub()
        with LinkSimulator(("127.0.0.1", int(hub.url.rsplit(":", 1)[1]))) as link:
            data = Path(base) / "village"
            token = cluster.setup(command("pointkit-hub"), "points", "add", "八达镇周邦村便民服务站", "--level",
                                  "village", "--data", str(hub.data)).strip().splitlines()[-1]
            cluster.setup(command("pointkit"), "init", "--data", str(data), "--hub", link.url, "--token", token,
                          "--name", "八达镇周邦村便民服务站", "--staff-password", "point-staff-pass")
            sync_once(data)
            link.rate_bps, link.latency_s = RATE_BPS, LATENCY_S
            print(f"link: {RATE_BPS // 1000} kbit/s, {LATENCY_S * 1000:.0f} ms one-way latency; "
                  f"workload: {SMALL_CASES} cases x {SMALL_SCAN * args.scale / 1024:.0f} KB + 1 x "
                  f"{LARGE_SCAN * args.scale / 1024:.0f} KB")

            for label, cut in (("a", None), ("b", CUT_EVERY_S)):
                case_ids, payload, baseline = make_cases(data, sizes, start=1 if label == "a" else 101)
                minimum = payload * 8 / RATE_BPS
                link.cut_every_s = cut
                link.stats = LinkStats()
                elapsed = run_sync(data, hub.data / "hub.db", case_ids, link, limit_s=max(minimum * 4, 60))
                wire = link.stats.bytes_up + link.stats.bytes_down
                link.cut_every_s = None
                name = "no cuts" if cut is None else f"a cut every {cut:.0f} s"
                if elapsed is None:
                    print(f"({label}) {name}: did not finish within {max(minimum * 4, 60):.0f} s")
                    figures[f"{label}_time_ratio"] = "inf"
                else:
                    print(f"({label}) {name}: payload {payload} B, wire {wire} B (x{wire / payload:.3f}), "
                          f"{elapsed:.1f} s vs line-rate minimum {minimum:.1f} s (x{elapsed / minimum:.2f}), "
                          f"{link.stats.cuts} cuts")
                    figures[f"{label}_time_ratio"] = f"{elapsed / minimum:.3f}"
                if label == "a":
                    figures["a_wire_ratio"] = f"{wire / payload:.3f}"
                base_elapsed, base_done = run_baseline(baseline, cut, BASELINE_LIMIT * minimum)
                if base_elapsed is None:
                    print(f"(c) baseline, {name}: did not finish in {BASELINE_LIMIT:.0f}x the minimum "
                          f"({base_done} of {len(baseline)} cases)")
                    figures[f"c_{label}_finished"] = "no"
                else:
                    print(f"(c) baseline, {name}: {base_elapsed:.1f} s (x{base_elapsed / minimum:.2f})")
                    figures[f"c_{label}_finished"] = "yes"

            link.rate_bps, link.latency_s = None, 0.0  # the bytes are the same; the simulated day runs in seconds
            rounds, per_day, stats = idle_day(data, link)
            print(f"(d) idle: a simulated day at the default intervals ({DEFAULT_INTERVAL:.0f} s, slowing to "
                  f"{MAX_IDLE_INTERVAL:.0f} s while idle), every timer included: {rounds} rounds, "
                  f"{stats.connections} connections, {stats.bytes_up} B up + {stats.bytes_down} B down = "
                  f"{per_day / 1024:.1f} KB a day (HTTP bytes; TCP/IP headers add about "
                  f"{stats.connections * TCP_OVERHEAD_PER_CONNECTION / 1024:.0f} KB more)")
            figures["d_idle_kb_per_day"] = f"{per_day / 1024:.1f}"
            figures["idle_bytes_per_day"] = str(per_day)

        worst: float | None = 0.0
        for first_cut in first_cuts:
            seconds, down, cuts = catalog_over_a_cut_link(cluster, int(hub.url.rsplit(":", 1)[1]), Path(base),
                                                          first_cut)
            when = f"first cut at {first_cut:.1f} s" if first_cut else "first cut at 8 s"
            print(f"(e) a new point gets the sample catalog over {CATALOG_RATE_BPS // 1000} kbit/s, "
                  f"{CATALOG_LATENCY_S * 2000:.0f} ms round trip, a cut every {CUT_EVERY_S:.0f} s ({when}): "
                  + (f"{seconds:.1f} s from `pointkit init` to the catalog stored, {down} B down, {cuts} cut(s)"
                     if seconds is not None else f"not within {CATALOG_LIMIT_S:.0f} s ({down} B down, {cuts} cuts)"))
            worst = None if seconds is None or worst is None else max(worst, seconds)
        figures["catalog_seconds_cut"] = f"{worst:.1f}" if worst is not None else "inf"

        relayed = relay_scan_figures(cluster, [int(size * args.scale) for size in RELAY_SCANS],
                                     rate_bps=RELAY_RATE_BPS, latency_s=RELAY_LATENCY_S, cut_every_s=CUT_EVERY_S,
                                     limit_s=600)
        print(f"(f) relayed scans, {RELAY_RATE_BPS // 1000} kbit/s, {2 * RELAY_LATENCY_S * 1000:.0f} ms round "
              f"trip, a cut every {CUT_EVERY_S:.0f} s: sealed {relayed.sealed} B, wire {relayed.wire} B on the "
              f"village link (x{relayed.ratio:.3f}), {relayed.connections} connections for {relayed.cuts} cuts, "
              f"{relayed.seconds:.1f} s")
        figures["relay_scan_ratio"] = f"{relayed.ratio:.3f}"
    print("RESULT " + " ".join(f"{key}={value}" for key, value in figures.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
