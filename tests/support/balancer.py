"""nginx as the load balancer in front of several hub machines, as a region runs it (docs/deploy.md).

Debian's nginx (scripts/test installs it), started as this user with its config, pid, logs and temporary
files in a directory of its own: round robin over the hub URLs, a backend that refuses connections or
answers 502/503 is skipped for the next one and left out for ``fail_timeout``, bodies up to the hub's own
limit pass, and X-Forwarded-For and -Proto say who the client was (the hub believes them only from the
balancer's address: ``serve --trusted-proxy``).

    with Balancer([hub_a.url, hub_b.url], tmp_path / "balancer") as balancer:
        client = HubClient(balancer.url)
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import httpx

from tests.support.cluster import free_port, wait_until

NGINX = "/usr/sbin/nginx"
NGINX_MISSING = "nginx is not installed: run scripts/test as root (it installs Debian's nginx) or apt-get install nginx"
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
# Above the hub's own limit (sync.kit.web.MAX_REQUEST_BYTES), so the hub answers an oversized push itself.
MAX_BODY = "32m"
# How long a backend that failed is left out before nginx tries it again.
FAIL_TIMEOUT_S = 5

CONFIG = """\
daemon off;
master_process off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
{upstream}
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size {max_body};
        location / {{
            proxy_pass http://hub;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_next_upstream error timeout http_502 http_503;
            proxy_connect_timeout 2s;
            proxy_read_timeout 120s;
        }}
    }}
}}
"""


def upstream_block(backends: list[str], *, fail_timeout_s: int = FAIL_TIMEOUT_S) -> str:
    """The ``upstream hub`` block over ``backends`` (host:port), as docs/deploy.md shows it."""
    servers = "".join(f"        server {backend} max_fails=1 fail_timeout={fail_timeout_s}s;\n"
                      for backend in backends)
    return f"    upstream hub {{\n{servers}        keepalive 16;\n    }}\n"


def nginx_path() -> str | None:
    """Debian's nginx, or any on the PATH; None when there is none (``NGINX_MISSING`` says what to do)."""
    return NGINX if Path(NGINX).exists() else shutil.which("nginx")


class Balancer:
    """nginx on a free loopback port, round robin over ``urls``; stopped with a deadline."""

    def __init__(self, urls: list[str], prefix: Path):
        self.backends = [url.removeprefix("http://").rstrip("/") for url in urls]
        self.prefix = Path(prefix)
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def __repr__(self) -> str:
        return f"Balancer(port={self.port}, backends={self.backends})"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def config(self) -> Path:
        return self.prefix / "nginx.conf"

    def start(self) -> Balancer:
        nginx = nginx_path()
        if nginx is None:
            raise FileNotFoundError(NGINX_MISSING)
        self.prefix.mkdir(parents=True, exist_ok=True)
        self.config.write_text(CONFIG.format(prefix=self.prefix, port=self.port, max_body=MAX_BODY,
                                             upstream=upstream_block(self.backends)), encoding="utf-8")
        log = open(self.prefix / "nginx.out", "ab")
        # -e: the error log before the config is read (the default is under /var/log, not ours to write).
        self.process = subprocess.Popen([nginx, "-p", str(self.prefix), "-c", str(self.config),
                                         "-e", str(self.prefix / "error.log")],
                                        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()

        def answering() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited with {self.process.returncode}: {self.errors()}")
            return httpx.get(self.url + "/healthz", timeout=2).status_code == 200

        wait_until(answering, timeout=START_TIMEOUT, what=f"nginx at {self.url}")
        return self

    def errors(self) -> str:
        return "".join((self.prefix / name).read_text(errors="replace")
                       for name in ("nginx.out", "error.log") if (self.prefix / name).exists())

    def stop(self) -> None:
        """SIGTERM (nginx's fast shutdown), then SIGKILL after STOP_TIMEOUT seconds."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT)

    def __enter__(self) -> Balancer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
