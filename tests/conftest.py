"""Shared fixtures: real waitress servers on loopback ports, real processes, real files."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import pytest

from tests.support.balancer import NGINX_MISSING, nginx_path
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS
from tests.support.cluster import ROOT, Cluster, free_port, wait_until_healthy

# The servers and commands the tests start import this tree's code, not the tree the venv was installed from
# (an editable install maps the packages to its own checkout; a git worktree shares that venv).
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))


class LiveServer:
    """A WSGI app served by a real waitress server in a background thread."""

    def __init__(self, app):
        from waitress import create_server

        self.port = free_port()
        self._server = create_server(app, host="127.0.0.1", port=self.port, threads=4, asyncore_loop_timeout=0.1)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._stopping = False
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> "LiveServer":
        self._thread.start()
        wait_until_healthy(self.url, timeout=10, what=f"server on {self.url}")
        return self

    def _run(self) -> None:
        try:
            self._server.run()
        except OSError:
            # Closing the listening socket under the running select loop ends it with EBADF.
            if not self._stopping:
                raise

    def stop(self) -> None:
        self._stopping = True
        self._server.close()
        self._thread.join(timeout=5)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Start the long tests first: system tests and page tests take 10-90 s each, most others under 2 s. Workers
    that start with them fill their gaps with the short ones, instead of three long tests ending the run on their
    own (longest first is the classic schedule for parallel jobs). Tests marked ``long`` (a benchmark script run
    scaled down, the demo, the offline install) start with the longest: collected last, in the tests folder
    itself, they used to end the run. The order within each group is kept.

    The order holds because each worker takes one test at a time (``pytest_configure``)."""
    def weight(item: pytest.Item) -> int:
        system = "/tests/system/" in str(item.path)
        browser = item.get_closest_marker("browser") is not None
        long = item.get_closest_marker("long") is not None
        return 0 if long or system and browser else 1 if system or browser else 2

    items.sort(key=weight)


def pytest_configure(config: pytest.Config) -> None:
    """pytest-xdist hands each worker one test at a time unless ``--maxschedchunk`` says otherwise: by default it
    sends each a quarter of its share at once, in collection order, so the first worker took every long test that
    ``pytest_collection_modifyitems`` puts first."""
    if getattr(config.option, "maxschedchunk", 0) is None:
        config.option.maxschedchunk = 1


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--hub-db", choices=("both", "sqlite", "postgresql"), default="both",
                     help="Which databases the hub tests (tests/hub) run on; default both.")


@pytest.fixture
def live_server() -> Iterator:
    """Call ``live_server(app)`` to serve a Flask app on a free loopback port; stopped after the test."""
    servers: list[LiveServer] = []

    def start(app) -> LiveServer:
        server = LiveServer(app).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def cluster(tmp_path) -> Iterator[Cluster]:
    """A real hub and real points as subprocesses (see tests/support/cluster.py); the hub commands that set it up
    run in this process (``setup_in_process``)."""
    with Cluster(tmp_path, reuse_init=True, setup_in_process=True) as running:
        yield running


@pytest.fixture
def nginx() -> str:
    """Debian's nginx for the load balancer (tests/support/balancer.py): skipped without it, failed under CI=true."""
    found = nginx_path()
    if found is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true: {NGINX_MISSING}")
        pytest.skip(NGINX_MISSING)
    return found


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory) -> Iterator:
    """A real SeaweedFS S3 store (tests/support/seaweed.py), started once per test process (about 4 s) and shared:
    each test keeps its scans under a prefix of its own. Skipped without the weed binary, failed under CI=true."""
    from tests.support.seaweed import start_seaweed, weed_binary

    try:
        weed_binary()
    except FileNotFoundError as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but {exc}")
        pytest.skip(str(exc))
    store = start_seaweed(tmp_path_factory.mktemp("seaweed"))
    yield store
    store.stop()


@pytest.fixture(scope="session")
def chromium():
    """Headless Chromium (Debian's /usr/bin/chromium), launched once per test process (about 3 s each time):
    skipped without it, failed under CI=true. Tests take it through ``browser``."""
    if not CHROMIUM.exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true but /usr/bin/chromium is missing: scripts/test must install it")
        pytest.skip("Debian's chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def browser(chromium):
    """The process's Chromium for one test module; every page and context the module opened is closed after it,
    as if the browser were its own."""
    yield chromium
    for context in chromium.contexts:
        context.close()
