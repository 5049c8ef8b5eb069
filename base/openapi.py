"""The OpenAPI 3.1 description of ``/api/v1``, built from the routes the application registered.

``document(app)`` walks ``app.router``: for each route under ``/api/v1`` it reads the
``Operation`` its handler filed with ``base.api_spec.operation`` (the same body, query and path
specs the handler validates with) and writes it out. Every error answer is described once, as
the JSON error shape ``base.http.error_middleware`` answers with, and referenced. A route whose
handler filed nothing is left out (``undescribed`` lists them; a test fails on any).
``GET /api/v1/openapi.json`` (``serve``) is public: it says what the API accepts and answers,
which any client needs and which holds no data; every operation still needs its token.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from aiohttp import web

from base.api_spec import Operation, Reply, Schema, operation, operation_of
from base.http import json_response

PREFIX = "/api/v1"
DOCUMENT_PATH = f"{PREFIX}/openapi.json"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
PARAM = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")
DOCUMENT = web.AppKey("base.openapi_document", dict[str, Any])
ERROR_REF = {"$ref": "#/components/responses/Error"}
ERROR_SCHEMA: Schema = {
    "type": "object", "required": ["error"], "additionalProperties": False,
    "properties": {"error": {
        "type": "object", "required": ["code", "message"],
        "properties": {"code": {"type": "string", "description": "stable, machine-readable"},
                       "message": {"type": "string", "description": "for a person"},
                       "details": {"type": "object", "description": "what the error names"}}}},
}


def api_routes(app: web.Application) -> Iterator[tuple[str, str, web.AbstractRoute]]:
    """``(method, path template, route)`` of every route under ``/api/v1`` (HEAD left out:
    aiohttp adds one beside each GET)."""
    for route in app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if route.method in METHODS and (path == PREFIX or path.startswith(PREFIX + "/")):
            yield route.method, path, route


def undescribed(app: web.Application) -> list[str]:
    return sorted(f"{method} {path}" for method, path, route in api_routes(app)
                  if operation_of(route.handler) is None)


def document(app: web.Application, *, version: str = "1") -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for method, path, route in api_routes(app):
        found = operation_of(route.handler)
        if found is not None:
            paths.setdefault(path, {})[method.lower()] = _operation(method, path, found)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Expertline API", "version": version,
                 "description": "The JSON API of Expertline. Lists take ?limit= and ?offset=; "
                                "errors are {\"error\": {\"code\", \"message\"}}."},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "a token from `expertline token "
                                                          "create`"}},
            "schemas": {"Error": ERROR_SCHEMA},
            "responses": {"Error": {"description": "the request was refused or failed",
                                    "content": {"application/json": {
                                        "schema": {"$ref": "#/components/schemas/Error"}}}}},
        },
    }


def _operation(method: str, path: str, spec: Operation) -> dict[str, Any]:
    found: dict[str, Any] = {
        "operationId": f"{method.lower()}{re.sub(r'[^A-Za-z0-9]+', '_', path)}",
        "summary": spec.summary,
        "parameters": [*_path_parameters(path, spec), *_query_parameters(spec)],
        "responses": _responses(spec.reply),
    }
    doc = spec.doc
    if spec.roles:
        doc = f"{doc}\n\nRoles: {', '.join(spec.roles)}.".strip()
    if doc:
        found["description"] = doc
    if spec.public:
        found["security"] = []
    if spec.body is not None or spec.body_media:
        content = {} if spec.body is None else {"application/json": {
            "schema": spec.body.schema()}}
        content.update({k: {"schema": v} for k, v in spec.body_media.items()})
        found["requestBody"] = {"required": spec.body_required, "content": content}
    return found


def _path_parameters(path: str, spec: Operation) -> Iterator[dict[str, Any]]:
    for name in PARAM.findall(path):
        declared = spec.path.get(name)
        schema = {"type": "string"} if declared is None else declared.schema()
        yield {"name": name, "in": "path", "required": True, "schema": schema}


def _query_parameters(spec: Operation) -> Iterator[dict[str, Any]]:
    for query in spec.query:
        yield {"name": query.name, "in": "query", "required": query.required,
               "schema": query.schema()}


def _responses(reply: Reply) -> dict[str, Any]:
    content: dict[str, Any] = {}
    if reply.schema is not None:
        content["application/json"] = {"schema": reply.schema}
    content.update({k: {"schema": v} for k, v in reply.media.items()})
    ok: dict[str, Any] = {"description": "done"}
    if content:
        ok["content"] = content
    found: dict[str, Any] = {str(status): ok for status in (reply.status, *reply.also)}
    return {**found, "4XX": ERROR_REF, "5XX": ERROR_REF}


def setup(app: web.Application) -> None:
    """Serve the document at ``DOCUMENT_PATH`` (the composition root lets it through without a
    token)."""
    app[DOCUMENT] = {}
    app.router.add_get(DOCUMENT_PATH, serve)


@operation("This document: the OpenAPI description of /api/v1", public=True)
async def serve(request: web.Request) -> web.Response:
    """Built on the first request, once every route is registered, then kept."""
    kept = request.app[DOCUMENT]
    if not kept:
        kept.update(document(request.app))
    return json_response(kept)
