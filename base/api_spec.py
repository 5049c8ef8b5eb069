"""Routes that describe themselves: what a handler reads, checked and documented by one object.

A handler declares its inputs once, as module constants built from these specs, and reads
through them: ``BODY.read(raw)`` refuses keys the spec does not name and ``f.get("name")``
applies the spec's own type, limits and pattern (through ``base.http.Fields``); ``LIMIT.read
(request)`` reads a query parameter the same way. ``@operation(...)`` files the same objects,
with the answer's shape and the roles, against the handler, and ``base.openapi`` builds the
OpenAPI document from the routes the application really registered: a route and its
description cannot drift apart, and a route without one is missing from the document (which
a test notices).
"""

from __future__ import annotations

import builtins
import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from aiohttp import web

from base.errors import BadRequest, InvalidInput
from base.http import (
    DEFAULT_PAGE,
    MAX_PAGE,
    Fields,
    query_bool,
    query_day,
    query_int,
)
from base.inputs import MAX_DAY, MAX_ID, MIN_DAY

Schema = dict[str, Any]
H = TypeVar("H", bound=Callable[..., Any])


def _nullable(schema: Schema, nullable: bool) -> Schema:
    if nullable:
        return {**schema, "type": [schema["type"], "null"]}
    return schema


@dataclass(frozen=True, slots=True)
class Text:
    """A string, trimmed; ``pattern`` is checked and published, ``check`` only checked (a time
    zone has no regular expression). A field that is not ``nullable`` may not be null or empty
    when given."""

    max_len: int = 200
    required: bool = False
    nullable: bool = True
    pattern: re.Pattern[str] | None = None
    check: Callable[[str], bool] | None = None
    enum: tuple[str, ...] = ()
    doc: str = ""

    def read(self, f: Fields, key: str) -> str | None:
        value = f.str(key, required=self._must(f, key), max_len=self.max_len, pattern=self.ok)
        if value and self.enum and value not in self.enum:
            raise InvalidInput(f"{key!r} must be one of {', '.join(self.enum)}", field=key)
        return value

    def _must(self, f: Fields, key: str) -> bool:
        return self.required or (f.has(key) and not self.nullable)

    def ok(self, value: str) -> bool:
        if self.pattern is not None and self.pattern.fullmatch(value) is None:
            return False
        return self.check is None or self.check(value)

    def schema(self) -> Schema:
        found: Schema = {"type": "string", "maxLength": self.max_len}
        if not self.nullable or self.required:
            found["minLength"] = 1
        if self.pattern is not None:
            found["pattern"] = self.pattern.pattern
        if self.enum:
            found["enum"] = list(self.enum)
        return _described(_nullable(found, self.nullable and not self.required), self.doc)


@dataclass(frozen=True, slots=True)
class Integer:
    lo: int | None = None
    hi: int | None = None
    required: bool = False
    nullable: bool = True
    doc: str = ""

    def read(self, f: Fields, key: str) -> int | None:
        return f.int(key, required=self.required or (f.has(key) and not self.nullable),
                     lo=self.lo, hi=self.hi)

    def schema(self) -> Schema:
        return _described(_nullable({"type": "integer", **_limits(self.lo, self.hi)},
                                    self.nullable and not self.required), self.doc)


@dataclass(frozen=True, slots=True)
class Number:
    lo: float | None = None
    hi: float | None = None
    required: bool = False
    nullable: bool = True
    doc: str = ""

    def read(self, f: Fields, key: str) -> float | None:
        return f.number(key, required=self.required or (f.has(key) and not self.nullable),
                        lo=self.lo, hi=self.hi)

    def schema(self) -> Schema:
        return _described(_nullable({"type": "number", **_limits(self.lo, self.hi)},
                                    self.nullable and not self.required), self.doc)


@dataclass(frozen=True, slots=True)
class Boolean:
    required: bool = False
    nullable: bool = True
    doc: str = ""

    def read(self, f: Fields, key: str) -> bool | None:
        return f.bool(key, required=self.required or (f.has(key) and not self.nullable))

    def schema(self) -> Schema:
        return _described(_nullable({"type": "boolean"}, self.nullable and not self.required),
                          self.doc)


@dataclass(frozen=True, slots=True)
class Day:
    """A calendar day ``YYYY-MM-DD`` within the days the service stores."""

    required: bool = False
    doc: str = ""

    def read(self, f: Fields, key: str) -> dt.date | None:
        return f.date(key, required=self.required)

    def schema(self) -> Schema:
        return _described(_nullable(DAY_SCHEMA, not self.required), self.doc)


@dataclass(frozen=True, slots=True)
class TextList:
    """A list of non-empty strings, each at most ``max_len`` characters."""

    max_len: int = 64
    required: bool = False
    nullable: bool = True
    doc: str = ""

    def read(self, f: Fields, key: str) -> list[str] | None:
        return f.list_of_str(key, required=self.required or (f.has(key) and not self.nullable),
                             max_len=self.max_len)

    def schema(self) -> Schema:
        item = {"type": "string", "minLength": 1, "maxLength": self.max_len}
        return _described(_nullable({"type": "array", "items": item},
                                    self.nullable and not self.required), self.doc)


@dataclass(frozen=True, slots=True)
class Object:
    """A JSON object whose keys the handler checks itself (``values`` describes its values)."""

    values: Schema | None = None
    required: bool = False
    nullable: bool = True
    max_keys: int | None = None
    doc: str = ""
    shape: Body | None = None

    def read(self, f: Fields, key: str) -> dict[str, Any] | None:
        return f.mapping(key, required=self.required or (f.has(key) and not self.nullable))

    def schema(self) -> Schema:
        found: Schema = {"type": "object"}
        if self.shape is not None:
            found = self.shape.schema()
        if self.values is not None:
            found["additionalProperties"] = self.values
        if self.max_keys is not None:
            found["maxProperties"] = self.max_keys
        return _described(_nullable(found, self.nullable and not self.required), self.doc)


@dataclass(frozen=True, slots=True)
class Raw:
    """Any JSON value the handler checks itself (a shift's breaks); ``schema`` publishes what
    it accepts."""

    schema_: Schema = field(default_factory=dict)
    required: bool = False
    doc: str = ""

    def read(self, f: Fields, key: str) -> Any:
        return f.body.get(key)

    def schema(self) -> Schema:
        return _described(self.schema_, self.doc)


Field = Text | Integer | Number | Boolean | Day | TextList | Object | Raw


def _limits(lo: float | None, hi: float | None) -> Schema:
    found: Schema = {}
    if lo is not None:
        found["minimum"] = lo
    if hi is not None:
        found["maximum"] = hi
    return found


def _described(schema: Schema, doc: str) -> Schema:
    return {**schema, "description": doc} if doc else schema


DAY_SCHEMA: Schema = {"type": "string", "format": "date",
                      "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
                      "description": f"a day between {MIN_DAY} and {MAX_DAY}"}


class Checked(Fields):
    """``Fields`` that know their spec: ``get(key)`` reads a field as the spec declares it."""

    def __init__(self, body: Mapping[str, Any], spec: Body) -> None:
        super().__init__(body, allowed=spec.fields)
        self.spec = spec

    def get(self, key: builtins.str) -> Any:
        return self.spec.fields[key].read(self, key)


@dataclass(frozen=True, slots=True)
class Body:
    """A JSON object body: its fields (no others are accepted)."""

    fields: Mapping[str, Field]
    doc: str = ""

    def read(self, raw: Mapping[str, Any]) -> Checked:
        return Checked(raw, self)

    def without(self, *keys: str) -> Body:
        return Body({k: v for k, v in self.fields.items() if k not in keys}, self.doc)

    def partial(self) -> Body:
        """The same fields, none of them required (a PATCH): given ones must still be valid."""
        return Body({k: replace(v, required=False) for k, v in self.fields.items()}, self.doc)

    def schema(self) -> Schema:
        found: Schema = {"type": "object", "additionalProperties": False,
                         "properties": {k: v.schema() for k, v in self.fields.items()}}
        required = [k for k, v in self.fields.items() if v.required]
        if required:
            found["required"] = required
        return _described(found, self.doc)


# -- the path and the query ---------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Path:
    """A path parameter as the handler accepts it; anything else names nothing (404)."""

    pattern: re.Pattern[str] | None = None
    max_len: int = 64
    integer: bool = False
    doc: str = ""

    def schema(self) -> Schema:
        if self.integer:
            return _described({"type": "integer", "minimum": 1, "maximum": MAX_ID}, self.doc)
        found: Schema = {"type": "string", "minLength": 1, "maxLength": self.max_len}
        if self.pattern is not None:
            found["pattern"] = self.pattern.pattern
        return _described(found, self.doc)


@dataclass(frozen=True, slots=True)
class Query:
    """A query parameter: ``kind`` is "int", "bool", "day" or "text"; ``read`` checks it as
    the handler needs it (a 400 naming it otherwise)."""

    name: str
    kind: str = "text"
    lo: int = 0
    hi: int = 0
    default: Any = None
    required: bool = False
    max_len: int = 100
    enum: tuple[str, ...] = ()
    doc: str = ""

    def read(self, request: web.Request) -> Any:
        if self.kind == "int":
            return query_int(request, self.name, self.default, lo=self.lo, hi=self.hi)
        if self.kind == "bool":
            return query_bool(request, self.name, bool(self.default))
        if self.kind == "day":
            return query_day(request, self.name)
        value = request.query.get(self.name, "").strip()
        if len(value) > self.max_len:
            raise BadRequest(f"query parameter {self.name!r} is longer than {self.max_len} "
                             "characters")
        if value and self.enum and value not in self.enum:
            raise BadRequest(f"query parameter {self.name!r} must be one of "
                             f"{', '.join(self.enum)}")
        return value or self.default

    def schema(self) -> Schema:
        found: Schema
        if self.kind == "int":
            found = {"type": "integer", **_limits(self.lo, self.hi)}
        elif self.kind == "bool":
            found = {"type": "boolean"}
        elif self.kind == "day":
            found = dict(DAY_SCHEMA)
        else:
            found = {"type": "string", "maxLength": self.max_len}
            if self.enum:
                found["enum"] = list(self.enum)
        if self.default is not None:
            found["default"] = self.default
        return _described(found, self.doc)


LIMIT = Query("limit", "int", lo=1, hi=MAX_PAGE, default=DEFAULT_PAGE, doc="page size")
OFFSET = Query("offset", "int", lo=0, hi=10**9, default=0, doc="items to skip")
PAGING = (LIMIT, OFFSET)


# -- the answer ---------------------------------------------------------------------------------
def obj(required: tuple[str, ...] = (), **properties: Schema) -> Schema:
    """A JSON object with these properties (others may follow)."""
    found: Schema = {"type": "object", "properties": properties}
    if required:
        found["required"] = list(required)
    return found


def page(item: Schema) -> Schema:
    """The shape every list answers with (``base.http.page_of``)."""
    count = {"type": "integer", "minimum": 0}
    return obj(("items", "total", "limit", "offset", "next_offset"),
               items={"type": "array", "items": item}, total=count, limit=count,
               offset=count, next_offset={"type": ["integer", "null"], "minimum": 0})


def items(item: Schema) -> Schema:
    return obj(("items",), items={"type": "array", "items": item})


ANY_OBJECT: Schema = {"type": "object"}
TEXT: Schema = {"type": "string"}


@dataclass(frozen=True, slots=True)
class Reply:
    """A success: its status, its JSON schema (None: no body), other media types it may take
    instead (``?format=csv``), and other success statuses it may answer with."""

    status: int = 200
    schema: Schema | None = field(default_factory=lambda: ANY_OBJECT)
    media: Mapping[str, Schema] = field(default_factory=dict)
    also: tuple[int, ...] = ()


NO_CONTENT = Reply(204, None)


@dataclass(frozen=True, slots=True)
class Operation:
    """What ``base.openapi`` publishes about one route."""

    summary: str
    roles: tuple[str, ...] = ()
    path: Mapping[str, Path] = field(default_factory=dict)
    query: tuple[Query, ...] = ()
    body: Body | None = None
    body_required: bool = True
    body_media: Mapping[str, Schema] = field(default_factory=dict)
    reply: Reply = field(default_factory=Reply)
    public: bool = False
    doc: str = ""


_OPERATIONS: dict[Callable[..., Any], Operation] = {}


def operation(summary: str, **details: Any) -> Callable[[H], H]:
    """File the handler's ``Operation`` (the specs it reads with) for the OpenAPI document."""
    described = Operation(summary, **details)

    def register(handler: H) -> H:
        _OPERATIONS[handler] = described
        return handler

    return register


def operation_of(handler: Callable[..., Any]) -> Operation | None:
    return _OPERATIONS.get(handler)
