"""Scans streamed on one connection: chunk after chunk, scan after scan, without waiting for each answer.

The protocol is the resumable one of sync/uploads.py (every chunk a signed
PATCH at an offset with its SHA-256); only the waiting goes. The uploader
keeps chunks in flight (sync/pipeline.py) so the link never idles for a
round trip, and the hub commits each chunk as it arrives whole; how large
the chunks are and when each goes is sync/pacing.py's part. After a cut it
reconnects at once and streams on from the last offset the hub
acknowledged: a chunk the hub committed but whose answer the cut took is
sent again (the hub skips bytes it holds, sync/uploads.py), unless it had
most likely crossed whole, which it asks about first (HEAD), as it does
where the hub said it holds something else (409). A connection given up on
(a cut, a 409) is reset, not closed: chunks still queued on it are dropped
rather than sent behind the next connection's requests, where a township
would find them after the village asked where its scan stands.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from sync.client import HubClient, HubRefused, HubUnreachable
from sync.clock import now_ms
from sync.http import HEADER_HUB_TIME
from sync.pacing import WINDOW_EXTRA, Flight, PieceSizer
from sync.pipeline import Answer, Pipeline, PipelineError
from sync.uploads import (
    CHUNK_CONTENT_TYPE,
    HEADER_CHUNK_SHA256,
    HEADER_OFFSET,
    HEADER_REASON,
    HEADER_SCAN_GRANT,
    HEADER_SCAN_STATUS,
    HEADER_TOTAL,
    MAX_FAILURES,
    SCANS_PATH,
)

CONNECT_TIMEOUT_S = 30.0
# How often a stream waiting for a due drop asks whether to stop.
HOLD_POLL_S = 0.5


@dataclass
class Outgoing:
    """One sealed scan to stream, and how far the hub has acknowledged it."""

    scan_id: str
    sealed: bytes
    acked: int = 0
    grant: str = ""
    status: str = ""
    refusal: HubRefused | None = None
    # Whether ``acked`` may be streamed on from (False: ask the hub first).
    known: bool = True

    @property
    def total(self) -> int:
        return len(self.sealed)

    @property
    def finished(self) -> bool:
        return self.refusal is not None or (self.known and self.acked >= self.total)


@dataclass
class StreamReport:
    bytes_sent: int = 0
    chunks: int = 0
    failures: int = 0
    stopped: bool = False
    scans: list[Outgoing] = field(default_factory=list)


class _Resync(Exception):
    """The hub holds another offset than the stream assumed: ask again on a fresh connection."""


class StreamingUploader:
    """Streams sealed scans to the hub through one HubClient's address and keys."""

    def __init__(self, client: HubClient, *, sizer: PieceSizer | None = None, max_failures: int = MAX_FAILURES,
                 sleep: Callable[[float], None] = time.sleep, window_extra: int = WINDOW_EXTRA):
        self.client = client
        self.sizer = sizer or PieceSizer()
        self.max_failures = max_failures
        self.sleep = sleep
        self.window_extra = window_extra

    def __repr__(self) -> str:
        return f"StreamingUploader({self.client!r}, piece={self.sizer.size})"

    def _request(self, method: str, scan: Outgoing, *, offset: int | None = None, chunk: bytes = b""):
        params = {"offset": str(offset)} if offset is not None else None
        request = self.client._signed(method, f"{SCANS_PATH}/{scan.scan_id}", params=params, body=chunk,
                                      content_type=CHUNK_CONTENT_TYPE if chunk else None)()
        if chunk:
            request.headers[HEADER_CHUNK_SHA256] = hashlib.sha256(chunk).hexdigest()
            request.headers[HEADER_TOTAL] = str(scan.total)
            if offset == 0 and scan.grant:
                request.headers[HEADER_SCAN_GRANT] = scan.grant
        return request

    def upload(self, scans: list[Outgoing], *, should_stop: Callable[[], bool] | None = None,
               on_progress: Callable[[Outgoing], None] | None = None) -> StreamReport:
        """Stream ``scans`` in order until each is complete or refused (``refusal``), or ``should_stop``.

        Raises HubUnreachable after ``max_failures`` connections in a row that moved nothing; every chunk the
        hub acknowledged stays acknowledged (``on_progress`` hears of each).
        """
        report = StreamReport(scans=scans)
        failures = 0
        while not all(scan.finished for scan in scans):
            if should_stop is not None and should_stop():
                report.stopped = True
                return report
            chunks_before = report.chunks
            self.sizer.connected(time.monotonic())
            try:
                with Pipeline(self.client.base_url, timeout=CONNECT_TIMEOUT_S) as pipe:
                    self._session(pipe, scans, report, should_stop, on_progress)
                if report.stopped:
                    return report
                failures = 0
            except (PipelineError, _Resync) as exc:
                if isinstance(exc, _Resync):
                    continue
                self.sizer.dropped(time.monotonic())
                report.failures += 1
                failures = 1 if report.chunks > chunks_before else failures + 1
                if failures >= self.max_failures:
                    raise HubUnreachable(f"hub at {self.client.base_url} unreachable: {failures} failures "
                                         "in a row") from exc
                # Reconnect at once after a cut; back off when the hub keeps failing (it may be down).
                self.sleep(min(0.25 * (2 ** (failures - 1) - 1), 5.0))
        return report

    def _session(self, pipe: Pipeline, scans: list[Outgoing], report: StreamReport,
                 should_stop: Callable[[], bool] | None, on_progress: Callable[[Outgoing], None] | None) -> None:
        """One connection: learn the offsets in doubt, then stream until done, stopped or cut."""
        doubtful = [scan for scan in scans if not scan.known and scan.refusal is None]
        for scan in doubtful:
            pipe.send(self._request("HEAD", scan))
        for scan in doubtful:
            self._take(pipe.read(), scan, report)
        flight: Flight[Outgoing] = Flight(self.sizer)
        queue = deque(scan for scan in scans if not scan.finished)
        sending = queue.popleft() if queue else None
        cursor = sending.acked if sending else 0
        try:
            while True:
                stop = should_stop is not None and should_stop()
                window = self.sizer.window(self.window_extra)
                wake: float | None = None
                while sending is not None and not stop:
                    if sending.refusal is not None or cursor >= sending.total:
                        sending = queue.popleft() if queue else None
                        cursor = sending.acked if sending else 0
                        continue
                    size = flight.room(min(self.sizer.size, sending.total - cursor), window)
                    wake = flight.paced_until()
                    if not size or wake is not None:
                        break
                    chunk = sending.sealed[cursor:cursor + size]
                    pipe.send(self._request("PATCH", sending, offset=cursor, chunk=chunk))
                    flight.sent(sending, size)
                    cursor += size
                if not flight.chunks:
                    if sending is not None and not stop:
                        self._await_drop(pipe, should_stop)  # nothing fits before a due drop
                        continue
                    report.stopped = stop and not all(scan.finished for scan in scans)
                    return
                if wake is not None and not pipe.readable(wake - time.monotonic()):
                    continue  # the link is about to finish what it carries: time for the next chunk
                answer = pipe.read()
                scan, size = flight.answered()
                if self._take(answer, scan, report, sent=size) and on_progress is not None:
                    on_progress(scan)
        except PipelineError:
            held = flight.likely_held()
            if held is not None:
                held.known = False  # ask where it stands before sending it again
            raise

    def _await_drop(self, pipe: Pipeline, should_stop: Callable[[], bool] | None) -> None:
        """Nothing in flight and the link's pace makes a drop due: wait for it (PipelineError) until it is
        overdue or the caller wants to stop; sending now would only feed the drop."""
        while (left := self.sizer.overdue() - time.monotonic()) > 0:
            if should_stop is not None and should_stop():
                return
            pipe.idle(min(left, HOLD_POLL_S))

    def _take(self, answer: Answer, scan: Outgoing, report: StreamReport, *, sent: int = 0) -> bool:
        """Apply one answer to its scan; True for an acknowledged chunk."""
        hub_time = answer.headers.get(HEADER_HUB_TIME.lower(), "")
        if hub_time.isdigit():
            self.client.clock_offset_ms = int(hub_time) - now_ms()
        offset = answer.headers.get(HEADER_OFFSET.lower(), "")
        if scan.refusal is not None:
            return False  # chunks of a refused scan that were already in flight
        if answer.status == 200 and offset.isdigit():
            scan.acked, scan.known = int(offset), True
            scan.status = answer.headers.get(HEADER_SCAN_STATUS.lower(), scan.status)
            if sent:
                report.bytes_sent += sent
                report.chunks += 1
                self.sizer.acked(sent, time.monotonic())
            return bool(sent)
        if answer.status == 409 and offset.isdigit():
            # The hub holds something else than this stream assumed (chunks of it may still be in flight):
            # ask again on a fresh connection.
            scan.known = False
            raise _Resync()
        if answer.status >= 500:
            raise PipelineError(f"the hub failed: HTTP {answer.status}")
        reason, message = _reason(answer)
        if answer.status == 401 and reason == "stale":
            raise _Resync()  # signed again on the hub's clock, learnt just above
        scan.refusal = HubRefused(answer.status, reason, message)
        return False


def _reason(answer: Answer) -> tuple[str, str]:
    """A refusal's reason and message: from its JSON body, or its header (HEAD answers have no body)."""
    try:
        body = json.loads(answer.body)
        return str(body.get("reason", "refused")), str(body.get("error", ""))[:300]
    except (ValueError, AttributeError):
        return answer.headers.get(HEADER_REASON.lower(), "refused"), f"HTTP {answer.status}"
