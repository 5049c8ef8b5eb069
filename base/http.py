"""HTTP plumbing shared by every API module: the caller, JSON bodies, field checks, pages.

Handlers read the principal the auth middleware put on the request, parse bodies with
``read_json`` and ``Fields`` (unknown keys and wrong types become a 4xx naming the field), and
answer lists through ``page_of``. Errors are raised as ``base.errors`` and mapped to
``{"error": {"code", "message"}}`` in one place, ``error_middleware``.
"""

from __future__ import annotations

import builtins
import datetime as dt
import json
import logging
import math
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from aiohttp import web

from base.access import Principal
from base.errors import (
    BadRequest,
    DomainError,
    HeadersTooLarge,
    InvalidInput,
    PayloadTooLarge,
    TooManyRequests,
    Unauthorized,
    Unavailable,
    UriTooLong,
)
from base.inputs import parse_day, parse_json, read_body, text_problem

log = logging.getLogger("expertline.http")
PRINCIPAL = web.RequestKey("principal", Principal)
QUERY_INT = re.compile(r"-?[0-9]{1,18}", re.ASCII)
MAX_PAGE = 500
DEFAULT_PAGE = 50


def principal(request: web.Request) -> Principal:
    """The authenticated caller (the auth middleware guarantees one under /api and /ws)."""
    found: Principal | None = request.get(PRINCIPAL)
    if found is None:
        raise Unauthorized("missing Authorization: Bearer token")
    return found


async def read_json(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object, or a 4xx that says what is wrong (see
    ``base.inputs.parse_json`` for what a body may not hold)."""
    if request.content_type != "application/json":
        raise BadRequest("send the body as application/json", code="unsupported_media_type")
    body = parse_json(await read_body(request) or b"null")
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object", code="malformed_json")
    return body


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=_dumps)


def _dumps(data: Any) -> str:
    """JSON as UTF-8 text; should a value hold a lone surrogate (an error message quoting
    what a client sent), it is escaped rather than failing the response."""
    text = json.dumps(data, ensure_ascii=False, default=str)
    if text_problem(text) is not None:
        return json.dumps(data, ensure_ascii=True, default=str)
    return text


class Fields:
    """Typed access to a JSON object's fields; refuses keys it was not asked about.

    ``f = Fields(body, allowed={"name", "org"})`` refuses any other key at once, then
    ``f.str("name", required=True)`` reads one. Every error names the field.
    """

    # The methods ``str``, ``int``, ``bool`` and ``date`` shadow those names inside this class
    # body, so annotations here spell the types ``builtins.str`` ... and ``dt.date``.

    def __init__(
        self, body: Mapping[builtins.str, Any], *, allowed: Iterable[builtins.str]
    ) -> None:
        self.body = body
        unknown = sorted(set(body) - set(allowed))
        if unknown:
            raise InvalidInput(f"unknown field {unknown[0]!r}", field=unknown[0])

    def has(self, key: builtins.str) -> builtins.bool:
        return key in self.body

    def _get(self, key: builtins.str, required: builtins.bool) -> Any:
        if key not in self.body or self.body[key] is None:
            if required:
                raise InvalidInput(f"{key!r} is required", field=key)
            return None
        return self.body[key]

    def str(
        self,
        key: builtins.str,
        *,
        required: builtins.bool = False,
        max_len: builtins.int = 200,
        pattern: Callable[[builtins.str], builtins.bool] | None = None,
    ) -> builtins.str | None:
        value = self._get(key, required)
        if value is None:
            return None
        if not isinstance(value, str):
            raise InvalidInput(f"{key!r} must be a string", field=key)
        value = value.strip()
        if required and not value:
            raise InvalidInput(f"{key!r} must not be empty", field=key)
        if len(value) > max_len:
            raise InvalidInput(f"{key!r} is longer than {max_len} characters", field=key)
        if pattern is not None and value and not pattern(value):
            raise InvalidInput(f"{key!r} has an invalid format: {value!r}", field=key)
        return value

    def int(
        self,
        key: builtins.str,
        *,
        required: builtins.bool = False,
        lo: builtins.int | None = None,
        hi: builtins.int | None = None,
    ) -> builtins.int | None:
        value = self._get(key, required)
        if value is None:
            return None
        if not isinstance(value, int) or isinstance(value, bool):
            raise InvalidInput(f"{key!r} must be an integer", field=key)
        _bounds(key, value, lo, hi)
        return value

    def number(
        self,
        key: builtins.str,
        *,
        required: builtins.bool = False,
        lo: float | None = None,
        hi: float | None = None,
    ) -> float | None:
        value = self._get(key, required)
        if value is None:
            return None
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise InvalidInput(f"{key!r} must be a number", field=key)
        _bounds(key, value, lo, hi)
        return float(value)

    def bool(
        self, key: builtins.str, *, required: builtins.bool = False
    ) -> builtins.bool | None:
        value = self._get(key, required)
        if value is not None and not isinstance(value, bool):
            raise InvalidInput(f"{key!r} must be true or false", field=key)
        return value

    def date(self, key: builtins.str, *, required: builtins.bool = False) -> dt.date | None:
        value = self.str(key, required=required, max_len=10)
        if not value:
            return None
        try:
            return parse_day(value, repr(key))
        except BadRequest as exc:
            raise InvalidInput(exc.message, field=key) from None

    def list_of_str(
        self, key: builtins.str, *, required: builtins.bool = False, max_len: builtins.int = 64
    ) -> list[builtins.str] | None:
        value = self._get(key, required)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InvalidInput(f"{key!r} must be a list of strings", field=key)
        if any(len(v) > max_len or not v.strip() for v in value):
            raise InvalidInput(f"{key!r} holds an empty or over-long item", field=key)
        return [v.strip() for v in value]

    def mapping(
        self, key: builtins.str, *, required: builtins.bool = False
    ) -> dict[builtins.str, Any] | None:
        value = self._get(key, required)
        if value is not None and not isinstance(value, dict):
            raise InvalidInput(f"{key!r} must be an object", field=key)
        return value


LANGUAGE = re.compile(r"^[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})?$")


def is_language(value: str) -> bool:
    """A language tag as the pool stores them: ISO 639 ``en``, ``cy``, or with a region."""
    return LANGUAGE.match(value) is not None


def _bounds(key: str, value: float, lo: float | None, hi: float | None) -> None:
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise InvalidInput(f"{key!r} must be between {lo} and {hi}, got {value}", field=key)


def query_int(request: web.Request, key: str, default: int, *, lo: int, hi: int) -> int:
    raw = request.query.get(key)
    if raw is None or raw == "":
        return default
    if QUERY_INT.fullmatch(raw) is None:
        raise BadRequest(f"query parameter {key!r} must be an integer")
    value = int(raw)
    if not lo <= value <= hi:
        raise BadRequest(f"query parameter {key!r} must be between {lo} and {hi}")
    return value


def query_day(request: web.Request, key: str) -> dt.date:
    """A required ``?key=YYYY-MM-DD``."""
    return parse_day(request.query.get(key, ""), f"query parameter {key!r}")


def query_bool(request: web.Request, key: str, default: bool = False) -> bool:
    raw = request.query.get(key)
    if raw is None:
        return default
    if raw.lower() in ("true", "1", "yes"):
        return True
    if raw.lower() in ("false", "0", "no"):
        return False
    raise BadRequest(f"query parameter {key!r} must be true or false")


def paging(request: web.Request) -> tuple[int, int]:
    """``(limit, offset)`` from ``?limit=&offset=`` (limit 1..500, default 50)."""
    limit = query_int(request, "limit", DEFAULT_PAGE, lo=1, hi=MAX_PAGE)
    offset = query_int(request, "offset", 0, lo=0, hi=10**9)
    return limit, offset


def page_of(items: list[Any], *, total: int, limit: int, offset: int) -> dict[str, Any]:
    """The shape every list answers with: items plus what is needed to fetch the next page."""
    nxt = offset + limit if offset + limit < total else None
    return {"items": items, "total": total, "limit": limit, "offset": offset, "next_offset": nxt}


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


DATABASE_DOWN = (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.DisconnectionError,
                 sa.exc.TimeoutError, ConnectionError, OSError)


def database_down(exc: BaseException) -> bool:
    """The database could not be reached or dropped the connection (not: it refused a
    statement, which is a bug or bad data)."""
    if isinstance(exc, DATABASE_DOWN):
        return True
    return isinstance(exc, sa.exc.DBAPIError) and (
        exc.connection_invalidated or exc.statement is None)


MAX_TARGET = 8190  # bytes of a request target, and of one header line: aiohttp's own limits
PARSER_LIMITS = {"max_line_size": 65536, "max_field_size": 65536}
"""``web.Application(handler_args=PARSER_LIMITS)``: aiohttp's parser lets lines up to 64 KiB
reach ``input_middleware``, which refuses anything over MAX_TARGET with a JSON 414 or 431
(aiohttp's own refusal would be a plain-text 400)."""


@web.middleware
async def input_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A request target or header line longer than MAX_TARGET, or a path or query string
    holding text no database can store (NUL, a lone surrogate), is refused before any
    handler sees it."""
    if len(request.raw_path) > MAX_TARGET:
        raise UriTooLong(f"the request target is longer than {MAX_TARGET} bytes")
    for name, value in request.raw_headers:
        if len(name) + len(value) > MAX_TARGET:
            raise HeadersTooLarge(f"a header line is longer than {MAX_TARGET} bytes")
    for where, text in _request_texts(request):
        problem = text_problem(text)
        if problem is not None:
            raise BadRequest(f"the request's {where} {problem}", code="invalid_text")
    return await handler(request)


def _request_texts(request: web.Request) -> Iterable[tuple[builtins.str, builtins.str]]:
    yield "path", request.path
    for key, value in request.query.items():
        yield "query", key
        yield "query", value


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Domain errors and aiohttp's own 4xx become ``{"error": {"code", "message"}}``; a
    database that cannot be reached is a 503; anything else is logged and a bare 500."""
    try:
        return await handler(request)
    except DomainError as exc:
        return domain_error_response(exc)
    except web.HTTPRequestEntityTooLarge:
        limit = request.app._client_max_size
        return domain_error_response(PayloadTooLarge(f"request body larger than {limit} bytes"))
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type != "text/plain":
            raise
        return _http_error_response(exc)
    except Exception as exc:
        if database_down(exc):
            log.warning("database unavailable on %s %s: %s", request.method, request.path,
                        type(exc).__name__)
            return domain_error_response(
                Unavailable("the database is unavailable; try again shortly"))
        log.exception("unhandled error on %s %s", request.method, request.path)
        body = {"error": {"code": "internal", "message": "internal error; it has been logged"}}
        return json_response(body, status=500)


def domain_error_response(exc: DomainError) -> web.Response:
    response = json_response(exc.to_json(), status=exc.status)
    if isinstance(exc, TooManyRequests):
        response.headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after_s)))
    return response


def _http_error_response(exc: web.HTTPException) -> web.Response:
    code = "not_found" if exc.status == 404 else exc.reason.lower().replace(" ", "_")
    return json_response({"error": {"code": code, "message": exc.reason}}, status=exc.status)
