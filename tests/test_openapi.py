"""The OpenAPI description of /api/v1 (issue 18, item 5): generated from the specs the handlers
validate with, covering every route the app registers, public, with one error shape."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from aiohttp.test_utils import TestClient

from base import openapi
from base.config import Config
from expertline.app import create_app
from tests.conftest import TokenFactory, make_config


@pytest.fixture
def config(sqlite_url: str, tmp_path: Path) -> Config:
    return make_config(sqlite_url, tmp_path)


def test_every_api_route_is_in_the_document_and_nothing_else(config: Config) -> None:
    """A new route under /api/v1 without an ``@operation`` fails here."""
    app = create_app(config)
    assert openapi.undescribed(app) == []
    routes = {(method, path) for method, path, _route in openapi.api_routes(app)}
    document = openapi.document(app)
    described = {(method.upper(), path) for path, ops in document["paths"].items()
                 for method in ops}
    assert described == routes
    assert len(routes) > 50


def test_the_document_is_valid_openapi_with_one_error_shape(config: Config) -> None:
    document = openapi.document(create_app(config))
    schema = schemathesis.openapi.from_dict(document)  # refuses an invalid document
    assert all(result.ok() for result in schema.get_all_operations())
    assert document["openapi"].startswith("3.1")
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    for path, ops in document["paths"].items():
        for method, op in ops.items():
            responses = op["responses"]
            assert responses["4XX"] == responses["5XX"] == openapi.ERROR_REF, (method, path)
            for name in [p["name"] for p in op["parameters"] if p["in"] == "path"]:
                assert "{" + name + "}" in path
    assert document["paths"][openapi.DOCUMENT_PATH]["get"]["security"] == []


def test_the_specs_are_what_the_handlers_check(config: Config) -> None:
    """The document's limits are the handlers' own: a few spot checks."""
    paths = openapi.document(create_app(config))["paths"]
    skill = paths["/api/v1/skills"]["post"]["requestBody"]["content"]["application/json"]
    body = skill["schema"]
    assert body["required"] == ["id", "name"] and body["additionalProperties"] is False
    assert body["properties"]["id"]["pattern"] == "^[a-z0-9]+(?:-[a-z0-9]+)*$"
    assert body["properties"]["description"]["maxLength"] == 2000
    level = paths["/api/v1/experts/{id}/skills/{skill}"]["put"]["requestBody"]
    assert level["content"]["application/json"]["schema"]["properties"]["level"] == {
        "type": "integer", "minimum": 1, "maximum": 5}
    query = {p["name"]: p["schema"] for p in paths["/api/v1/experts"]["get"]["parameters"]}
    assert query["limit"] == {"type": "integer", "minimum": 1, "maximum": 500, "default": 50,
                              "description": "page size"}
    status = paths["/api/v1/me/status"]["put"]["requestBody"]["content"]["application/json"]
    assert status["schema"]["properties"]["status"]["enum"] == ["available", "away", "offline"]


async def test_the_document_is_served_without_a_token(client: TestClient,
                                                      auth: TokenFactory) -> None:
    resp = await client.get(openapi.DOCUMENT_PATH)
    assert resp.status == 200 and resp.content_type == "application/json"
    document: dict[str, Any] = await resp.json()
    assert document == openapi.document(client.app)
    assert (await client.get("/api/v1/skills")).status == 401  # the rest still needs one
    resp = await client.post("/api/v1/skills", json={"id": "x", "name": "X", "colour": "red"},
                             headers=await auth("admin"))
    assert resp.status == 422 and (await resp.json())["error"]["details"] == {"field": "colour"}
