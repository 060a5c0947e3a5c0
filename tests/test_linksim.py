"""The link simulator itself: rate, latency and cuts are what the sync tests rely on."""

from __future__ import annotations

import time

import httpx
import pytest
from flask import Flask, request

from linksim import LinkSimulator


@pytest.fixture
def echo_server(live_server):
    app = Flask(__name__)

    @app.get("/healthz")
    def healthz():
        return {"ok": True}

    @app.post("/echo")
    def echo():
        return request.get_data()

    return live_server(app)


def target(server):
    return ("127.0.0.1", server.port)


def test_rate_limit_and_latency_stretch_a_transfer(echo_server):
    body = b"x" * 16_000
    with LinkSimulator(target(echo_server), rate_bps=256_000, latency_s=0.1) as link:
        started = time.monotonic()
        answer = httpx.post(link.url + "/echo", content=body, timeout=30)
        elapsed = time.monotonic() - started
    assert answer.content == body
    # 16 kB each way at 256 kbit/s is 0.5 s per direction, plus 2 x 0.1 s latency.
    assert elapsed >= 1.0 + 0.2 - 0.05
    assert link.stats.bytes_up >= len(body) and link.stats.bytes_down >= len(body)


def test_cut_after_bytes_drops_the_connection(echo_server):
    with LinkSimulator(target(echo_server), cut_after_bytes=4_000) as link:
        with pytest.raises(httpx.TransportError):
            httpx.post(link.url + "/echo", content=b"y" * 50_000, timeout=10)
        assert link.stats.cuts == 1
        assert httpx.post(link.url + "/echo", content=b"small", timeout=10).content == b"small"


def test_down_refuses_until_restored(echo_server):
    with LinkSimulator(target(echo_server)) as link:
        link.set_down(True)
        with pytest.raises(httpx.TransportError):
            httpx.post(link.url + "/echo", content=b"a", timeout=5)
        link.set_down(False)
        assert httpx.post(link.url + "/echo", content=b"b", timeout=5).content == b"b"


def test_periodic_cuts_break_a_transfer_longer_than_the_gap(echo_server):
    with LinkSimulator(target(echo_server), rate_bps=64_000, cut_every_s=0.5) as link:
        with pytest.raises(httpx.TransportError):
            httpx.post(link.url + "/echo", content=b"z" * 20_000, timeout=10)
        assert link.stats.cuts >= 1
