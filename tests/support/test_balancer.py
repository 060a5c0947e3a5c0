"""The balancer the hub machines' test uses: round robin, a killed backend skipped, big bodies, honest headers.

Two backends are the project's waitress runner (sync.kit.web.serve) in their own processes, each answering
who it is and whom it saw; the client speaks from 127.0.0.2, so the address a backend reports shows whose
word it took.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter

import httpx
import pytest

from tests.support.balancer import Balancer
from tests.support.cluster import free_port, wait_until

CLIENT_ADDRESS = "127.0.0.2"
SPOOFED = "198.51.100.7"
BODY_BYTES = 15 * 1024 * 1024

BACKEND = """
import sys
from flask import Flask, jsonify, request
from sync.kit.web import serve
name, port, trusted = sys.argv[1], int(sys.argv[2]), sys.argv[3] or None
app = Flask(name)
app.get("/healthz", endpoint="healthz")(lambda: "ok")
app.get("/who", endpoint="who")(lambda: jsonify(name=name, client=request.remote_addr, scheme=request.scheme))
app.post("/body", endpoint="body")(lambda: jsonify(name=name, size=len(request.get_data())))
serve(app, "127.0.0.1", port, threads=2, trusted_proxy=trusted)
"""


@pytest.fixture
def backends(nginx):
    started = []
    for name in ("a", "b"):
        port = free_port()
        process = subprocess.Popen([sys.executable, "-c", BACKEND, name, str(port), "127.0.0.1"])
        started.append((process, f"http://127.0.0.1:{port}"))
    try:
        for process, url in started:
            wait_until(lambda process=process, url=url: process.poll() is None and
                       httpx.get(url + "/healthz", timeout=2).status_code == 200,
                       timeout=30, what=f"the backend at {url}")
        yield started
    finally:
        for process, _ in started:
            process.kill()
            process.wait(timeout=10)


def _client(base_url: str) -> httpx.Client:
    return httpx.Client(base_url=base_url, timeout=30, headers={"X-Forwarded-For": SPOOFED},
                        transport=httpx.HTTPTransport(local_address=CLIENT_ADDRESS))


def test_round_robin_with_the_clients_own_address_big_bodies_and_a_killed_backend_skipped(backends, tmp_path):
    (killed, _), (_, survivor_url) = backends
    with Balancer([url for _, url in backends], tmp_path / "nginx") as balancer, _client(balancer.url) as client:
        seen = [client.get("/who").json() for _ in range(4)]
        assert Counter(answer["name"] for answer in seen) == {"a": 2, "b": 2}
        assert {answer["client"] for answer in seen} == {CLIENT_ADDRESS}, \
            "the backend believes the balancer's X-Forwarded-For, which is the client's own address, not its claim"
        assert {answer["scheme"] for answer in seen} == {"http"}
        assert client.post("/body", content=b"x" * BODY_BYTES).json()["size"] == BODY_BYTES

        with _client(survivor_url) as direct:
            assert direct.get("/who").json()["client"] == CLIENT_ADDRESS, "from anyone else the header is dropped"

        killed.kill()
        killed.wait(timeout=10)
        answers = [client.get("/who") for _ in range(6)]
        assert [(answer.status_code, answer.json()["name"]) for answer in answers] == [(200, "b")] * 6
    assert balancer.process.poll() is not None, "stopped"
