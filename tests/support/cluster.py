"""Run a real hub and real points as separate processes on loopback ports.

Used by ``scripts/demo`` and by the end-to-end tests: every server is the
installed ``pointkit-hub`` / ``pointkit`` command under waitress, with its
own SQLite data directory, exactly as a county runs them.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from sync.clock import CLOCK_SKEW_ENV, now_ms
from sync.kit.idnumber import check_character

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_CATALOG = ROOT / "hub" / "data" / "sample_catalog.json"
# The sample catalog's medical insurance item: any point level receives it, its form has one field.
MEDICAL_INSURANCE = "451030-YB-001"
START_TIMEOUT = 60.0
# How hub commands and processes learn a database other than SQLite in the data directory.
HUB_DATABASE_URL_ENV = "POINTKIT_HUB_DATABASE_URL"
# The real name of every point's first clerk (login "staff"), printed on receipts as 经办人.
POINT_CLERK_NAME = "韦秀英"
# How far this process's clock may be from the system's and a setup command still run in it (see Cluster.setup):
# a moved clock is whole days off.
CLOCK_TOLERANCE_MS = 1000
# Initialized hub data directories this process has made, by how they were made (see Cluster.start_hub).
_HUB_TEMPLATES: dict[tuple, Path] = {}
# Every server a test starts speaks plain HTTP on loopback. httpx builds an SSL context for each new client and loads
# the CA file into it (20-40 ms of CPU each): the tests' own clients share this one instead.
LOOPBACK_TLS = httpx.create_ssl_context()


def loopback_client(**kwargs: Any) -> httpx.Client:
    """An httpx client for the tests' loopback servers, on the shared ``LOOPBACK_TLS``."""
    return httpx.Client(verify=LOOPBACK_TLS, **kwargs)


def loopback_transport() -> httpx.HTTPTransport:
    """The transport an httpx client builds by default, on the shared ``LOOPBACK_TLS``: for clients of our own,
    such as ``HubClient``, that take a transport."""
    return httpx.HTTPTransport(verify=LOOPBACK_TLS)


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate: Callable[[], Any], *, timeout: float, what: str, interval: float = 0.05) -> Any:
    """Poll ``predicate`` until it returns something truthy; raise TimeoutError after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # a server still starting refuses connections
            last_error = exc
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}; last error: {last_error}")
        time.sleep(interval)


def wait_until_healthy(url: str, *, timeout: float, what: str, alive: Callable[[], None] = lambda: None) -> None:
    """Poll ``url``/healthz until it answers 200 over one client (``httpx.get`` would build a client, an SSL
    context and its CA file, at every poll); ``alive`` raises if the server has died meanwhile."""
    with loopback_client(timeout=2) as client:
        def healthy() -> bool:
            alive()
            return client.get(url + "/healthz").status_code == 200

        wait_until(healthy, timeout=timeout, what=what)


def log_in(page, url: str, username: str, password: str) -> None:
    """Log a Playwright page in to a hub or point through its login form."""
    page.goto(url + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "/login" not in page.url, f"login as {username} failed: {page.content()[:500]}"


def command(name: str) -> str:
    """The console script installed beside this interpreter (the project's venv)."""
    local = Path(sys.executable).parent / name
    found = str(local) if local.exists() else shutil.which(name)
    if not found:
        raise FileNotFoundError(f"{name} is not installed; run scripts/test or scripts/demo to set up .venv")
    return found


def _in_process_main(program: str):
    """The click command ``program`` runs when it is this tree's ``pointkit-hub`` or ``pointkit``, else None.
    Imported on first use: the scripts that use a Cluster (the demo, the benchmarks) run every command as a
    process and need not import the hub and the point."""
    if program == command("pointkit-hub"):
        from hub.cli import main
        return main
    if program == command("pointkit"):
        from pointkit.cli import main
        return main
    return None


def _forget_point_engines(args: tuple[str, ...]) -> None:
    """Close what a ``pointkit`` command run in this process left open on the point's database (pointkit.db keeps
    an engine per data directory): the point's own server owns that file from now on."""
    from pointkit import db

    if "--data" in args:
        db.dispose(args[args.index("--data") + 1])


def _clock_is_true(env: dict[str, str]) -> bool:
    """Whether a command run in this process would see the clock a new process with ``env`` sees: no skew asked
    of processes (``CLOCK_SKEW_ENV``) and this process's clock not moved (tests/hub's ``clock`` fixture)."""
    if os.environ.get(CLOCK_SKEW_ENV) or env.get(CLOCK_SKEW_ENV):
        return False
    return abs(now_ms() - time.time_ns() // 1_000_000) < CLOCK_TOLERANCE_MS


class Api:
    """A logged-in JSON API session against a hub or a point."""

    def __init__(self, base_url: str, username: str, password: str):
        self.base_url = base_url
        self.http = loopback_client(base_url=base_url, timeout=60)
        response = self.http.post("/api/login", json={"username": username, "password": password})
        response.raise_for_status()
        self.http.headers["Authorization"] = f"Bearer {response.json()['token']}"

    def get(self, path: str, **kwargs) -> httpx.Response:
        return self.http.get(path, **kwargs)

    def post(self, path: str, json: Any = None, **kwargs) -> httpx.Response:
        return self.http.post(path, json=json, **kwargs)

    def close(self) -> None:
        self.http.close()


@dataclass
class Server:
    """One running server process and where it keeps its data and logs."""

    name: str
    data: Path
    url: str
    process: subprocess.Popen
    logins: dict[str, str] = field(default_factory=dict)
    level: str = ""

    def api(self, username: str) -> Api:
        return Api(self.url, username, self.logins[username])

    def take_case(self, name: str, id17: str, item_code: str = MEDICAL_INSURANCE) -> str:
        """Receive a complete application at this point through its API (ID number: ``id17`` and its check
        character); return the case id."""
        case = {"item_code": item_code,
                "applicant": {"name": name, "id_number": id17 + check_character(id17), "phone": ""},
                "form": {"insured_category": "普通居民"}, "materials": ["id_card", "hukou"]}
        response = self.api("staff").post("/api/cases", json=case)
        assert response.status_code == 201, response.text
        return response.json()["case_id"]


class Cluster:
    """A hub and any number of points, each a real process; stops them all on exit."""

    def __init__(self, base: Path, *, echo: Callable[[str], None] | None = None, reuse_init: bool = False,
                 setup_in_process: bool = False):
        """``reuse_init``: a hub's first start copies the data directory ``init`` and ``catalog import`` made for
        an earlier cluster of this process with the same arguments (the tests' fixture; each gets a copy).

        ``setup_in_process``: the commands that set a cluster up (``add_reviewer``'s ``users add``,
        ``start_point``'s ``points add`` and ``pointkit init``, the hub's ``init`` and ``catalog import``) run
        this tree's programs in this process (see ``setup``) instead of a new interpreter each (the tests'
        fixtures). The servers, older releases' commands and any other command a test runs stay processes."""
        self.base = Path(base)
        self.reuse_init = reuse_init
        self.setup_in_process = setup_in_process
        self.base.mkdir(parents=True, exist_ok=True)
        self.echo = echo or (lambda line: None)
        self.hub: Server | None = None
        self.points: dict[str, Server] = {}
        self.hub_processes: list[Server] = []
        # Set for every command and process once the hub runs on a database URL (see start_hub).
        self.env: dict[str, str] = {}
        self.hub_cmd = ""
        self._processes: list[subprocess.Popen] = []

    def __enter__(self) -> "Cluster":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def run(self, *args: str) -> str:
        """Run a CLI command to completion; return stdout, raise with stderr on failure."""
        self.echo("$ " + " ".join(Path(args[0]).name if i == 0 else a for i, a in enumerate(args)))
        done = subprocess.run(args, capture_output=True, text=True, timeout=120, env={**os.environ, **self.env})
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def setup(self, program: str, *args: str) -> str:
        """Run a command that sets the cluster up (``pointkit-hub users add``, ``pointkit init``...); return its
        stdout, raise with its output on failure.

        In this process when ``setup_in_process`` says so and ``program`` is this tree's ``pointkit-hub`` or
        ``pointkit`` (not an older release's), through click's CliRunner as tests/hub/test_cli.py does: the same
        command, options, files and database, without the 1-2 s of CPU a new interpreter spends importing the hub
        or the point before it runs. A process's clock skew (``CLOCK_SKEW_ENV``) or a moved clock in this process
        would reach the command differently in here: then it runs as a process."""
        main = _in_process_main(program) if self.setup_in_process and _clock_is_true(self.env) else None
        if main is None:
            return self.run(program, *args)
        from click.testing import CliRunner  # only the tests' clusters run commands in their own process

        self.echo(f"$ {Path(program).name} " + " ".join(args))
        # The command makes its files private (its umask) as a process would for itself: this process keeps its own.
        umask = os.umask(0o077)
        try:
            result = CliRunner().invoke(main, list(args), env=self.env, catch_exceptions=False)
        finally:
            os.umask(umask)
            if main.name == "pointkit":
                _forget_point_engines(args)
        if result.exit_code != 0:
            raise RuntimeError(f"{Path(program).name} {' '.join(args)} failed ({result.exit_code}):\n{result.output}")
        return result.stdout

    def _spawn(self, name: str, data: Path, args: list[str], port: int | None = None,
               env: dict[str, str] | None = None, log_name: str | None = None) -> tuple[subprocess.Popen, str]:
        port = port or free_port()
        log_path = self.base / f"{log_name or data.name}.out"
        out = open(log_path, "ab")
        process = subprocess.Popen(
            [*args, "--host", "127.0.0.1", "--port", str(port)],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **self.env, **(env or {})},
        )
        out.close()
        self._processes.append(process)
        url = f"http://127.0.0.1:{port}"

        def alive() -> None:
            if process.poll() is not None:
                log = log_path.read_text(errors="replace")
                raise RuntimeError(f"{name} exited with {process.returncode} while starting:\n{log}")

        wait_until_healthy(url, timeout=START_TIMEOUT, what=f"{name} at {url}", alive=alive)
        return process, url

    def start_hub(self, *, admin_password: str = "hub-admin-pass", catalog: Path = SAMPLE_CATALOG,
                  post_quantum: bool = False, database_url: str | None = None, program: str | None = None,
                  serve_args: tuple[str, ...] = ()) -> Server:
        """Initialize the hub on first start; a restart keeps its data, logins and port (points know its URL).

        ``database_url`` puts the hub's tables there (PostgreSQL) instead of SQLite in its data directory;
        every later command and process of this cluster uses it too. ``program`` runs another build of
        ``pointkit-hub`` (an older release, for upgrade tests), for this start and the hub commands after it.
        ``serve_args``: more options for ``serve`` (timers, machine name, trusted proxy)."""
        data = self.base / "hub"
        hub_cmd = self.hub_cmd = program or command("pointkit-hub")
        if database_url:
            self.env[HUB_DATABASE_URL_ENV] = database_url
        # The secret key is the last thing init writes, whichever database the hub uses.
        if not (data / "secret_key").exists():
            # Only a hub on SQLite in its data directory is a directory to copy.
            if self.reuse_init and HUB_DATABASE_URL_ENV not in {**os.environ, **self.env}:
                stat = Path(catalog).stat()
                key = (hub_cmd, admin_password, str(catalog), stat.st_mtime_ns, stat.st_size, post_quantum,
                       tuple(sorted(self.env.items())))
                if key not in _HUB_TEMPLATES:
                    template = Path(tempfile.mkdtemp(prefix="pointkit-hub-template-")) / "hub"
                    atexit.register(shutil.rmtree, template.parent, ignore_errors=True)
                    self._init_hub(hub_cmd, template, admin_password, catalog, post_quantum)
                    _HUB_TEMPLATES[key] = template
                shutil.copytree(_HUB_TEMPLATES[key], data)
            else:
                self._init_hub(hub_cmd, data, admin_password, catalog, post_quantum)
        previous = self.hub
        port = int(previous.url.rsplit(":", 1)[1]) if previous else None
        process, url = self._spawn("hub", data, [hub_cmd, "serve", "--data", str(data), *serve_args], port=port)
        logins = previous.logins if previous else {"admin": admin_password}
        self.hub = Server("hub", data, url, process, logins)
        return self.hub

    def _init_hub(self, hub_cmd: str, data: Path, admin_password: str, catalog: Path, post_quantum: bool) -> None:
        self.setup(hub_cmd, "init", "--data", str(data), "--admin-user", "admin", "--admin-password",
                   admin_password, *(["--pq"] if post_quantum else []))
        self.setup(hub_cmd, "catalog", "import", str(catalog), "--data", str(data))

    def start_hub_process(self) -> Server:
        """One more hub process serving the running hub's data directory and database (several hub
        processes on one PostgreSQL, as a region runs them); stopped with the cluster."""
        assert self.hub is not None, "start the hub first"
        name = f"hub-{len(self.hub_processes) + 2}"
        process, url = self._spawn(name, self.hub.data, [self.hub_cmd, "serve", "--data", str(self.hub.data)],
                                   log_name=name)
        server = Server(name, self.hub.data, url, process, self.hub.logins)
        self.hub_processes.append(server)
        return server

    def start_hub_machine(self, name: str, serve_args: tuple[str, ...] = ()) -> Server:
        """Another hub machine named ``name``: a data directory of its own made by ``machine join`` from an
        export of the running hub's keys (no local disk shared), on the same database. A restart keeps its
        data and port (a load balancer knows it); stopped with the cluster."""
        assert self.hub is not None, "start the hub first"
        data = self.base / name
        if not data.exists():
            export = self.base / f"{name}-machine.json"
            self.run(self.hub_cmd, "machine", "export", "--data", str(self.hub.data), str(export))
            self.run(self.hub_cmd, "machine", "join", "--data", str(data), "--from", str(export), "--machine", name)
            export.unlink()
        previous = next((server for server in self.hub_processes if server.name == name), None)
        port = int(previous.url.rsplit(":", 1)[1]) if previous else None
        process, url = self._spawn(name, data, [self.hub_cmd, "serve", "--data", str(data), *serve_args],
                                   port=port, log_name=name)
        server = Server(name, data, url, process, self.hub.logins)
        self.hub_processes = [other for other in self.hub_processes if other.name != name] + [server]
        return server

    def add_reviewer(self, username: str, department: str, password: str, *, township: str | None = None) -> None:
        """A reviewer of ``department``; of a township-scoped one (乡镇人民政府), in township point ``township``."""
        assert self.hub is not None, "start the hub first"
        self.setup(self.hub_cmd, "users", "add", username, "--role", "reviewer",
                   "--department", department, "--password", password, "--data", str(self.hub.data),
                   *(["--township", township] if township else []))
        self.hub.logins[username] = password

    def start_point(self, name: str, level: str, *, staff_password: str = "point-staff-pass",
                    sync_interval: float = 1.0, max_idle_interval: float | None = None,
                    dirname: str | None = None, env: dict[str, str] | None = None,
                    program: str | None = None, hub_url: str | None = None,
                    township: str | None = None) -> Server:
        """Enroll on first start; a restart keeps the point's data. Idle polling does not slow down
        unless ``max_idle_interval`` says so (tests wait on results). ``program`` runs another build of
        ``pointkit`` (an older release, for version-skew tests); ``hub_url`` is where it enrolls and syncs
        (a link simulator in front of the hub, say). ``township``: the township point a village belongs to."""
        assert self.hub is not None, "start the hub first"
        data = self.base / (dirname or f"point-{len(self.points) + 1}")
        point_cmd = program or command("pointkit")
        if not (data / "point.db").exists():
            output = self.setup(self.hub_cmd, "points", "add", name, "--level", level,
                                *(["--township", township] if township else []), "--data", str(self.hub.data))
            token = output.strip().splitlines()[-1].strip()
            self.setup(point_cmd, "init", "--data", str(data), "--hub", hub_url or self.hub.url, "--token", token,
                       "--name", name, "--staff-user", "staff", "--staff-password", staff_password,
                       # A previous release (``program``) has no real names for its staff yet.
                       *([] if program else ["--staff-name", POINT_CLERK_NAME]))
        process, url = self._spawn(name, data, [
            point_cmd, "serve", "--data", str(data), "--sync-interval", str(sync_interval),
            "--max-idle-interval", str(max_idle_interval or sync_interval)], env=env)
        server = Server(name, data, url, process, {"staff": staff_password}, level)
        self.points[name] = server
        return server

    def kill_server(self, server: Server) -> None:
        """SIGKILL: the process gets no chance to flush or clean up, as in a power cut."""
        server.process.kill()
        server.process.wait(timeout=10)

    def stop_server(self, server: Server) -> None:
        server.process.terminate()
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=10)

    def stop(self) -> None:
        for process in self._processes:
            if process.poll() is None:
                process.terminate()
        for process in self._processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
