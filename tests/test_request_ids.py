"""The request id and the log lines: every answer names its request in ``X-Request-Id`` (the
client's own id when it is sane, a new one otherwise), every line logged while handling it
carries it, and JSON lines (``server.log_format = "json"``) mask numbers and tokens as the text
lines do."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from base.config import ConfigError, load_config
from base.logs import JsonFormatter, TextFormatter, log_handler, setup_logging
from base.request_id import SANE
from expertline.app import create_app
from expertline.cli import build_parser
from tests.conftest import make_config

NUMBER = "+447700900123"
log = logging.getLogger("expertline.test_request_ids")


async def _logs_a_number(request: web.Request) -> web.Response:
    log.warning("caller %s asked with Bearer xl_secretSECRET", NUMBER)
    try:
        raise RuntimeError(f"the row held {NUMBER}")
    except RuntimeError:
        log.exception("could not reach 07700 900456")
    return web.json_response({"ok": True})


@pytest.fixture
async def client(aiohttp_client: Callable[..., Awaitable[TestClient]], sqlite_url: str,
                 tmp_path: Path) -> AsyncIterator[TestClient]:
    """The real app with one more route that logs a number, a token and a traceback."""
    app = create_app(make_config(sqlite_url, tmp_path))
    app.router.add_get("/test/log", _logs_a_number)
    yield await aiohttp_client(app)


@contextmanager
def captured(fmt: str) -> Iterator[io.StringIO]:
    """Lines written by the handler ``serve`` installs (``base.logs.log_handler``)."""
    stream = io.StringIO()
    handler = log_handler(fmt, stream)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


async def test_a_sane_request_id_is_echoed(client: TestClient) -> None:
    for sent in ("abc-123", "A.b_c-9", "x" * 64):
        resp = await client.get("/healthz", headers={"X-Request-Id": sent})
        assert resp.status == 200 and resp.headers["X-Request-Id"] == sent


async def test_a_new_id_is_made_when_none_is_sent_or_it_is_not_sane(client: TestClient) -> None:
    made = set()
    for headers in ({}, {"X-Request-Id": ""}, {"X-Request-Id": "x" * 65},
                    {"X-Request-Id": "has space"}, {"X-Request-Id": "a/b"},
                    {"X-Request-Id": "<script>"}):
        resp = await client.get("/healthz", headers=headers)
        found = resp.headers["X-Request-Id"]
        assert SANE.fullmatch(found) and found != headers.get("X-Request-Id")
        made.add(found)
    assert len(made) == 6  # each request its own


async def test_errors_and_websocket_handshakes_carry_the_id_too(client: TestClient) -> None:
    resp = await client.get("/api/v1/skills", headers={"X-Request-Id": "no-token"})
    assert resp.status == 401 and resp.headers["X-Request-Id"] == "no-token"
    assert (await resp.json())["error"]["code"] == "unauthorized"
    resp = await client.get("/nothing/here", headers={"X-Request-Id": "lost"})
    assert resp.status == 404 and resp.headers["X-Request-Id"] == "lost"
    resp = await client.post("/api/v1/skills", data=b"\0", headers={"X-Request-Id": "bad"})
    assert resp.status >= 400 and resp.headers["X-Request-Id"] == "bad"
    async with client.ws_connect("/ws/chat", headers={"X-Request-Id": "chat-1"}) as ws:
        assert ws._response.headers["X-Request-Id"] == "chat-1"


async def test_a_json_log_line_has_the_request_id_and_masks_numbers_and_tokens(
        client: TestClient) -> None:
    with captured("json") as stream:
        resp = await client.get("/test/log")
    assert resp.status == 200
    request_id = resp.headers["X-Request-Id"]
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    mine = [e for e in lines if e["logger"] == log.name]
    assert [e["level"] for e in mine] == ["WARNING", "ERROR"]
    warning, error = mine
    assert warning["request_id"] == request_id == error["request_id"]
    assert warning["message"] == "caller ***123 asked with Bearer ***"
    assert error["message"] == "could not reach ***456"
    assert "RuntimeError: the row held ***123" in error["exception"]
    assert NUMBER not in stream.getvalue() and "secretSECRET" not in stream.getvalue()
    assert datetime.fromisoformat(warning["time"]).utcoffset() is not None
    assert warning["time"].endswith("Z")


async def test_the_access_log_line_carries_the_request_id_and_masks_the_query(
        client: TestClient) -> None:
    with captured("json") as stream:
        resp = await client.get(f"/healthz?from={NUMBER}", headers={"X-Request-Id": "acc-1"})
    assert resp.status == 200
    access = [json.loads(line) for line in stream.getvalue().splitlines()
              if json.loads(line)["logger"] == "aiohttp.access"]
    assert [a["request_id"] for a in access] == ["acc-1"]
    assert "/healthz?from=***123" in access[0]["message"].replace("%2B", "+")
    assert "900123" not in access[0]["message"].replace("***123", "")


async def test_a_text_log_line_names_the_request_too(client: TestClient) -> None:
    with captured("text") as stream:
        await client.get("/test/log", headers={"X-Request-Id": "txt-7"})
    mine = [line for line in stream.getvalue().splitlines() if log.name in line]
    assert mine[0].endswith(f"WARNING {log.name} [txt-7]: caller ***123 asked with Bearer ***")
    assert NUMBER not in stream.getvalue()


def test_outside_a_request_a_line_has_no_request_id() -> None:
    with captured("json") as stream:
        log.warning("nothing to do with a request")
    (entry,) = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert "request_id" not in entry and entry["message"] == "nothing to do with a request"


def test_json_logs_are_switched_on_by_config_or_by_serve() -> None:
    args = build_parser().parse_args(["serve", "--log-format", "json"])
    assert args.log_format == "json"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--log-format", "xml"])
    assert load_config(None, {}).server.log_format == "text"
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        setup_logging("INFO", "json")
        assert isinstance(root.handlers[0].formatter, JsonFormatter)
        setup_logging("INFO", "text")
        assert isinstance(root.handlers[0].formatter, TextFormatter)
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def test_a_log_format_config_cannot_name_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[server]\nlog_format = "xml"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"^server\.log_format: must be text or json$"):
        load_config(path, {})
