"""The point's HTTP client for the hub: enroll, push, pull, fetch the catalog.

Built on httpx; transient failures (connection errors, 5xx, timeouts) are
retried with exponential backoff and jitter by tenacity. A caller may pass an
httpx transport (the fault-injection seam in tests).
"""

from __future__ import annotations

import functools
import json
import ssl
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from sync.clock import now_ms
from sync.envelope import EnvelopeError
from sync.framing import CONTENT_TYPE, decode_frames, encode_frames
from sync.http import (
    CALENDAR_PATH,
    CATALOG_PATH,
    ENROLL_PATH,
    HEADER_CALENDAR,
    HEADER_CATALOG_VERSION,
    HEADER_CURSOR,
    HEADER_HUB_TIME,
    HEADER_LAST_RECEIPT,
    HEADER_LAST_SEQ,
    CERTIFICATE_LOOKUP_PATH,
    PRECHECK_FILE_PATH,
    PROJECT_LOOKUP_PATH,
    PULL_PATH,
    PUSH_PATH,
    RELAY_PULL_PATH,
    RELAY_VILLAGES_PATH,
    format_held_years,
    parse_held_years,
)
from sync.keys import Identity
from sync.messages import receipt_number
from sync.resumable import PACKED_CONTENT_TYPE, PartialDownload, Progress, receive_body, unpack_json
from sync.signing import sign_document, sign_request

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
DEFAULT_ATTEMPTS = 3


class HubUnreachable(RuntimeError):
    """The hub could not be reached or kept failing; the caller retries later.

    ``status`` is the HTTP status of the hub's last answer when it answered with a server error (the link
    works; the hub failed on this request), None when no answer came.
    """

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message)
        self.status = status


@dataclass
class Narrowing:
    """How a push step finds the envelope a hub fails on, so that one envelope never holds up the others.

    After a 5xx the step sends one envelope at a time (``single``); the caller sets aside an envelope the hub
    failed on alone (for its next round) and goes on. A second lone failure in a row says the hub is failing,
    not an envelope: the step stops. A failure of the link is no envelope's doing and is raised again.
    """

    single: bool = False
    failed_alone: int = 0

    def hub_failed(self, exc: HubUnreachable, batch_size: int, errors: list[str]) -> bool:
        """After ``exc``: True to go on one envelope at a time, False to stop the step (``errors`` says why)."""
        if exc.status is None:
            raise exc
        self.single = True
        self.failed_alone += batch_size == 1
        if self.failed_alone > 1:
            errors.append(f"the county hub failed twice in a row (HTTP {exc.status}); what is left goes again "
                          "next round")
            return False
        return True

    def answered(self) -> None:
        """The hub answered a push: failures in a row start again from none."""
        self.failed_alone = 0


class HubRefused(RuntimeError):
    """The hub answered and refused the request; ``reason`` says why."""

    def __init__(self, status: int, reason: str, message: str):
        super().__init__(message)
        self.status = status
        self.reason = reason


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, httpx.TransportError):
        return True
    return isinstance(exc, httpx.HTTPStatusError) and exc.response.status_code >= 500


@dataclass
class PushResult:
    """The hub's answer for one envelope: accepted, duplicate, conflict or rejected."""

    envelope_id: str
    status: str
    reason: str = ""
    message: str = ""


@dataclass
class PullResult:
    envelopes: list[bytes] = field(default_factory=list)
    cursor: int = 0
    hub_time_ms: int | None = None


def _refusal(response: httpx.Response) -> HubRefused:
    try:
        body = response.json()
        reason, message = body.get("reason", "refused"), body.get("error", response.text)
    except ValueError:
        reason, message = "refused", response.text[:200]
    return HubRefused(response.status_code, reason, message)


@functools.cache
def tls_context() -> ssl.SSLContext:
    """How every HubClient of this process verifies the hub's certificate: httpx's defaults (its CA bundle, or
    SSL_CERT_FILE / SSL_CERT_DIR), built once. httpx builds a context and loads the whole CA file into it for each
    new client, 20-70 ms of CPU, and a point makes a client for every sync round: that was a third of an idle
    point's CPU."""
    return httpx.create_ssl_context()


class HubClient:
    """Talks to one hub on behalf of one enrolled point."""

    def __init__(
        self,
        base_url: str,
        *,
        point_id: uuid.UUID | None = None,
        identity: Identity | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        attempts: int = DEFAULT_ATTEMPTS,
        clock_offset_ms: int = 0,
    ):
        self.base_url = base_url.rstrip("/")
        self.point_id = point_id
        self.identity = identity
        self.attempts = attempts
        self.clock_offset_ms = clock_offset_ms
        # As the last pull answer named them (None: it did not).
        self.hub_catalog_version: int | None = None
        self.hub_calendar: dict[int, int] | None = None
        self.hub_last_seq: int | None = None
        self.hub_last_receipt: str | None = None
        # The hub's audit head as the last push answer carried it (unverified; None: it carried none).
        self.hub_audit_head: dict[str, Any] | None = None
        # Answers this client received from a working hub (below 500, a body cut short included): a round that
        # got none never reached the hub.
        self.answers = 0
        self._http = httpx.Client(base_url=self.base_url, transport=transport, timeout=timeout,
                                  verify=tls_context() if transport is None else True)
        # Only the headers a request needs: an idle point's poll is a few hundred bytes, and httpx's defaults
        # (Accept, Accept-Encoding, Connection, a long User-Agent) were a fifth of them.
        for name in ("Accept", "Accept-Encoding", "Connection"):
            del self._http.headers[name]
        self._http.headers["User-Agent"] = "pointkit"

    def __repr__(self) -> str:
        return f"HubClient({self.base_url!r}, point_id={self.point_id})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "HubClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, request_factory, *, clock_retry: bool = True,
              consume: Callable[[httpx.Response], None] | None = None) -> httpx.Response:
        """Send with retries on transient failures; learn the hub's clock from every answer.

        A signed request refused as stale (this point's clock is far off) is
        signed again once on the hub's clock, so a laptop whose clock is a
        year wrong still syncs. With ``consume``, a 200 or 206 answer's body is
        handed to it as it streams in (a download that keeps what arrived), and
        each retry builds its request anew (from where that download stands).
        """
        retrying = Retrying(
            stop=stop_after_attempt(self.attempts),
            wait=wait_exponential_jitter(multiplier=0.5, max=10),
            retry=retry_if_exception(_transient),
            reraise=False,
        )
        try:
            for attempt in retrying:
                with attempt:
                    response = self._attempt(request_factory(), consume)
        except RetryError as exc:
            cause = exc.last_attempt.exception()
            status = cause.response.status_code if isinstance(cause, httpx.HTTPStatusError) else None
            raise HubUnreachable(f"hub at {self.base_url} unreachable: {cause}", status=status) from cause
        hub_time = self._note_hub_time(response)
        if response.status_code >= 400:
            refusal = _refusal(response)
            if refusal.reason == "stale" and clock_retry and hub_time is not None:
                return self._send(request_factory, clock_retry=False, consume=consume)
            raise refusal
        return response

    def _attempt(self, request: httpx.Request, consume: Callable[[httpx.Response], None] | None) -> httpx.Response:
        response = self._http.send(request, stream=True)
        if response.status_code < 500:
            self.answers += 1
        try:
            if consume is not None and response.status_code in (200, 206):
                consume(response)
            else:
                response.read()
        finally:
            response.close()
        if response.status_code >= 500:
            response.raise_for_status()
        return response

    def _signed(self, method: str, path: str, params: dict[str, str] | None = None, body: bytes = b"",
                content_type: str | None = None):
        if self.identity is None or self.point_id is None:
            raise RuntimeError("this client is not enrolled: no point id or keys")

        def build() -> httpx.Request:
            request = self._http.build_request(method, path, params=params, content=body or None)
            headers = sign_request(
                method=method, path=request.url.path, query=request.url.query.decode("ascii"),
                body=body, point_id=str(self.point_id), key=self.identity.sign_key,
                clock_ms=self._clock(),
            )
            request.headers.update(headers)
            if content_type:
                request.headers["Content-Type"] = content_type
            return request

        return build

    def _clock(self) -> int:
        return now_ms() + self.clock_offset_ms

    def _note_hub_time(self, response: httpx.Response) -> int | None:
        value = response.headers.get(HEADER_HUB_TIME)
        if value and value.isdigit():
            self.clock_offset_ms = int(value) - now_ms()
            return int(value)
        return None

    def enroll(self, *, token: str, name: str, identity: Identity) -> dict[str, Any]:
        """Present a one-time token and prove possession of the new keys."""
        claim = {"token": token, "name": name, **identity.public().to_json()}
        proof = sign_document(claim, identity.sign_key)["signature"]
        body = {**claim, "proof": proof}
        response = self._send(lambda: self._http.build_request("POST", ENROLL_PATH, json=body))
        data = response.json()
        self.identity, self.point_id = identity, uuid.UUID(data["point_id"])
        return data

    def push(self, envelopes: list[bytes]) -> list[PushResult]:
        """One result per envelope; the signed audit head the answer carries goes to ``hub_audit_head``."""
        body = encode_frames(envelopes)
        response = self._send(lambda: self._http.build_request(
            "POST", PUSH_PATH, content=body, headers={"Content-Type": CONTENT_TYPE}))
        answer = response.json()
        head = answer.get("audit_head")
        if isinstance(head, dict):
            self.hub_audit_head = head
        return [PushResult(**item) for item in answer["results"]]

    def pull(self, after: int, *, sealed: int | None = None) -> PullResult:
        """Messages after ``after``; ``sealed``: how many envelopes this point has sealed so far (signed, like the
        rest of the request: the hub bounds later cases' intake times by it)."""
        params = {"after": str(after), **({"sealed": str(sealed)} if sealed is not None else {})}
        return self._pull_result(self._send(self._signed("GET", PULL_PATH, params=params)), after)

    def _pull_result(self, response: httpx.Response, after: int) -> PullResult:
        hub_time = self._note_hub_time(response)
        cursor = int(response.headers.get(HEADER_CURSOR, after))
        if response.headers.get(HEADER_CATALOG_VERSION, "").isdigit():
            self.hub_catalog_version = int(response.headers[HEADER_CATALOG_VERSION])
        if HEADER_CALENDAR in response.headers:
            self.hub_calendar = parse_held_years(response.headers[HEADER_CALENDAR])
        last_seq = response.headers.get(HEADER_LAST_SEQ, "")
        self.hub_last_seq = int(last_seq) if last_seq.isdigit() and len(last_seq) <= 18 else None
        self.hub_last_receipt = receipt_number(response.headers.get(HEADER_LAST_RECEIPT)) or None
        if response.status_code == 204 or not response.content:
            return PullResult([], cursor, hub_time)
        try:
            envelopes = decode_frames(response.content)
        except EnvelopeError as exc:
            raise HubRefused(response.status_code, exc.reason, f"hub sent a bad pull body: {exc}") from None
        return PullResult(envelopes, cursor, hub_time)

    def catalog(self, have: int | None = None) -> dict[str, Any] | None:
        """The hub-signed catalog for a point holding version ``have`` (verify it with the pinned hub key):
        a delta from ``have`` or the whole document (see sync/catalog.py), or None when ``have`` is current."""
        params = {"have": str(have), "delta": "1"} if have else None
        response = self._send(self._signed("GET", CATALOG_PATH, params=params))
        return None if response.status_code == 204 else response.json()

    def catalog_download(self, have: int | None, partial: PartialDownload, *,
                         progress: Progress | None = None) -> dict[str, Any] | None:
        """Like ``catalog``, compressed and resumable: the answer's bytes go into ``partial`` as they arrive, and
        a request after a cut (this one's retries, or a later round's) asks only for the rest. None when ``have``
        is current; the signed answer once it is whole (DownloadError: start again)."""
        return self._download(CATALOG_PATH, {"pack": "1", **({"have": str(have), "delta": "1"} if have else {})},
                              partial, progress)

    def calendar_download(self, have: dict[int, int], partial: PartialDownload, *,
                          progress: Progress | None = None) -> list[dict[str, Any]]:
        """The signed calendar years the hub holds beyond ``have`` (year -> version), packed and resumable like
        ``catalog_download``; [] when there are none."""
        answer = self._download(CALENDAR_PATH, {"have": format_held_years(have)} if have else None, partial,
                                progress)
        years = (answer or {}).get("years")
        return [year for year in years if isinstance(year, dict)] if isinstance(years, list) else []

    def _download(self, path: str, params: dict[str, str] | None, partial: PartialDownload,
                  progress: Progress | None) -> dict[str, Any] | None:
        """A signed GET of a packed JSON answer into ``partial``, resumed from what it holds; None for 204."""
        signed = self._signed("GET", path, params=params)

        def build() -> httpx.Request:
            request = signed()
            request.headers.update(partial.resume_headers())
            return request

        response = self._send(build, consume=lambda answer: receive_body(answer, partial, progress))
        if response.status_code == 204:
            partial.discard()
            return None
        body = partial.complete()
        partial.discard()
        if response.headers.get("Content-Type", "").split(";")[0] == PACKED_CONTENT_TYPE:
            return unpack_json(body)
        return json.loads(body)  # a hub from before packed answers sends the JSON itself

    def relay_villages(self) -> dict[str, Any]:
        """A township's villages and their signing keys: a hub-signed document (verify it)."""
        return self._send(self._signed("GET", RELAY_VILLAGES_PATH)).json()

    def relay_pull(self, village_id: str, after: int, delivered: int = 0) -> PullResult:
        """A village's messages after ``after``, for its relay to hold; ``delivered``: what the village confirmed."""
        params = {"village": village_id, "after": str(after), "delivered": str(delivered)}
        return self._pull_result(self._send(self._signed("GET", RELAY_PULL_PATH, params=params)), after)

    def precheck_file(self, precheck_id: str, file_id: str) -> bytes:
        """One sealed file of a pre-check this point holds (decrypt it with the key its PRECHECK carried). A file
        of another point's pre-check, or of an expired one, raises HubRefused ``not_found`` (404)."""
        path = PRECHECK_FILE_PATH.format(precheck_id=precheck_id, file_id=file_id)
        return self._send(self._signed("GET", path)).content

    def project_lookup(self, project_no: str, code: str) -> dict[str, Any]:
        """Where an investment project stands (the hub owns projects), for the enterprise at the window or kiosk.
        A wrong code or unknown number raises HubRefused ``wrong_code`` (403), a locked lookup ``locked`` (429)."""
        body = json.dumps({"project_no": project_no, "code": code}).encode()
        return self._send(self._signed("POST", PROJECT_LOOKUP_PATH, body=body,
                                       content_type="application/json")).json()

    def certificate_lookup(self, holder_id: str, types: list[str]) -> list[dict[str, Any]]:
        """A resident's valid e-certificates of ``types`` from the hub's register (that holder's only), for the
        clerk at intake with the resident present: signed records with their QR text."""
        body = json.dumps({"holder_id": holder_id, "types": types}).encode()
        answer = self._send(self._signed("POST", CERTIFICATE_LOOKUP_PATH, body=body,
                                         content_type="application/json")).json()
        return list(answer.get("certificates") or [])
