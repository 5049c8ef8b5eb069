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
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from aiohttp import web

from base.access import Principal
from base.errors import (
    BadRequest,
    DomainError,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    Unauthorized,
)

log = logging.getLogger("expertline.http")
PRINCIPAL = web.RequestKey("principal", Principal)
MAX_PAGE = 500
DEFAULT_PAGE = 50


def principal(request: web.Request) -> Principal:
    """The authenticated caller (the auth middleware guarantees one under /api and /ws)."""
    found: Principal | None = request.get(PRINCIPAL)
    if found is None:
        raise Unauthorized("missing Authorization: Bearer token")
    return found


async def read_json(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object, or a 4xx that says what is wrong."""
    if request.content_type != "application/json":
        raise BadRequest("send the body as application/json", code="unsupported_media_type")
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise PayloadTooLarge(f"body larger than {request.app._client_max_size} bytes") from None
    try:
        body = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"malformed JSON: {exc}", code="malformed_json") from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object", code="malformed_json")
    return body


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=_dumps)


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, default=str)


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
            return dt.date.fromisoformat(value)
        except ValueError:
            raise InvalidInput(f"{key!r} must be a date YYYY-MM-DD", field=key) from None

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


def _bounds(key: str, value: float, lo: float | None, hi: float | None) -> None:
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise InvalidInput(f"{key!r} must be between {lo} and {hi}, got {value}", field=key)


def query_int(request: web.Request, key: str, default: int, *, lo: int, hi: int) -> int:
    raw = request.query.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"query parameter {key!r} must be an integer") from None
    if not lo <= value <= hi:
        raise BadRequest(f"query parameter {key!r} must be between {lo} and {hi}")
    return value


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


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Domain errors and aiohttp's own 4xx become ``{"error": {"code", "message"}}``."""
    try:
        return await handler(request)
    except DomainError as exc:
        return json_response(exc.to_json(), status=exc.status)
    except web.HTTPRequestEntityTooLarge:
        exc2 = PayloadTooLarge(f"request body larger than {request.app._client_max_size} bytes")
        return json_response(exc2.to_json(), status=413)
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type != "text/plain":
            raise
        code = "not_found" if exc.status == 404 else exc.reason.lower().replace(" ", "_")
        error = NotFound(exc.reason, code=code) if exc.status == 404 else DomainError(exc.reason)
        return json_response({"error": {"code": error.code, "message": exc.reason}},
                             status=exc.status)
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        body = {"error": {"code": "internal", "message": "internal error; it has been logged"}}
        return json_response(body, status=500)
