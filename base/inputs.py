"""Input from outside, made safe once: JSON documents, text, dates, numeric ids and bodies.

Every string that reaches the database or a log can be checked with ``text_problem``: no NUL
(PostgreSQL refuses it, SQLite would store it) and no lone surrogate (it has no UTF-8 form, so
no database can store it). JSON is parsed with a depth limit, without NaN or Infinity, and with
every key and string checked. Numeric ids and dates take ASCII digits only (``int("²")`` fails
and ``int("١٢")`` is 12: neither is an id), within ranges the database and the calendar hold.
A body is read under a time limit, so a client that promises more than it sends cannot hold a
request open for ever. Each failure is a 4xx domain error saying what was wrong.
"""

from __future__ import annotations

import asyncio
import json
import re
from datetime import date
from typing import Any

from aiohttp import web

from base.errors import BadRequest, PayloadTooLarge, RequestTimeout

MAX_DEPTH = 32
MIN_DAY, MAX_DAY = date(2000, 1, 1), date(2199, 12, 31)
MAX_ID = 2**31 - 1  # the largest integer primary key PostgreSQL's INTEGER holds
DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
DIGITS = re.compile(r"[0-9]{1,10}", re.ASCII)
BODY_TIMEOUT = web.AppKey("base.body_timeout_s", float)
DEFAULT_BODY_TIMEOUT_S = 30.0


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored as text, or None when it can."""
    if "\x00" in value:
        return "contains a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode text (it holds a lone surrogate)"
    return None


def parse_json(raw: bytes | str) -> Any:
    """A JSON document whose every key and string can be stored, nested at most MAX_DEPTH."""
    try:
        document = json.loads(raw, parse_constant=_no_constant)
    except RecursionError:
        raise BadRequest(f"JSON nested deeper than {MAX_DEPTH} levels",
                         code="malformed_json") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"malformed JSON: {exc}", code="malformed_json") from None
    _check_document(document)
    return document


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _check_document(document: Any) -> None:
    """Walk the document without recursion: depth, keys and strings."""
    pending: list[tuple[Any, int]] = [(document, 1)]
    while pending:
        value, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise BadRequest(f"JSON nested deeper than {MAX_DEPTH} levels",
                             code="malformed_json")
        if isinstance(value, str):
            _check_string(value)
        elif isinstance(value, dict):
            for key, item in value.items():
                _check_string(key)
                pending.append((item, depth + 1))
        elif isinstance(value, list):
            pending.extend((item, depth + 1) for item in value)


def _check_string(value: str) -> None:
    problem = text_problem(value)
    if problem is not None:
        raise BadRequest(f"a JSON string {problem}", code="invalid_text")


def parse_day(raw: str, what: str) -> date:
    """A calendar day ``YYYY-MM-DD`` between MIN_DAY and MAX_DAY."""
    try:
        day = date.fromisoformat(raw) if DAY.fullmatch(raw) else None
    except ValueError:
        day = None
    if day is None:
        raise BadRequest(f"{what} must be a date YYYY-MM-DD")
    if not MIN_DAY <= day <= MAX_DAY:
        raise BadRequest(f"{what} must be between {MIN_DAY} and {MAX_DAY}")
    return day


def parse_id(raw: str) -> int | None:
    """A numeric id written in ASCII digits that the database can hold, or None."""
    if DIGITS.fullmatch(raw) is None:
        return None
    value = int(raw)
    return value if 0 < value <= MAX_ID else None


async def read_body(request: web.Request) -> bytes:
    """The whole body, within the server's size and time limits."""
    limit = request.app.get(BODY_TIMEOUT, DEFAULT_BODY_TIMEOUT_S)
    try:
        async with asyncio.timeout(limit):
            return await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise PayloadTooLarge(f"body larger than {request.app._client_max_size} bytes"
                              ) from None
    except TimeoutError:
        raise RequestTimeout(f"the body did not arrive within {limit:g} s") from None
