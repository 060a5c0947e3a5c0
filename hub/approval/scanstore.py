"""Where the hub keeps sealed scans: files in its data directory (a county's default) or an S3-compatible object
store (MinIO, Ceph RGW, a government cloud's OSS) that every hub machine of a region shares.

The database's ``CaseScan.received`` stays the truth of how many bytes of a scan are held; a store only keeps
bytes. Local files are today's layout, DATA/scans/<scan_id>.sealed. In object storage each accepted chunk is an
object of its own, <prefix>/<scan_id>/<offset, 12 digits>, so any hub process on any machine can take the next
chunk of a scan another started, with nothing kept locally. A complete scan is read back as its chunk objects in
order rather than composed into one object: S3's server-side compose (multipart upload_part_copy) wants parts of
at least 5 MiB and chunks are at most 1 MiB, so composing would mean downloading and uploading every scan once
more, while reading a scan of a few MB is a handful of GETs. Scans arrive sealed (sync/attachments.py, a key per
scan kept in the database) and stay so in either store; object keys name the scan's random id only, never a
resident or a case.

Which store: ``--scans URL`` on any hub command or POINTKIT_HUB_SCANS, else the URL a hub last served with
(recorded in DATA/scan-store), else local files. Credentials come from the environment (AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY) or from the file POINTKIT_HUB_S3_CREDENTIALS names, never from the URL.
"""

from __future__ import annotations

import configparser
import functools
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from sync.attachments import CHUNK_SEALED
from sync.uploads import append_durably

SCANS_ENV = "POINTKIT_HUB_SCANS"
CREDENTIALS_ENV = "POINTKIT_HUB_S3_CREDENTIALS"
SCANS_DIR = "scans"
RECORDED_STORE = "scan-store"
OFFSET_DIGITS = 12
S3_URL_OPTIONS = ("endpoint", "region")
# Words that mean someone tried to put a secret in the URL: refused, whatever the rest says.
SECRET_WORDS = ("key", "secret", "token", "password", "credential", "signature")


class ScanStoreError(Exception):
    """The store could not keep or give back bytes (unreachable, refused): a retry later may succeed."""


class BadScanStoreUrl(ValueError):
    """A --scans URL the hub cannot use, with what to write instead."""


class ScanStore(Protocol):
    """What the hub does with sealed scans, whatever keeps them."""

    def write_at(self, scan_id: str, offset: int, chunk: bytes) -> None:
        """Keep ``chunk`` at ``offset``, durably; whatever was held from ``offset`` on is replaced."""

    def read_at(self, scan_id: str, offset: int, size: int) -> bytes:
        """Up to ``size`` held bytes from ``offset`` (fewer when fewer are held)."""

    def pieces(self, scan_id: str, size: int) -> Iterator[bytes]:
        """The first ``size`` bytes of the scan in order, in pieces of CHUNK_SEALED bytes (the last may be
        shorter), as decrypt_chunks takes them; ScanStoreError when some are missing."""

    def size(self, scan_id: str) -> int | None:
        """Bytes held of the scan, None when nothing is."""

    def delete(self, scan_id: str) -> None:
        """Remove every byte of the scan (nothing held is no error)."""


def read_whole(store: ScanStore, scan_id: str, size: int) -> bytes:
    return b"".join(store.pieces(scan_id, size))


@dataclass(frozen=True)
class LocalScanStore:
    """Sealed scans as files in the hub's data directory, one per scan (a county's hub, as always)."""

    directory: Path

    def path(self, scan_id: str) -> Path:
        return self.directory / f"{uuid.UUID(scan_id)}.sealed"

    def write_at(self, scan_id: str, offset: int, chunk: bytes) -> None:
        append_durably(self.path(scan_id), offset, chunk)

    def read_at(self, scan_id: str, offset: int, size: int) -> bytes:
        try:
            with open(self.path(scan_id), "rb") as handle:
                handle.seek(offset)
                return handle.read(size)
        except FileNotFoundError:
            return b""

    def pieces(self, scan_id: str, size: int) -> Iterator[bytes]:
        left = size
        try:
            with open(self.path(scan_id), "rb") as handle:
                while left and (piece := handle.read(min(CHUNK_SEALED, left))):
                    left -= len(piece)
                    yield piece
        except OSError as exc:
            raise ScanStoreError(f"scan {scan_id} cannot be read: {exc}") from exc
        if left:
            raise ScanStoreError(f"scan {scan_id} holds {size - left} of its {size} bytes")

    def size(self, scan_id: str) -> int | None:
        path = self.path(scan_id)
        return path.stat().st_size if path.exists() else None

    def delete(self, scan_id: str) -> None:
        self.path(scan_id).unlink(missing_ok=True)

    def __str__(self) -> str:
        return str(self.directory)


@dataclass(frozen=True)
class S3Location:
    """A bucket, a key prefix in it and the endpoint that serves it, as a --scans URL names them."""

    bucket: str
    prefix: str = ""
    endpoint: str | None = None
    region: str | None = None

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" + (f" at {self.endpoint}" if self.endpoint else "")


@dataclass(frozen=True)
class _Chunk:
    offset: int
    key: str
    size: int


class S3ScanStore:
    """Sealed scans as chunk objects in an S3-compatible bucket, shared by every hub machine."""

    def __init__(self, location: S3Location, client: Any):
        self.location = location
        self.client = client

    def _scan_prefix(self, scan_id: str) -> str:
        return "/".join(part for part in (self.location.prefix, str(uuid.UUID(scan_id))) if part) + "/"

    def _key(self, scan_id: str, offset: int) -> str:
        return f"{self._scan_prefix(scan_id)}{offset:0{OFFSET_DIGITS}d}"

    def _objects(self, scan_id: str) -> list[_Chunk]:
        """Every chunk object under the scan's prefix, by offset."""
        prefix = self._scan_prefix(scan_id)
        chunks = []
        with _store_errors(f"listing scan {scan_id}"):
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.location.bucket,
                                                                              Prefix=prefix):
                for item in page.get("Contents", []):
                    name = item["Key"][len(prefix):]
                    if name.isdigit():
                        chunks.append(_Chunk(int(name), item["Key"], item["Size"]))
        return sorted(chunks, key=lambda chunk: chunk.offset)

    def _chain(self, scan_id: str) -> list[_Chunk]:
        """The chunk objects that follow on from offset 0, each where the one before ends. An object a scan started
        over left behind (a relayed scan refused, its deletion failed) is passed over where the new chunks cover
        it; only the first ``received`` bytes count anyway (the database says how many)."""
        chain, held = [], 0
        for chunk in self._objects(scan_id):
            if chunk.offset == held:
                chain.append(chunk)
                held += chunk.size
            elif chunk.offset > held:
                break
        return chain

    def write_at(self, scan_id: str, offset: int, chunk: bytes) -> None:
        # The caller holds the scan's row (hub/approval/scans.py), so no other hub writes this offset meanwhile.
        with _store_errors(f"storing a chunk of scan {scan_id}"):
            self.client.put_object(Bucket=self.location.bucket, Key=self._key(scan_id, offset), Body=chunk)

    def read_at(self, scan_id: str, offset: int, size: int) -> bytes:
        wanted = []
        for chunk in self._chain(scan_id):
            start, end = max(offset, chunk.offset), min(offset + size, chunk.offset + chunk.size)
            if start < end:
                wanted.append(self._get(chunk.key, start - chunk.offset, end - chunk.offset))
        return b"".join(wanted)

    def pieces(self, scan_id: str, size: int) -> Iterator[bytes]:
        return _sealed_pieces(self._chunk_bytes(scan_id, size))

    def _chunk_bytes(self, scan_id: str, size: int) -> Iterator[bytes]:
        """The first ``size`` bytes of the scan, one chunk object at a time."""
        held = 0
        for chunk in self._chain(scan_id):
            if held >= size:
                break
            piece = self._get(chunk.key, 0, min(chunk.size, size - held))
            held += len(piece)
            yield piece
        if held < size:
            raise ScanStoreError(f"scan {scan_id} holds {held} of its {size} bytes in {self.location}")

    def _get(self, key: str, start: int, end: int) -> bytes:
        with _store_errors(f"reading {key}"):
            answer = self.client.get_object(Bucket=self.location.bucket, Key=key, Range=f"bytes={start}-{end - 1}")
            return answer["Body"].read()

    def size(self, scan_id: str) -> int | None:
        chain = self._chain(scan_id)
        return sum(chunk.size for chunk in chain) if chain else None

    def delete(self, scan_id: str) -> None:
        keys = [{"Key": chunk.key} for chunk in self._objects(scan_id)]
        with _store_errors(f"deleting scan {scan_id}"):
            for start in range(0, len(keys), 1000):  # DeleteObjects takes at most 1,000 keys
                self.client.delete_objects(Bucket=self.location.bucket,
                                           Delete={"Objects": keys[start:start + 1000], "Quiet": True})

    def __str__(self) -> str:
        return str(self.location)


def _sealed_pieces(stream: Iterator[bytes]) -> Iterator[bytes]:
    """Regroup ``stream`` into pieces of CHUNK_SEALED bytes, the sealing's own chunks (the last may be shorter)."""
    buffer = bytearray()
    for part in stream:
        buffer += part
        while len(buffer) >= CHUNK_SEALED:
            yield bytes(buffer[:CHUNK_SEALED])
            del buffer[:CHUNK_SEALED]
    if buffer:
        yield bytes(buffer)


@contextmanager
def _store_errors(doing: str) -> Iterator[None]:
    """Turn the S3 client's failures into ScanStoreError, naming what the hub was doing."""
    # botocore is imported with boto3 by s3_client only: loading it costs every hub command 0.2 s.
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (BotoCoreError, ClientError) as exc:
        raise ScanStoreError(f"{doing}: {exc}") from exc


def parse_scans_url(url: str) -> S3Location | None:
    """The S3 location a --scans URL names, None for local files ("" or "local"); BadScanStoreUrl if unusable."""
    if url in ("", "local"):
        return None
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.hostname:
        raise BadScanStoreUrl(f"--scans {url!r}: write s3://BUCKET/PREFIX?endpoint=http://HOST:PORT, or 'local'")
    if "@" in parts.netloc:
        raise BadScanStoreUrl(_NO_SECRETS)
    options = parse_qs(parts.query, keep_blank_values=True)
    for name in options:
        if any(word in name.lower() for word in SECRET_WORDS) or name.lower().startswith("x-amz-"):
            raise BadScanStoreUrl(_NO_SECRETS)
        if name not in S3_URL_OPTIONS:
            raise BadScanStoreUrl(f"--scans: unknown option {name!r}; the URL takes {', '.join(S3_URL_OPTIONS)}")
    endpoint = options.get("endpoint", [None])[0]
    if endpoint and "@" in urlsplit(endpoint).netloc:
        raise BadScanStoreUrl(_NO_SECRETS)
    return S3Location(bucket=parts.hostname, prefix=parts.path.strip("/"), endpoint=endpoint or None,
                      region=options.get("region", [None])[0] or None)


_NO_SECRETS = (f"--scans must not carry credentials (they would show in process lists and logs); set "
               f"AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or {CREDENTIALS_ENV}=FILE, in the hub's environment")


def scans_url(data_dir: str | Path) -> str:
    """The store this hub's scans are in: --scans / POINTKIT_HUB_SCANS, else the one it last served with."""
    given = os.environ.get(SCANS_ENV)
    if given:
        return given
    recorded = Path(data_dir) / RECORDED_STORE
    return recorded.read_text(encoding="utf-8").strip() if recorded.exists() else ""


def record_scans_url(data_dir: str | Path) -> None:
    """Remember the store a hub serves with, so its other commands (purge, bundles, backups) find the same."""
    url = os.environ.get(SCANS_ENV)
    if url:
        parse_scans_url(url)
        (Path(data_dir) / RECORDED_STORE).write_text(url + "\n", encoding="utf-8")


def scan_store(data_dir: str | Path) -> ScanStore:
    """The store of this hub's sealed scans (see the module's docstring for which)."""
    return _store(scans_url(data_dir), str(Path(data_dir).resolve()))


@functools.lru_cache(maxsize=16)
def _store(url: str, data_dir: str) -> ScanStore:
    # One client per store and process: boto3 clients are thread-safe and keep their connections.
    location = parse_scans_url(url)
    if location is None:
        return LocalScanStore(Path(data_dir) / SCANS_DIR)
    return S3ScanStore(location, s3_client(location))


def s3_client(location: S3Location) -> Any:
    """A boto3 client for ``location`` with the credentials of the environment."""
    try:  # imported here: boto3 is the s3 extra, and loading it costs every hub command 0.2 s
        import boto3
        from botocore.config import Config
    except ImportError:
        raise BadScanStoreUrl("scans in S3 need boto3: pip install 'pointkit[s3]'") from None
    config = Config(signature_version="s3v4", s3={"addressing_style": "path"}, connect_timeout=5, read_timeout=30,
                    retries={"mode": "standard", "max_attempts": 3}, max_pool_connections=32,
                    # MinIO, Ceph RGW and the clouds' OSS do not all take the newer default CRC checksums.
                    request_checksum_calculation="when_required", response_checksum_validation="when_required")
    return boto3.session.Session(**_credentials()).client(
        "s3", endpoint_url=location.endpoint, region_name=location.region or "us-east-1", config=config)


def _credentials() -> dict[str, str]:
    """Keys from the file POINTKIT_HUB_S3_CREDENTIALS names (AWS credentials format, [default]); else boto3 reads
    AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY from the environment itself."""
    path = os.environ.get(CREDENTIALS_ENV)
    if not path:
        return {}
    parser = configparser.ConfigParser()
    if not parser.read(path, encoding="utf-8") or not parser.has_section("default"):
        raise BadScanStoreUrl(f"{CREDENTIALS_ENV}={path}: no [default] section with aws_access_key_id and "
                              f"aws_secret_access_key there")
    section = parser["default"]
    try:
        return {"aws_access_key_id": section["aws_access_key_id"],
                "aws_secret_access_key": section["aws_secret_access_key"]}
    except KeyError as exc:
        raise BadScanStoreUrl(f"{CREDENTIALS_ENV}={path}: [default] lacks {exc.args[0]}") from None
