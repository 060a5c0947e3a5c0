"""Resumable scan uploads, the tus model: ask the offset, append chunks, each with its SHA-256.

The point uploads the *sealed* file (sync.attachments), so neither the wire
nor the hub's disk ever holds a scan in the clear; the key travels in the
sealed case. Every request is signed (sync.signing).

    HEAD  /sync/v1/scans/<scan_id>             -> X-Pointkit-Offset, X-Pointkit-Total, X-Pointkit-Scan-Status
                                                  (refusals: X-Pointkit-Reason, as HEAD has no body)
    GET   /sync/v1/scans/<scan_id>             -> {scan_id, offset, total, status}
    PATCH /sync/v1/scans/<scan_id>?offset=N    body = the next chunk
          X-Pointkit-Chunk-SHA256: hex digest of the body
          X-Pointkit-Total: sealed size (the first chunk declares it)
          -> 200 {offset, total, status}; 409 {offset} when the hub holds less than N, or other bytes
             where the chunk overlaps what it holds (a chunk sent again after a cut took its answer
             is not an error: the hub skips the part it holds and appends the rest);
             400 on a bad chunk hash or total; 403 for another point's scan; 404 before its case arrived

The hub keeps every whole chunk it verified (fsync before it answers). After
any failure the uploader asks the offset again and carries on from there, so
a link that drops every few seconds still finishes a large scan. The chunk
size adapts: it doubles after a quick success and halves after a failure.

A village's scans go through its township. The first chunk of every scan
carries a *scan grant* (X-Pointkit-Scan-Grant): a document signed by the
point naming the scan, its sealed size and the SHA-256 of the sealed file.
A township keeps the chunks and the grant, answers status ``relayed`` until
the hub holds the scan whole, and forwards the scan in its own sync under
its own signature with the village's grant on every request. The hub takes
a relayed chunk only for a village whose relay is the sender and only with
that village's grant, and keeps the finished file only if its SHA-256 is the
granted one: the township cannot read a scan, forge one, or spoil one.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from sync.canonical import canonical_json
from sync.client import HubClient, HubRefused, HubUnreachable, _refusal
from sync.signing import SignatureError, sign_document, verify_document

SCANS_PATH = "/sync/v1/scans"
HEADER_OFFSET = "X-Pointkit-Offset"
HEADER_TOTAL = "X-Pointkit-Total"
HEADER_CHUNK_SHA256 = "X-Pointkit-Chunk-SHA256"
HEADER_REASON = "X-Pointkit-Reason"
HEADER_SCAN_STATUS = "X-Pointkit-Scan-Status"
HEADER_SCAN_GRANT = "X-Pointkit-Scan-Grant"
SCAN_GRANT_TYPE = "pointkit.scan-grant/v1"
# A scan held by a township for the hub (the hub has not got all of it yet).
RELAYED = "relayed"
COMPLETE = "complete"
CHUNK_CONTENT_TYPE = "application/offset+octet-stream"
MIN_CHUNK = 4 * 1024
START_CHUNK = 16 * 1024
MAX_CHUNK = 256 * 1024
# A chunk that took longer than this does not grow the next one: on a slow, cut-prone link a
# long chunk is likely to be cut before its end, and everything sent of it would be lost.
GROW_WITHIN_S = 4.0
MAX_FAILURES = 8
# Plan chunks to end this far into the link's usual uptime (drops are not exactly periodic).
UPTIME_MARGIN = 0.9
DUE_FRACTION = 0.8


@dataclass(eq=False)
class ScanError(Exception):
    """A scan request refused by the side that receives chunks (hub or township): ``status`` is the HTTP
    answer, ``offset`` what it holds (for 409)."""

    status: int
    reason: str
    message: str
    offset: int | None = None

    def __str__(self) -> str:
        return self.message


class OffsetMismatch(HubRefused):
    """The hub holds a different offset than the chunk was sent for; ``offset`` is the hub's."""

    def __init__(self, offset: int, message: str, scan_status: str = ""):
        super().__init__(409, "offset_mismatch", message)
        self.offset = offset
        self.scan_status = scan_status


def make_scan_grant(scan_id: str, point_id: str, sealed: bytes, key: Ed25519PrivateKey) -> str:
    """The header value by which a point lets its relay carry one sealed scan to the hub."""
    document = {"type": SCAN_GRANT_TYPE, "scan_id": scan_id, "point_id": point_id, "total": len(sealed),
                "sealed_sha256": hashlib.sha256(sealed).hexdigest()}
    return base64.urlsafe_b64encode(canonical_json(sign_document(document, key))).decode("ascii")


def read_scan_grant(value: str, keys: Iterable[Ed25519PublicKey], *, scan_id: str, point_id: str,
                    total: int) -> str:
    """Verify a scan grant for this scan and point; return the granted sealed SHA-256 (SignatureError if not)."""
    try:
        signed = json.loads(base64.urlsafe_b64decode(value.encode("ascii")))
    except (ValueError, UnicodeError):
        raise SignatureError("bad_grant", f"{HEADER_SCAN_GRANT} is not a signed scan grant") from None
    for key in keys:
        try:
            document = verify_document(signed, key)
            break
        except SignatureError:
            continue
    else:
        raise SignatureError("bad_grant", "the scan grant is not signed by the point whose scan it is")
    if (document.get("type"), document.get("scan_id"), document.get("point_id"), document.get("total")) != (
            SCAN_GRANT_TYPE, scan_id, point_id, total) or not isinstance(document.get("sealed_sha256"), str):
        raise SignatureError("bad_grant", "the scan grant is for another scan, point or size")
    return document["sealed_sha256"]


def unheld_part(held_bytes: Callable[[int, int], bytes], received: int, offset: int, chunk: bytes, *,
                holder: str) -> tuple[int, bytes]:
    """What a chunk at ``offset`` adds to the first ``received`` bytes held, as (offset, bytes); ``held_bytes(offset,
    size)`` reads what is held (``file_bytes`` of a file, or a hub's scan store).

    A chunk sent again (its answer lost to a cut, or a cancelled connection's
    chunk arriving after the point asked the offset anew) is not an error: the
    part held, if the same bytes, is skipped. ScanError 409 naming what
    ``holder`` holds when the chunk starts past it or overlaps it with other bytes.
    """
    held = min(received, offset + len(chunk)) - offset
    if held < 0 or (held and held_bytes(offset, held) != chunk[:held]):
        raise ScanError(409, "offset_mismatch", f"{holder} holds {received} bytes of this scan", offset=received)
    return offset + held, chunk[held:]


def file_bytes(path: Path) -> Callable[[int, int], bytes]:
    """``unheld_part``'s reader of a file: its ``size`` bytes from ``offset`` (none when it is missing)."""
    return lambda offset, size: _read_at(path, offset, size)


def _read_at(path: Path, offset: int, size: int) -> bytes:
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            return handle.read(size)
    except OSError:
        return b""


def append_durably(path: Path, offset: int, chunk: bytes) -> None:
    """Write ``chunk`` at ``offset`` of ``path`` and fsync; bytes past ``offset`` (a chunk whose commit never
    happened) are dropped first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab") as handle:
        handle.truncate(offset)
        handle.write(chunk)
        handle.flush()
        os.fsync(handle.fileno())


@dataclass
class ChunkSizer:
    """Chunk size that grows on quick successes and shrinks on failures (bounded both ways).

    It also learns the link: its rate (from chunks that got through) and how
    long it tends to stay up (the time between failures). A chunk is cut to
    what can cross before the next drop is due, because on a cut link every
    byte of an unfinished chunk is lost.
    """

    size: int = START_CHUNK
    minimum: int = MIN_CHUNK
    maximum: int = MAX_CHUNK
    grow_within_s: float = GROW_WITHIN_S
    rate: float | None = None
    round_trip_s: float = 0.0
    uptime_s: float | None = None
    last_failure: float | None = None

    def succeeded(self, elapsed_s: float = 0.0, sent: int = 0) -> None:
        if sent and elapsed_s > self.round_trip_s:
            measured = sent / (elapsed_s - self.round_trip_s)
            self.rate = measured if self.rate is None else (self.rate + measured) / 2
        if elapsed_s <= self.grow_within_s:
            self.size = min(self.size * 2, self.maximum)

    def failed(self, now: float | None = None, sent: int = 0) -> None:
        """Halve, unless a smallest chunk was cut when the link's rhythm said a drop was due (it was not too big;
        it only filled the end of the uptime)."""
        due = (now is not None and self.uptime_s is not None and self.last_failure is not None
               and now - self.last_failure >= DUE_FRACTION * self.uptime_s)
        if not due or sent > self.minimum:
            self.size = max(self.size // 2, self.minimum)
        if now is None:
            return
        if self.last_failure is not None:
            gap = now - self.last_failure
            self.uptime_s = gap if self.uptime_s is None else (self.uptime_s + gap) / 2
        self.last_failure = now

    def observed_round_trip(self, elapsed_s: float) -> None:
        self.round_trip_s = elapsed_s if not self.round_trip_s else min(self.round_trip_s, elapsed_s)

    def next_size(self, now: float) -> int:
        """The size of the next chunk: the current size, cut to what fits before the next expected drop."""
        if self.uptime_s is None or self.last_failure is None or self.rate is None:
            return self.size
        up_for = now - self.last_failure
        if up_for > 2 * self.uptime_s:
            return self.size  # the link has steadied
        left = UPTIME_MARGIN * self.uptime_s - up_for - self.round_trip_s
        return min(self.size, max(self.minimum, int(self.rate * left)))


@dataclass
class ScanState:
    """What the hub holds of one scan."""

    offset: int
    total: int | None
    status: str = ""


@dataclass
class UploadResult:
    """How one upload call ended: complete, or stopped early (``stopped``) at ``offset``."""

    scan_id: str
    offset: int
    total: int
    chunks: int = 0
    failures: int = 0
    bytes_sent: int = 0
    stopped: bool = False
    # What the other side last said of the scan: "complete" (the hub holds it whole), "relayed" (a township does).
    status: str = ""

    @property
    def complete(self) -> bool:
        return self.offset >= self.total


class ScanUploader:
    """Uploads sealed scans through one HubClient, one request at a time, without retrying inside a request.

    Retrying is this class's job, not tenacity's: after a failure the offset
    must be asked again and the chunk made smaller.
    """

    def __init__(self, client: HubClient, *, sizer: ChunkSizer | None = None, max_failures: int = MAX_FAILURES,
                 sleep: Callable[[float], None] = time.sleep, headers: dict[str, str] | None = None):
        self.client = client
        self.sizer = sizer or ChunkSizer()
        self.max_failures = max_failures
        self.sleep = sleep
        # Sent with every request (a township forwarding a village's scan sends the village's grant).
        self.headers = dict(headers or {})

    def __repr__(self) -> str:
        return f"ScanUploader({self.client!r}, chunk={self.sizer.size})"

    def _request(self, method: str, scan_id: str, *, params: dict[str, str] | None = None, body: bytes = b"",
                 headers: dict[str, str] | None = None, stale_retry: bool = True) -> httpx.Response:
        build = self.client._signed(method, f"{SCANS_PATH}/{scan_id}", params=params, body=body,
                                    content_type=CHUNK_CONTENT_TYPE if body else None)
        request = build()
        request.headers.update({**self.headers, **(headers or {})})
        try:
            response = self.client._http.send(request)
        except httpx.TransportError as exc:
            raise HubUnreachable(f"hub at {self.client.base_url} unreachable: {exc}") from exc
        hub_time = self.client._note_hub_time(response)
        if response.status_code >= 500:
            cause = httpx.HTTPStatusError("hub error", request=request, response=response)
            raise HubUnreachable(f"hub at {self.client.base_url} failed: HTTP {response.status_code}") from cause
        if response.status_code == 409:
            offset = _offset_of(response)
            if offset is not None:
                raise OffsetMismatch(offset, "the hub holds a different offset",
                                     response.headers.get(HEADER_SCAN_STATUS, ""))
        if response.status_code >= 400:
            refusal = _refusal(response)
            if method == "HEAD":
                refusal.reason = response.headers.get(HEADER_REASON, refusal.reason)
            if refusal.reason == "stale" and stale_retry and hub_time is not None:
                return self._request(method, scan_id, params=params, body=body, headers=headers, stale_retry=False)
            raise refusal
        return response

    def state(self, scan_id: str) -> ScanState:
        """Ask the hub how many bytes of the sealed scan it holds (HEAD: headers only)."""
        response = self._request("HEAD", scan_id)
        total = response.headers.get(HEADER_TOTAL, "")
        return ScanState(_offset_of(response) or 0, int(total) if total.isdigit() else None,
                         response.headers.get(HEADER_SCAN_STATUS, ""))

    def send_chunk(self, scan_id: str, offset: int, chunk: bytes, total: int, *, grant: str = "") -> ScanState:
        """Append one chunk at ``offset``; return what the hub holds now. ``grant`` goes with the first chunk."""
        headers = {HEADER_CHUNK_SHA256: hashlib.sha256(chunk).hexdigest(), HEADER_TOTAL: str(total)}
        if grant and offset == 0:
            headers[HEADER_SCAN_GRANT] = grant
        response = self._request("PATCH", scan_id, params={"offset": str(offset)}, body=chunk, headers=headers)
        new_offset = _offset_of(response)
        if new_offset is None:
            raise HubRefused(response.status_code, "bad_answer", "the hub did not say the new offset")
        return ScanState(new_offset, total, response.headers.get(HEADER_SCAN_STATUS, ""))

    def upload(self, scan_id: str, sealed: bytes, *, should_stop: Callable[[], bool] | None = None,
               on_progress: Callable[[int, int], None] | None = None,
               start_offset: int | None = None, grant: str = "") -> UploadResult:
        """Upload ``sealed`` from wherever the hub stands, through cuts.

        ``start_offset`` is the offset the point last saw the hub hold: it saves
        asking first (a round trip per scan); if the hub holds another, its 409
        says which (a scan last seen whole is asked again: a township may have
        held it for the hub). ``grant`` (make_scan_grant) rides on the first
        chunk. Raises HubUnreachable after ``max_failures`` failures in a
        row, and HubRefused when the hub refuses the scan itself; the offset
        the hub holds stays, so the next call resumes.
        """
        total = len(sealed)
        result = UploadResult(scan_id, start_offset or 0, total)
        failures, known = 0, start_offset is not None and start_offset < total
        while True:
            try:
                if not known:
                    asked = time.monotonic()
                    held = self.state(scan_id)
                    result.offset, result.status = held.offset, held.status
                    self.sizer.observed_round_trip(time.monotonic() - asked)
                    known = True
                if result.offset >= total:
                    return result
                if should_stop is not None and should_stop():
                    result.stopped = True
                    return result
                started = time.monotonic()
                chunk = sealed[result.offset:result.offset + self.sizer.next_size(started)]
                try:
                    held = self.send_chunk(scan_id, result.offset, chunk, total, grant=grant)
                    result.offset, result.status = held.offset, held.status
                except HubUnreachable:
                    now = time.monotonic()
                    self.sizer.failed(now, len(chunk))
                    # The hub holds a chunk only once all of it crossed; cut sooner, the offset stands.
                    cut_early = self.sizer.rate is not None and now - started < len(chunk) / self.sizer.rate
                    raise _Cut(offset_known=cut_early) from None
                self.sizer.succeeded(time.monotonic() - started, len(chunk))
                result.chunks += 1
                result.bytes_sent += len(chunk)
                failures = 0
                if on_progress is not None:
                    on_progress(result.offset, total)
            except OffsetMismatch as exc:
                result.offset, result.status = exc.offset, exc.scan_status
            except (HubUnreachable, _Cut) as exc:
                failures += 1
                result.failures += 1
                known = isinstance(exc, _Cut) and exc.offset_known
                if failures >= self.max_failures:
                    raise HubUnreachable(f"hub at {self.client.base_url} unreachable: {failures} failures in a row") \
                        from exc
                # Retry at once after the first failure (a cut), then back off (the hub may be down).
                self.sleep(min(0.25 * (2 ** (failures - 1) - 1), 5.0))


class _Cut(Exception):
    """A chunk failed in flight; ``offset_known`` when it was cut before it could have fully crossed."""

    def __init__(self, *, offset_known: bool):
        super().__init__("chunk cut in flight")
        self.offset_known = offset_known


def _offset_of(response: httpx.Response) -> int | None:
    value = response.headers.get(HEADER_OFFSET, "")
    return int(value) if value.isdigit() else None
