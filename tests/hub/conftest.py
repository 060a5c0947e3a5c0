"""Fixtures for hub tests: a real hub (data dir + waitress on loopback), one with test items (loop_hub), the clock.

The fake point is ``sync`` alone: a fresh Identity enrolled through
``HubClient`` against the live hub, sealing envelopes exactly as a point does.

Every hub test runs twice: on SQLite in the data directory and on a fresh
PostgreSQL database of its own (``--hub-db`` picks one). The database reaches
the hub, its CLI subprocesses and its test helpers alike through
POINTKIT_HUB_DATABASE_URL. Under CI=true an unreachable PostgreSQL fails the
PostgreSQL tests instead of skipping them.
"""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from tests.support import pgdb
import pytest

from hub.catalog.versions import import_catalog, load_catalog_file
from hub.core.db import DATABASE_URL_ENV
from tests.hub.hubkit import CERTIFIED, DAY_MS, NATURAL, SAMPLE_CATALOG, SILENT, SLOW, Hub, make_hub
from sync.catalog import FormField
from sync.clock import shift_clock

BACKENDS = ("sqlite", "postgresql")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "hub_database" not in metafunc.fixturenames:
        return
    chosen = metafunc.config.getoption("hub_db")
    backends = BACKENDS if chosen == "both" else (chosen,)
    if metafunc.definition.get_closest_marker("sqlite_only"):
        backends = tuple(backend for backend in backends if backend == "sqlite")
    metafunc.parametrize("hub_database", backends, indirect=True)


@functools.cache
def _postgres_unreachable() -> str | None:
    return pgdb.unreachable()


@pytest.fixture(autouse=True)
def hub_database(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):
    """This test's hub database: "sqlite", or the URL of a PostgreSQL database made for it and dropped after."""
    if request.param == "sqlite":
        monkeypatch.delenv(DATABASE_URL_ENV, raising=False)
        yield "sqlite"
        return
    reason = _postgres_unreachable()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI runs every hub test on PostgreSQL too: {reason}")
        pytest.skip(reason)
    # A test of the ``hub`` fixture starts from a copy of the database of the hub made for this process.
    template = made_hub("postgresql", request) if "hub" in request.fixturenames else None
    with pgdb.scratch_database(template) as url:
        monkeypatch.setenv(DATABASE_URL_ENV, url)
        yield url


@pytest.fixture(scope="session")
def made_hubs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[Path, str]]]:
    """The hub ``make_hub`` makes, made once per database kind and process: its data directory and database
    ("sqlite", or the URL of a PostgreSQL database kept as the template of each test's copy)."""
    made: dict[str, tuple[Path, str]] = {}
    yield made
    for _, database in made.values():
        if database != "sqlite":
            pgdb.drop(database)


def made_hub(kind: str, request: pytest.FixtureRequest) -> str:
    """The database ("sqlite" or a PostgreSQL URL) of the hub ``make_hub`` made for this process on ``kind``, made
    on first use, with its data directory in ``made_hubs``: init, keys, the catalog and six password hashes take
    longer than a copy."""
    made = request.getfixturevalue("made_hubs")
    if kind not in made:
        template_dir = request.getfixturevalue("tmp_path_factory").mktemp(f"made-hub-{kind}") / "hub"
        database = "sqlite" if kind == "sqlite" else pgdb.create()
        with pytest.MonkeyPatch.context() as patch:
            if kind == "sqlite":
                patch.delenv(DATABASE_URL_ENV, raising=False)
            else:
                patch.setenv(DATABASE_URL_ENV, database)
            make_hub(template_dir).close()
        made[kind] = (template_dir, database)
    return made[kind][1]


@pytest.fixture
def hub(request, tmp_path, live_server, hub_database, made_hubs) -> Hub:
    """An initialized hub with the sample catalog and reviewers for YB, NY and ZR, served on loopback (a township's XZ
    reviewer belongs to a township point: Hub.add_staff).

    A copy of the one made for this process (its database is a copy too: see ``hub_database``)."""
    kind = "sqlite" if hub_database == "sqlite" else "postgresql"
    made_hub(kind, request)
    shutil.copytree(made_hubs[kind][0], tmp_path / "hub")
    running = Hub(tmp_path / "hub")
    running.serve(live_server)
    yield running
    running.close()


@pytest.fixture
def loop_hub(hub):
    """The sample catalog plus four single-department items of known limits (the sample's may change):
    one with a required result field, one where silence is consent, one with a long limit, one whose 补正
    period counts natural days."""
    catalog = load_catalog_file(SAMPLE_CATALOG)
    base = next(item for item in catalog.items if item.code == "451030-YB-001").model_copy(
        update={"departments": ["YB"], "route": "single", "deemed_approval": False, "result_fields": []})
    valid_until = FormField(name="valid_until", label_zh="有效期至", label_en="Valid until", type="date", required=True)
    catalog.items += [
        base.model_copy(update={"code": CERTIFIED, "promised_days": 5, "legal_days": 10,
                                "result_fields": [valid_until]}),
        base.model_copy(update={"code": SILENT, "deemed_approval": True, "promised_days": 2, "legal_days": 3}),
        base.model_copy(update={"code": SLOW, "departments": ["RS"], "promised_days": 20, "legal_days": 30}),
        base.model_copy(update={"code": NATURAL, "supplement_days": 10, "supplement_unit": "natural_days"}),
    ]
    with hub.db() as session:
        import_catalog(session, catalog, identity=hub.identity)
    return hub


@pytest.fixture
def clock():
    """Move this process's clock forward by whole days; put it back after the test."""
    moved = []

    def forward(days: int) -> None:
        shift_clock(days * DAY_MS)
        moved.append(days)

    yield forward
    shift_clock(-sum(moved) * DAY_MS)
