"""Web conventions both servers share, so pages and APIs behave alike on both sides.

The JSON error shape, JSON bodies, signed requests and the waitress runner. The page language is in
sync/kit/i18n.py, logins and CSRF in sync/kit/webauth.py, the OpenAPI documents in sync/kit/openapi.py.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, jsonify, request
from pydantic import BaseModel, ValidationError
from waitress.task import ErrorTask
from werkzeug.exceptions import HTTPException

from sync.framing import CONTENT_TYPE, encode_frames
from sync.http import HEADER_CURSOR, HEADER_LAST_RECEIPT, HEADER_LAST_SEQ
from sync.jsonlimits import JSONRefused, load_json
from sync.kit.headers import REFUSAL_HEADERS
from sync.kit.slowclients import ClientLimits, GuardedChannel, create_guarded_server
from sync.signing import SignedRequest, verify_request_any
from sync.uploads import (
    HEADER_CHUNK_SHA256,
    HEADER_OFFSET,
    HEADER_REASON,
    HEADER_SCAN_GRANT,
    HEADER_SCAN_STATUS,
    HEADER_TOTAL,
)

MAX_FORM_BYTES = 1024 * 1024
# The largest JSON request body either server reads; the largest real one, a case at the window, is a few KB.
MAX_JSON_BODY = 1024 * 1024




def verify_signed_request(keys: Iterable[Any], *, now: int | None = None) -> SignedRequest:
    """Verify the current Flask request's signature with any of ``keys``; raises SignatureError."""
    return verify_request_any(keys=keys, method=request.method, path=request.path,
                              query=request.query_string.decode("latin-1"), body=request.get_data(cache=True),
                              headers=request.headers, now=now)


def pull_answer(messages: Sequence[Any], after: int, *, last_seq: int = 0, last_receipt: str = "") -> Response:
    """A pull's answer: the messages (``.envelope``, ``.seq``) as frames with the new cursor, or 204.

    ``last_seq`` and ``last_receipt``: the highest envelope sequence number and receipt number the hub holds
    from the pulling point, named when known (a point restored from an old backup numbers on from them).
    """
    headers = {HEADER_CURSOR: str(messages[-1].seq if messages else after)}
    if last_seq:
        headers[HEADER_LAST_SEQ] = str(last_seq)
    if last_receipt and last_receipt.isascii() and last_receipt.isprintable():
        headers[HEADER_LAST_RECEIPT] = last_receipt
    if not messages:
        nothing = Response(status=204, headers=headers)
        del nothing.headers["Content-Type"]  # no body to type: an idle point's poll is a few hundred bytes
        return nothing
    return Response(encode_frames(message.envelope for message in messages), status=200,
                    content_type=CONTENT_TYPE, headers=headers)


@dataclass(frozen=True)
class ChunkRequest:
    """One PATCH of a resumable scan upload (sync/uploads.py), as the hub and a relaying township read it."""

    offset: int
    total: int | None
    chunk: bytes
    chunk_sha256: str
    grant: str


def read_chunk_request(max_bytes: int) -> ChunkRequest | tuple[Response, int]:
    """The current request's chunk, offset and declared total, or the error answer for a malformed one."""
    if request.content_length is not None and request.content_length > max_bytes:
        return api_error(413, "too_large", f"chunks are limited to {max_bytes} bytes; send smaller ones")
    raw_offset, raw_total = request.args.get("offset", ""), request.headers.get(HEADER_TOTAL)
    if not raw_offset.isdigit() or len(raw_offset) > 15:
        return api_error(400, "bad_offset", "'offset' must be a non-negative integer")
    if raw_total is not None and (not raw_total.isdigit() or len(raw_total) > 15):
        return api_error(400, "bad_total", f"{HEADER_TOTAL} must be a non-negative integer")
    if int(raw_offset) == 0 and raw_total is None:
        return api_error(400, "bad_total", f"the first chunk must declare {HEADER_TOTAL}")
    return ChunkRequest(int(raw_offset), int(raw_total) if raw_total is not None else None,
                        request.get_data(cache=True), request.headers.get(HEADER_CHUNK_SHA256, ""),
                        request.headers.get(HEADER_SCAN_GRANT, ""))


def scan_answer(scan_id: str, offset: int, total: int, status: str) -> Response:
    """What a scan upload endpoint answers: the offset held, in headers (HEAD) and as JSON."""
    headers = {HEADER_OFFSET: str(offset), HEADER_TOTAL: str(total), HEADER_SCAN_STATUS: status,
               "Cache-Control": "no-store"}
    if request.method == "HEAD":
        return Response(status=200, headers=headers)
    return Response(json.dumps({"scan_id": scan_id, "offset": offset, "total": total, "status": status}),
                    status=200, headers=headers, content_type="application/json")


def scan_refusal(status: int, reason: str, message: str, *, offset: int | None = None,
                 scan_status: str = "") -> tuple[Response, int]:
    """The error shape, plus the offset really held when the point sent another one."""
    body: dict[str, Any] = {"error": message, "reason": reason}
    if offset is not None:
        body["offset"] = offset
    answer = jsonify(body)
    # A HEAD answer has no body: the reason and the real offset travel in headers too.
    answer.headers[HEADER_REASON] = reason
    if offset is not None:
        answer.headers[HEADER_OFFSET] = str(offset)
    if scan_status:
        answer.headers[HEADER_SCAN_STATUS] = scan_status
    return answer, status


def api_error(status: int, reason: str, message: str, fields: dict[str, str] | None = None) -> tuple[Response, int]:
    """The one JSON error shape of both APIs: ``{error, reason, fields?}``."""
    body: dict[str, Any] = {"error": message, "reason": reason}
    if fields:
        body["fields"] = fields
    return jsonify(body), status


def error_headers(error: HTTPException) -> list[tuple[str, str]]:
    """What an HTTP error says about itself beyond its body, e.g. the Allow header of a 405."""
    return [(name, value) for name, value in error.get_headers()
            if name.lower() not in ("content-type", "content-length")]


def http_api_error(error: HTTPException, reason: str, message: str) -> tuple[Response, int]:
    """``api_error`` for an HTTP error Werkzeug raised (404, 405, 413, …), with its own headers kept."""
    response, status = api_error(error.code or 500, reason, message)
    for name, value in error_headers(error):
        response.headers[name] = value
    return response, status


def validation_fields(error: ValidationError) -> dict[str, str]:
    """Field path -> message for a pydantic ValidationError, for forms and API answers."""
    fields: dict[str, str] = {}
    for item in error.errors():
        path = ".".join(str(part) for part in item["loc"]) or "body"
        fields.setdefault(path, item["msg"])
    return fields


def json_object_body() -> dict[str, Any] | tuple[Response, int]:
    """The request's body as a JSON object, or the error answer to send: 413 when it is over
    MAX_JSON_BODY, 400 when it is not a JSON object, nested too deep or holds text no database can store."""
    if request.content_length is not None and request.content_length > MAX_JSON_BODY:
        return api_error(413, "too_large", f"JSON bodies are limited to {MAX_JSON_BODY} bytes; send less")
    if not request.is_json:
        return api_error(400, "invalid_json", "request body must be a JSON object (Content-Type: application/json)")
    try:
        data = load_json(request.get_data(cache=True), max_bytes=MAX_JSON_BODY)
    except JSONRefused as exc:
        status = 413 if exc.reason == "too_large" else 400
        reason = "invalid_json" if exc.reason == "malformed" else exc.reason
        return api_error(status, reason, f"request body refused: {exc}; send a plain JSON object")
    if not isinstance(data, dict):
        return api_error(400, "invalid_json", "request body must be a JSON object")
    return data


def parse_json_body(model: type[BaseModel]) -> BaseModel | tuple[Response, int]:
    """Validate the request's JSON body; on failure return the api_error response to send."""
    data = json_object_body()
    if not isinstance(data, dict):
        return data
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        return api_error(422, "invalid_input", "some fields are missing or invalid", validation_fields(exc))


MAX_REQUEST_BYTES = 16 * 1024 * 1024


def serve(app: Flask, host: str, port: int, *, threads: int = 8, max_request_bytes: int = MAX_REQUEST_BYTES,
          on_start: Callable[[], None] | None = None, trusted_proxy: str | None = None,
          limits: ClientLimits = ClientLimits()) -> None:
    """Serve with waitress (pure Python, runs on Windows point laptops too).

    A request whose declared body is over ``max_request_bytes`` is answered
    413 as soon as its headers arrive, before any of the body is read; that
    refusal happens before the app sees it, so it is logged here.

    ``trusted_proxy``: the address of the load balancer in front. Its X-Forwarded-For and -Proto then give
    the client's address and scheme; from any other peer, and when it is None, those headers are dropped,
    so no client can pose as another address. It is also the one address exempt from the share of
    connections each client address gets.

    ``limits``: how long a request's head and body may take and how many connections one address may hold
    (sync/kit/slowclients.py), so that slow sockets from one address cannot take the server off the air.
    """
    class LoggedErrorTask(ErrorTask):
        def execute(self) -> None:
            logging.getLogger("pointkit.http").warning(
                "refused %s %s before reading it: %s", self.request.command, self.request.path,
                type(self.request.error).__name__)
            # The app's headers are not set on an answer it never saw: the same rules, from here.
            self.response_headers.extend(REFUSAL_HEADERS)
            super().execute()

    class Channel(GuardedChannel):
        error_task_class = LoggedErrorTask

    proxy = {"trusted_proxy": trusted_proxy, "trusted_proxy_count": 1,
             "trusted_proxy_headers": {"x-forwarded-for", "x-forwarded-proto"}} if trusted_proxy else {}
    server = create_guarded_server(app, host, port, limits=limits, channel_class=Channel, threads=threads,
                                   max_request_body_size=max_request_bytes, clear_untrusted_proxy_headers=True,
                                   **proxy)
    if on_start:
        on_start()
    server.run()
