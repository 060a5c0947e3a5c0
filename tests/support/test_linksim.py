"""The link simulator itself: rate, latency and cuts are what the sync tests rely on."""

from __future__ import annotations

import gc
import logging
import socket
import threading
import time

import httpx
import pytest
from flask import Flask, request

from tests.support.cluster import wait_until
from tests.support.linksim import LinkSimulator

from sync.pipeline import Pipeline


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


def test_a_cut_frees_the_air_time_of_bytes_that_never_crossed(echo_server):
    # 64 kB queued at 32 kbit/s reserves 16 s of link; after a cut, none of it is sent, so a new request
    # must not wait behind it (a real radio link does not spend air time on bytes it never transmits).
    with LinkSimulator(target(echo_server), rate_bps=32_000) as link:
        sender = threading.Thread(target=lambda: _post_ignoring_cuts(link.url, b"z" * 64_000), daemon=True)
        sender.start()
        wait_until(lambda: link.stats.bytes_up >= 48_000, timeout=10, what="the proxy holding the queued bytes")
        link.cut()
        sender.join(timeout=10)
        started = time.monotonic()
        assert httpx.post(link.url + "/echo", content=b"after the cut", timeout=30).content == b"after the cut"
        # Two small requests' bytes take well under a second at 32 kbit/s; 16 s if the queue still held the link.
        assert time.monotonic() - started < 4.0


class CountingServer:
    """A bare TCP server that counts the bytes each connection brings and notes when each one ends."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.received: list[int] = []
        self.ended: list[int] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._count, args=(connection, len(self.received)), daemon=True).start()
            self.received.append(0)

    def _count(self, connection: socket.socket, index: int) -> None:
        with connection:
            try:
                while data := connection.recv(65536):
                    self.received[index] += len(data)
            except OSError:
                pass
        self.ended.append(index)


def test_a_reset_drops_what_the_sender_queued_and_ends_the_other_side_at_once():
    # The scan stream gives up on a connection after a cut or a 409 by resetting it: what it had queued must not
    # cross later (nor hold the link's air time), and the server must not go on serving what it got.
    server = CountingServer()
    with LinkSimulator(server.listener.getsockname(), rate_bps=32_000) as link:
        pipe = Pipeline(link.url, timeout=10)
        pipe.send(httpx.Request("POST", link.url + "/echo", content=b"q" * 64_000))
        wait_until(lambda: link.stats.bytes_up >= 48_000, timeout=10, what="the proxy holding the queued bytes")
        pipe.close()  # unanswered: a reset
        wait_until(lambda: server.ended == [0], timeout=5, what="the server's side of the reset connection to end")
        assert server.received[0] < 16_000, "bytes queued behind the reset never crossed"
        started = time.monotonic()
        with Pipeline(link.url, timeout=10) as after:
            after.send(httpx.Request("POST", link.url + "/echo", content=b"after the reset"))
            wait_until(lambda: len(server.received) == 2 and server.received[1] > 0, timeout=20,
                       what="a request after the reset")
        # A few hundred bytes take well under a second at 32 kbit/s; 12 s if the dropped bytes still held the link.
        assert time.monotonic() - started < 4.0
    server.listener.close()


def test_cuts_end_every_connection_and_leave_no_task_behind(echo_server, caplog):
    # A cut mid-transfer, again and again, with bytes in both directions' queues: each cut ends every connection, and
    # asyncio never reports a task destroyed while pending (the full bench_sync used to print that).
    caplog.set_level(logging.ERROR, logger="asyncio")
    with LinkSimulator(target(echo_server), rate_bps=1_000_000, latency_s=0.05) as link:
        for _ in range(4):
            sent = link.stats.bytes_up
            sender = threading.Thread(target=lambda: _post_ignoring_cuts(link.url, b"c" * 120_000), daemon=True)
            sender.start()
            wait_until(lambda: link.stats.bytes_up >= sent + 16_000 and link.open_connections,
                       timeout=10, what="a transfer under way")
            link.cut()
            sender.join(timeout=10)
            wait_until(lambda: link.open_connections == 0, timeout=5, what="the cut connections to end")
            gc.collect()
    assert [record.getMessage() for record in caplog.records] == []


def _post_ignoring_cuts(url: str, body: bytes) -> None:
    try:
        httpx.post(url + "/echo", content=body, timeout=30)
    except httpx.TransportError:
        pass
