"""Resumable downloads of a body that is fetched whole and checked whole (the catalog, the holiday calendar).

A village link may cut every few seconds: a download that starts from zero
after every cut never finishes. The server names the body by its SHA-256 (a
strong ETag) and answers ``Range: bytes=N-`` with the rest of it (206) as long
as ``If-Range`` names the same body; for another body it sends the whole (200),
as HTTP says. The client keeps what arrived in a file beside its data, so a cut
costs only the bytes in flight, and checks the SHA-256 of the whole before any
of it is used. Uploads of scans resume the same way in the other direction
(sync/uploads.py).

What travels this way is packed JSON: zlib of its canonical form (the 98 KB
sample catalog is about 14 KB packed), the same bytes for the same answer
(canonical JSON, deterministic Ed25519 signatures), so a resumed download
continues the very body it began.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from flask import Request, Response

from sync.canonical import canonical_json

PACKED_CONTENT_TYPE = "application/vnd.pointkit.packed-json"
# Bodies this kind of download may carry; a server announcing more is refused before anything is kept.
MAX_DOWNLOAD_BYTES = 8 * 1024 * 1024
# The most JSON a packed body may inflate to (the 37-item sample catalog is about 100 KB).
MAX_PACKED_JSON_BYTES = 16 * 1024 * 1024

Progress = Callable[[int, int], None]


class DownloadError(ValueError):
    """What arrived is not the body the server named (a changed byte, a wrong range, packed JSON that does not
    unpack): it was discarded."""


def pack_json(value: Any) -> bytes:
    """``value`` as it travels: zlib of its canonical JSON (the same bytes for the same value)."""
    return zlib.compress(canonical_json(value), 9)


def unpack_json(packed: bytes) -> dict[str, Any]:
    """The JSON object ``pack_json`` made (a signature inside it is still to be checked)."""
    inflater = zlib.decompressobj()
    try:
        data = inflater.decompress(packed, MAX_PACKED_JSON_BYTES + 1)
    except zlib.error as exc:
        raise DownloadError(f"the packed body does not inflate ({exc})") from None
    if len(data) > MAX_PACKED_JSON_BYTES or inflater.unconsumed_tail or not inflater.eof:
        raise DownloadError(f"the packed body is truncated or inflates past {MAX_PACKED_JSON_BYTES} bytes")
    try:
        value = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise DownloadError(f"the packed body is not JSON ({type(exc).__name__})") from None
    if not isinstance(value, dict):
        raise DownloadError("the packed body is not a JSON object")
    return value


def body_etag(body: bytes) -> str:
    """The strong ETag of ``body`` (its SHA-256, hex), without quotes."""
    return hashlib.sha256(body).hexdigest()


def ranged_response(request: Request, body: bytes, content_type: str,
                    headers: dict[str, str] | None = None) -> Response:
    """``body`` with its ETag, answering ``Range: bytes=N-`` (with a matching ``If-Range``) by the rest."""
    response = Response(body, content_type=content_type, headers=headers or {})
    response.set_etag(body_etag(body))
    response.headers["Cache-Control"] = "no-store"
    return response.make_conditional(request, accept_ranges=True, complete_length=len(body))


class PartialDownload:
    """The bytes of one download received so far, in ``path``, with the ETag and size they belong to in
    ``path`` + ``.json``. Written as they arrive; a torn write shows up in the final hash check."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._meta_path = self.path.with_name(self.path.name + ".json")
        meta = self._read_meta()
        self.etag: str = meta.get("etag", "") if isinstance(meta.get("etag"), str) else ""
        self.total: int = meta.get("total", 0) if isinstance(meta.get("total"), int) else 0
        self.offset: int = self.path.stat().st_size if self.etag and self.path.exists() else 0
        if self.offset > self.total:
            self.discard()

    def __repr__(self) -> str:
        return f"PartialDownload({str(self.path)!r}, offset={self.offset}, total={self.total})"

    def _read_meta(self) -> dict:
        try:
            meta = json.loads(self._meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return meta if isinstance(meta, dict) else {}

    def resume_headers(self) -> dict[str, str]:
        """What asks the server for the rest of this body (nothing when there is nothing to resume)."""
        if not self.etag or not self.offset:
            return {}
        return {"Range": f"bytes={self.offset}-", "If-Range": f'"{self.etag}"'}

    def restart(self, etag: str, total: int) -> None:
        """A whole body begins: forget what was kept of any other."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_bytes(b"")
        self._meta_path.write_text(json.dumps({"etag": etag, "total": total}), encoding="utf-8")
        self.etag, self.total, self.offset = etag, total, 0

    def append(self, data: bytes) -> None:
        with self.path.open("ab") as file:
            file.write(data)
        self.offset += len(data)

    def complete(self) -> bytes:
        """The whole body, checked against its ETag; DownloadError (and nothing kept) if it is not that body."""
        body = self.path.read_bytes()
        if len(body) != self.total or (self.etag and body_etag(body) != self.etag):
            self.discard()
            raise DownloadError("the downloaded bytes are not the body the server named (kept bytes discarded; "
                                "the next try starts again)")
        return body

    def discard(self) -> None:
        for path in (self.path, self._meta_path):
            path.unlink(missing_ok=True)
        self.etag, self.total, self.offset = "", 0, 0


def receive_body(response: httpx.Response, partial: PartialDownload, progress: Progress | None = None) -> None:
    """Read a 200 or 206 answer into ``partial`` as it arrives (a cut keeps what came before it)."""
    etag = response.headers.get("ETag", "").strip('"')
    if response.status_code == 206:
        start, _, total = _content_range(response.headers.get("Content-Range", ""))
        if etag != partial.etag or start != partial.offset or total != partial.total:
            partial.discard()
            raise DownloadError("the server resumed another body or from another offset (kept bytes discarded)")
    else:
        length = response.headers.get("Content-Length", "")
        if not length.isdigit():
            raise DownloadError("the server did not say how long the body is")
        partial.restart(etag, int(length))
    if partial.total > MAX_DOWNLOAD_BYTES:
        partial.discard()
        raise DownloadError(f"the server announced {partial.total} bytes; at most {MAX_DOWNLOAD_BYTES} are taken")
    for data in response.iter_raw():
        if partial.offset + len(data) > partial.total:
            partial.discard()
            raise DownloadError("the server sent more bytes than it announced (kept bytes discarded)")
        partial.append(data)
        if progress is not None:
            progress(partial.offset, partial.total)


def _content_range(value: str) -> tuple[int, int, int]:
    """``bytes START-END/TOTAL`` as three integers (-1 each when it does not read so)."""
    unit, _, spec = value.partition(" ")
    span, _, total = spec.partition("/")
    start, _, end = span.partition("-")
    if unit != "bytes" or not (start.isdigit() and end.isdigit() and total.isdigit()):
        return -1, -1, -1
    return int(start), int(end), int(total)

