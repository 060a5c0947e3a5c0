"""Fixtures for hub tests: a real hub (data dir + waitress on loopback) and fake points.

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

import pgdb
import pytest

from hub.core.db import DATABASE_URL_ENV
from hubkit import Hub, make_hub

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
    with pgdb.scratch_database() as url:
        monkeypatch.setenv(DATABASE_URL_ENV, url)
        yield url


@pytest.fixture
def hub(tmp_path, live_server) -> Hub:
    """An initialized hub with the sample catalog and reviewers for YB, NY, ZR and XZ (the township), served on loopback."""
    running = make_hub(tmp_path / "hub")
    running.serve(live_server)
    yield running
    running.close()
