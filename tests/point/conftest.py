"""Fixtures for point tests (the helpers are in hubside.py)."""

from __future__ import annotations

import pytest

from hubside import FakeHubSide, make_point
from pointkit import db


@pytest.fixture
def point(tmp_path) -> FakeHubSide:
    side = make_point(tmp_path / "point")
    yield side
    db.dispose(side.data_dir)
