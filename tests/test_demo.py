"""scripts/demo as a newcomer runs it: a reviewer for every department, the kiosk's address, and SIGTERM stops every
server as Ctrl-C does."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from tests.support.cluster import SAMPLE_CATALOG, wait_until

ROOT = Path(__file__).resolve().parent.parent


def listening(url: str) -> bool:
    host, port = url.removeprefix("http://").split(":")
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, int(port))) == 0


@pytest.mark.long
def test_demo_names_every_reviewer_and_the_kiosk_and_stops_on_sigterm(tmp_path):
    demo = subprocess.Popen([sys.executable, "-m", "scripts.demo", "--data", str(tmp_path / "demo")], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(demo.stdout), daemon=True)
    reader.start()
    try:
        wait_until(lambda: any(line.startswith("  data in") for line in lines) or demo.poll() is not None,
                   timeout=300, interval=0.2, what="the demo's list of addresses")
        output = "".join(lines)
        assert demo.poll() is None, output
        urls = dict(re.findall(r"^  (\w+) +(http://127\.0\.0\.1:\d+)", output, re.MULTILINE))
        assert {"hub", "township", "village", "kiosk"} <= set(urls), output

        # Whatever item a newcomer receives, its department has a reviewer to log in as.
        departments = [d["code"] for d in json.loads(SAMPLE_CATALOG.read_text(encoding="utf-8"))["departments"]]
        reviewers = dict(re.findall(r"(\S+) / \S+ \((\w+)\)", output))
        assert sorted(reviewers.values()) == sorted(departments), output
        for username in reviewers:
            password = re.search(rf"{re.escape(username)} / (\S+)", output).group(1)
            login = httpx.post(urls["hub"] + "/api/login", json={"username": username, "password": password})
            assert login.status_code == 200, (username, login.text)

        kiosk = re.search(r"^  kiosk +(\S+)", output, re.MULTILINE).group(1)
        assert httpx.get(kiosk).status_code == 200, "the kiosk answers without a login"

        demo.send_signal(signal.SIGTERM)
        assert demo.wait(timeout=30) == 0, "".join(lines)
        for name in ("hub", "township", "village"):
            wait_until(lambda url=urls[name]: not listening(url), timeout=10, what=f"the {name} server to stop")
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
