"""An idle point costs little over a whole simulated day (scripts/bench_sync.py's clock: every timer the point has
fires as in a day, each round runs for real), directly and behind a township."""

from __future__ import annotations

from urllib.parse import urlparse

from scripts.bench_sync import idle_day
from tests.support.cluster import command
from tests.support.linksim import LinkSimulator

TOWNSHIP = "八达镇政务服务中心"
VILLAGE = "八达镇周邦村便民服务站"
IDLE_BUDGET = 100 * 1024


def test_an_idle_village_behind_its_township_stays_within_budget(cluster):
    hub = cluster.start_hub()
    township = cluster.start_point(TOWNSHIP, "township", dirname="township")
    output = cluster.setup(command("pointkit-hub"), "points", "add", VILLAGE, "--level", "village", "--via",
                           TOWNSHIP, "--data", str(hub.data))
    data = cluster.base / "village"
    with LinkSimulator(("127.0.0.1", urlparse(township.url).port)) as link:
        cluster.run(command("pointkit"), "init", "--data", str(data), "--hub", hub.url, "--relay", link.url,
                    "--token", output.strip().splitlines()[-1], "--name", VILLAGE,
                    "--staff-password", "point-staff-pass")
        rounds, moved, _ = idle_day(data, link)
    assert 90 <= rounds <= 110, f"{rounds} rounds: the idle interval no longer slows down to 15 minutes"
    # The township names its catalog version on every pull answer: no hourly download of the whole catalog.
    assert moved <= IDLE_BUDGET, f"{moved} bytes in an idle day on the village's link"


def test_an_idle_point_on_the_hub_stays_within_budget(cluster):
    hub = cluster.start_hub()
    token = cluster.setup(command("pointkit-hub"), "points", "add", VILLAGE, "--level", "village", "--data",
                          str(hub.data)).strip().splitlines()[-1]
    data = cluster.base / "village"
    with LinkSimulator(("127.0.0.1", urlparse(hub.url).port)) as link:
        cluster.run(command("pointkit"), "init", "--data", str(data), "--hub", link.url, "--token", token,
                    "--name", VILLAGE, "--staff-password", "point-staff-pass")
        rounds, moved, _ = idle_day(data, link)
    assert 90 <= rounds <= 110 and moved <= IDLE_BUDGET, (rounds, moved)
