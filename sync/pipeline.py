"""HTTP/1.1 pipelining on one connection: requests written back to back, answers read in order.

httpx (like most clients) waits for each answer before it sends the next
request, so a chunked upload over a 600 ms round trip idles for a round trip
per chunk. The hub's server (waitress) answers pipelined requests in order,
so the scan uploader writes chunk after chunk and reads the answers as they
come back. This holds only what that needs: requests built by httpx (signed
as usual) with a Content-Length body, answers with a Content-Length.
"""

from __future__ import annotations

import os
import select
import socket
import ssl
import struct
from collections import deque
from dataclasses import dataclass

import httpx

MAX_HEAD = 64 * 1024
MAX_ANSWER_BODY = 1024 * 1024
# httpx's defaults the hub never reads (they would cost ~100 bytes a chunk on a slow link), and the framing
# headers written here.
SKIPPED_HEADERS = ("content-length", "transfer-encoding", "connection", "accept", "accept-encoding", "user-agent")
# SO_LINGER on, zero seconds: close() resets the connection and discards unsent bytes (struct linger is two
# u_shorts on Windows, two ints elsewhere).
LINGER_ABORT = struct.pack("HH" if os.name == "nt" else "ii", 1, 0)


class PipelineError(ConnectionError):
    """The connection broke or the server answered something this reader does not understand."""


@dataclass
class Answer:
    """One answer: its status, headers (names in lower case) and body."""

    status: int
    headers: dict[str, str]
    body: bytes


class Pipeline:
    """One connection to ``base_url``; ``send`` does not wait, ``read`` returns the oldest unread answer."""

    def __init__(self, base_url: str, *, timeout: float):
        url = httpx.URL(base_url)
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            sock = socket.create_connection((url.host, port), timeout=timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if url.scheme == "https":
                sock = ssl.create_default_context().wrap_socket(sock, server_hostname=url.host)
        except OSError as exc:
            raise PipelineError(f"cannot connect to {base_url}: {exc}") from exc
        self._sock = sock
        self._buffer = b""
        self._methods: deque[str] = deque()

    def __repr__(self) -> str:
        return f"Pipeline(unanswered={len(self._methods)})"

    def __enter__(self) -> "Pipeline":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close; with requests still unanswered, abort instead (a reset): whatever of them has not left
        this machine is dropped rather than sent after the caller gave up on them (after a cut or a 409)."""
        if self._methods:
            try:
                self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_ABORT)
            except OSError:
                pass  # the connection is already gone
        self._sock.close()

    def send(self, request: httpx.Request) -> None:
        body = request.read()
        lines = [f"{request.method} {request.url.raw_path.decode('ascii')} HTTP/1.1"]
        for name, value in request.headers.items():
            if name.lower() not in SKIPPED_HEADERS:
                lines.append(f"{name}: {value}")
        lines.append(f"Content-Length: {len(body)}")
        try:
            self._sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        except OSError as exc:
            raise PipelineError(f"the connection broke while sending: {exc}") from exc
        self._methods.append(request.method)

    def readable(self, timeout: float) -> bool:
        """Whether an answer (or the end of the connection) is there to read within ``timeout`` seconds."""
        if self._buffer or (isinstance(self._sock, ssl.SSLSocket) and self._sock.pending()):
            return True
        try:
            readable, _, _ = select.select([self._sock], [], [], max(timeout, 0.0))
        except (OSError, ValueError) as exc:
            raise PipelineError(f"the connection broke: {exc}") from exc
        return bool(readable)

    def idle(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds with nothing in flight; PipelineError when the connection ends meanwhile."""
        if self.readable(timeout):
            self._fill()
            raise PipelineError("the server sent an answer to nothing")

    def _fill(self) -> None:
        try:
            data = self._sock.recv(65536)
        except OSError as exc:
            raise PipelineError(f"the connection broke while reading: {exc}") from exc
        if not data:
            raise PipelineError("the server closed the connection")
        self._buffer += data

    def read(self) -> Answer:
        if not self._methods:
            raise PipelineError("no request is waiting for an answer")
        while b"\r\n\r\n" not in self._buffer:
            if len(self._buffer) > MAX_HEAD:
                raise PipelineError("the answer's head is too long")
            self._fill()
        head, self._buffer = self._buffer.split(b"\r\n\r\n", 1)
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        try:
            status = int(status_line.split(" ", 2)[1])
            headers = {name.strip().lower(): value.strip()
                       for name, _, value in (line.partition(":") for line in header_lines)}
            length = 0 if self._methods.popleft() == "HEAD" else int(headers.get("content-length", "0"))
        except (IndexError, ValueError):
            raise PipelineError(f"cannot read the answer {status_line[:80]!r}") from None
        if length > MAX_ANSWER_BODY:
            raise PipelineError("the answer's body is too long")
        while len(self._buffer) < length:
            self._fill()
        body, self._buffer = self._buffer[:length], self._buffer[length:]
        return Answer(status, headers, body)
