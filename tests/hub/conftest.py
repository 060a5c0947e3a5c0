"""Fixtures for hub tests: a real hub (data dir + waitress on loopback) and fake points.

The fake point is ``sync`` alone: a fresh Identity enrolled through
``HubClient`` against the live hub, sealing envelopes exactly as a point does.
"""

from __future__ import annotations

import pytest

from hubkit import Hub, make_hub


@pytest.fixture
def hub(tmp_path, live_server) -> Hub:
    """An initialized hub with the sample catalog and reviewers for YB, NY and ZR, served on loopback."""
    running = make_hub(tmp_path / "hub")
    running.serve(live_server)
    yield running
    running.close()
