"""The OpenAPI documents of both servers, built from the routes themselves.

A hand-kept list of operations drifts from the routes it describes (a path
parameter left out, a status never listed). Here each JSON route carries its
declaration, ``@documented(...)`` under its ``@bp.get``/``@bp.post``: a
summary, the pydantic models of its body and its answer, and every error
status with the reasons it can carry. ``openapi_document(app, ...)`` walks
the app's URL map, so paths, methods and path parameters come from the
routes, and a route under a documented prefix that has no declaration is
refused (``UndeclaredRoutes``) instead of missing from the document unseen.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

if TYPE_CHECKING:
    from flask import Flask

__all__ = ["Content", "Declaration", "UndeclaredRoutes", "documented", "openapi_document", "reasons_by_status"]

# The error shape of both APIs (sync.web.api_error); some refusals add what the caller needs to go on.
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error", "reason"],
    "properties": {
        "error": {"type": "string", "description": "What went wrong and what to do next, in plain English"},
        "reason": {"type": "string", "description": "A stable code for programs"},
        "fields": {"type": "object", "additionalProperties": {"type": "string"},
                   "description": "Field path -> what is wrong with it"},
        "limit": {"type": "integer", "description": "The limit a refusal for too many of something names"},
    },
}
# How a JSON body can be refused before the route reads it (sync.web.json_object_body, parse_json_body).
JSON_BODY_ERRORS: dict[int, tuple[str, ...]] = {
    400: ("invalid_json", "too_deep"), 413: ("too_large",), 422: ("invalid_input",)}
# A bearer-token route without a valid token (hub/auth.py:api_auth, pointkit/auth.py:token_required).
AUTH_ERRORS: dict[int, tuple[str, ...]] = {401: ("unauthorized",)}
# Werkzeug's converters (<int:n>, <uuid:id>) as schemas; a plain <name> matches one non-empty path segment.
_CONVERTER_SCHEMAS: dict[str, dict[str, Any]] = {
    "default": {"type": "string", "pattern": "^[^/]+$"},
    "string": {"type": "string", "pattern": "^[^/]+$"},
    "path": {"type": "string", "minLength": 1},
    "int": {"type": "integer", "minimum": 0},
    "uuid": {"type": "string", "format": "uuid"},
}
_RULE_ARGUMENT = re.compile(r"<(?:(?P<converter>[a-zA-Z_]\w*)(?:\((?P<args>.*?)\))?:)?(?P<name>[a-zA-Z_]\w*)>")
_IMPLICIT_METHODS = {"HEAD", "OPTIONS"}


@dataclass(frozen=True)
class Content:
    """An answer that is not JSON (CSV, a scan's bytes): its media types and what it holds."""

    media_types: tuple[str, ...]
    description: str
    schema: Mapping[str, Any] = field(default_factory=lambda: {"type": "string"})


@dataclass(frozen=True, kw_only=True)
class Declaration:
    """What one route takes and answers; ``openapi_document`` adds the path and its parameters."""

    summary: str
    answer: type[BaseModel] | Content | Mapping[str, Any] | None
    status: int = 200
    body: type[BaseModel] | None = None
    other_bodies: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    errors: Mapping[int, Iterable[str]] = field(default_factory=dict)
    query: tuple[Mapping[str, Any], ...] = ()
    auth: bool = True
    description: str = ""

    def error_reasons(self) -> dict[int, tuple[str, ...]]:
        """Every error status this route can answer, with its reasons: the declared ones, plus a bad
        token's 401 and a refused JSON body's 400/413/422."""
        merged: dict[int, list[str]] = {}
        implied = [AUTH_ERRORS] if self.auth else []
        if self.body is not None:
            implied.append(JSON_BODY_ERRORS)
        for source in [*implied, self.errors]:
            for status, reasons in source.items():
                bucket = merged.setdefault(status, [])
                bucket.extend(reason for reason in reasons if reason not in bucket)
        return {status: tuple(merged[status]) for status in sorted(merged)}


def documented(summary: str, *, answer: type[BaseModel] | Content | Mapping[str, Any] | None, status: int = 200,
               body: type[BaseModel] | None = None, other_bodies: Mapping[str, Mapping[str, Any]] | None = None,
               errors: Mapping[int, Iterable[str]] | None = None, query: Iterable[Mapping[str, Any]] = (),
               auth: bool = True, description: str = "") -> Callable[[Callable], Callable]:
    """Declare a route for the OpenAPI document; put it right under the route decorator.

    ``answer``: the success body (a pydantic model, a ``Content`` for bytes, a JSON schema, or None for
    none) at ``status``; ``body``: the JSON request model; ``other_bodies``: media type -> OpenAPI media
    object for other request encodings (multipart); ``errors``: status -> the ``reason`` codes of its
    error bodies; ``query``: OpenAPI query parameters; ``auth``: needs a bearer token.
    """
    declaration = Declaration(summary=summary, answer=answer, status=status, body=body,
                              other_bodies=dict(other_bodies or {}), errors=dict(errors or {}), query=tuple(query),
                              auth=auth, description=description)

    def attach(view: Callable) -> Callable:
        view.openapi_declaration = declaration  # type: ignore[attr-defined]
        return view

    return attach


def reasons_by_status(status_of_reason: Mapping[str, int]) -> dict[int, tuple[str, ...]]:
    """Turn a route's reason -> status table into the status -> reasons that ``errors=`` takes."""
    grouped: dict[int, list[str]] = {}
    for reason, status in status_of_reason.items():
        grouped.setdefault(status, []).append(reason)
    return {status: tuple(reasons) for status, reasons in grouped.items()}


class UndeclaredRoutes(LookupError):
    """Routes under a documented prefix without ``@documented``: the document would silently omit them."""

    def __init__(self, routes: list[str]):
        super().__init__("routes without @documented (sync/openapi.py): " + ", ".join(routes))
        self.routes = routes


def openapi_document(app: Flask, *, title: str, version: str, description: str,
                     prefixes: Iterable[str] = ("/api/",)) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every declared route of ``app``.

    Raises UndeclaredRoutes when a route whose path starts with one of ``prefixes`` has no declaration.
    """
    prefixes = tuple(prefixes)
    declared: list[tuple[str, str, Declaration, list[dict[str, Any]]]] = []
    missing: list[str] = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda rule: rule.rule):
        declaration = getattr(app.view_functions[rule.endpoint], "openapi_declaration", None)
        methods = sorted((rule.methods or set()) - _IMPLICIT_METHODS)
        if declaration is None:
            if rule.rule.startswith(prefixes):
                missing.extend(f"{method} {rule.rule}" for method in methods)
            continue
        path, parameters = _openapi_path(rule.rule)
        declared.extend((path, method, declaration, parameters) for method in methods)
    if missing:
        raise UndeclaredRoutes(missing)

    models = _collect_models(declaration for _path, _method, declaration, _parameters in declared)
    refs, definitions = models_json_schema(list(models), ref_template="#/components/schemas/{model}")
    paths: dict[str, Any] = {}
    for path, method, declaration, parameters in declared:
        paths.setdefault(path, {})[method.lower()] = _operation(method, path, declaration, parameters, refs)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version, "description": description},
        "paths": paths,
        "components": {"schemas": {"Error": ERROR_SCHEMA, **definitions.get("$defs", {})},
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }


def _openapi_path(rule: str) -> tuple[str, list[dict[str, Any]]]:
    """``/api/cases/<case_id>`` -> ``/api/cases/{case_id}`` and its path parameters, from the rule itself."""
    parameters = []
    for match in _RULE_ARGUMENT.finditer(rule):
        converter = match["converter"] or "default"
        if converter not in _CONVERTER_SCHEMAS:
            raise ValueError(f"no OpenAPI schema for the URL converter {converter!r} in {rule}")
        parameters.append({"name": match["name"], "in": "path", "required": True,
                           "schema": dict(_CONVERTER_SCHEMAS[converter])})
    return _RULE_ARGUMENT.sub(lambda match: "{" + match["name"] + "}", rule), parameters


def _collect_models(declarations: Iterable[Declaration]) -> dict[tuple[type[BaseModel], str], None]:
    """Every model the declarations name, as (model, mode) in first-seen order, for one shared $defs."""
    models: dict[tuple[type[BaseModel], str], None] = {}
    for declaration in declarations:
        if declaration.body is not None:
            models[(declaration.body, "validation")] = None
        if isinstance(declaration.answer, type) and issubclass(declaration.answer, BaseModel):
            models[(declaration.answer, "serialization")] = None
    return models


def _operation(method: str, path: str, declaration: Declaration, parameters: list[dict[str, Any]],
               refs: Mapping[tuple[type[BaseModel], str], Any]) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": declaration.summary,
        "operationId": f"{method} {path}",
        "responses": {str(declaration.status): _success(declaration, refs)},
    }
    if declaration.description:
        operation["description"] = declaration.description
    for status, reasons in declaration.error_reasons().items():
        operation["responses"][str(status)] = {
            "description": "Refused: " + ", ".join(reasons),
            "content": {"application/json": {"schema": {
                "allOf": [{"$ref": "#/components/schemas/Error"}],
                "properties": {"reason": {"enum": list(reasons)}}}}}}
    if parameters or declaration.query:
        operation["parameters"] = [*parameters, *(dict(parameter) for parameter in declaration.query)]
    content: dict[str, Any] = {}
    if declaration.body is not None:
        content["application/json"] = {"schema": refs[(declaration.body, "validation")]}
    content.update({media_type: dict(media) for media_type, media in declaration.other_bodies.items()})
    if content:
        operation["requestBody"] = {"required": True, "content": content}
    if declaration.auth:
        operation["security"] = [{"bearer": []}]
    return operation


def _success(declaration: Declaration, refs: Mapping[tuple[type[BaseModel], str], Any]) -> dict[str, Any]:
    answer = declaration.answer
    if answer is None:
        return {"description": "Done; no body"}
    if isinstance(answer, Content):
        return {"description": answer.description,
                "content": {media_type: {"schema": dict(answer.schema)} for media_type in answer.media_types}}
    schema = refs[(answer, "serialization")] if isinstance(answer, type) else dict(answer)
    return {"description": "OK", "content": {"application/json": {"schema": schema}}}
