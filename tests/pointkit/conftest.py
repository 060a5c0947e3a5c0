"""Fixtures for point tests: an enrolled point whose hub side the test plays (tests/pointkit/hubside.py)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from pointkit import create_app, db
from pointkit.auth import create_staff
from tests.pointkit.hubside import FakeHubSide, make_point
from tests.support.cluster import loopback_client


@pytest.fixture
def point(tmp_path) -> Iterator[FakeHubSide]:
    """An enrolled village point whose hub keys the test holds."""
    side = make_point(tmp_path / "point")
    yield side
    db.dispose(side.data_dir)


@pytest.fixture
def app(point):
    """The point's app in test mode (in-process clients), with window staff ``staff`` and an admin ``boss``."""
    with db.session_scope(point.data_dir) as session:
        create_staff(session, "staff", "window-pass-1")
        create_staff(session, "boss", "window-pass-2", role="admin")
    return create_app(point.data_dir, test_config={"TESTING": True})


@pytest.fixture
def api(point, live_server) -> Iterator[httpx.Client]:
    """The point's JSON API on a real waitress server, logged in as window staff (a Bearer token)."""
    with db.session_scope(point.data_dir) as session:
        create_staff(session, "staff", "window-pass-1")
    server = live_server(create_app(point.data_dir))
    client = loopback_client(base_url=server.url, timeout=30)
    token = client.post("/api/login", json={"username": "staff", "password": "window-pass-1"}).json()["token"]
    client.headers["Authorization"] = f"Bearer {token}"
    yield client
    client.close()
