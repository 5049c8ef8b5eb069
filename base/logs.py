"""Logging set-up: one line per record, with caller phone numbers and tokens masked.

Masking happens in the handler's formatter, on the whole formatted record (the message, and any
traceback with it: a database error can quote a row), so it covers every package's log lines and
aiohttp's access log without each call site remembering to do it.

A line is text (``format="text"``) or, for a log collector, one JSON object (``"json"``). Either
carries the id of the HTTP request being handled when it was written (``REQUEST_ID``, set by
``base.request_id``), so one request's lines can be found among many.
"""

from __future__ import annotations

import json
import logging
import re
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO, Any

# E.164 (+447700900123), UK national (07700 900123), whatsapp:+44… and URL-encoded (%2B44…)
# forms. A run of digits followed by a hex letter is left alone: it is the start of a hex id
# (a contact's ``ct-0123456789abcdef``), not a number, and masking it garbled the id.
_PHONE = re.compile(
    r"(?:(?<![\w])(?:\+|00)?|(?<=%2[Bb]))(\d[\d \-]{6,14})(\d{3})(?![\da-fA-F])")
_TOKEN = re.compile(r"(access_token=|Bearer\s+|xl_)[A-Za-z0-9_\-\.]+")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s%(request_tag)s: %(message)s"

REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)
"""The id of the HTTP request this task is handling (None outside a request)."""


def mask_phone(text: str) -> str:
    """Replace all but the last three digits of anything that looks like a phone number."""
    return _PHONE.sub(lambda m: "***" + m.group(2), text)


def mask_secrets(text: str) -> str:
    return mask_phone(_TOKEN.sub(lambda m: m.group(1) + "***", text))


class MaskingFormatter(logging.Formatter):
    """Formats a record as usual, then masks phone numbers and tokens anywhere in it."""

    def format(self, record: logging.LogRecord) -> str:
        return mask_secrets(super().format(record))


class TextFormatter(MaskingFormatter):
    """``TEXT_FORMAT``: the request id in brackets after the logger's name, when there is one."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        found = getattr(record, "request_id", None)
        record.request_tag = f" [{found}]" if found else ""
        return super().formatMessage(record)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ``time`` (ISO 8601, UTC), ``level``, ``logger``, ``message``,
    ``request_id`` within a request, ``exception`` (the traceback) when there is one. Each text
    field is masked before it is encoded: masked after, a number behind an escaped newline
    (``\\n07700…``) would look like part of a word and be missed."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname, "logger": record.name,
            "message": mask_secrets(record.getMessage())}
        found = getattr(record, "request_id", None)
        if found:
            entry["request_id"] = found
        if record.exc_info:
            entry["exception"] = mask_secrets(self.formatException(record.exc_info))
        elif record.exc_text:
            entry["exception"] = mask_secrets(record.exc_text)
        if record.stack_info:
            entry["stack"] = mask_secrets(self.formatStack(record.stack_info))
        # ASCII only: a lone surrogate a client sent stays an escape, never a failed write
        return json.dumps(entry, ensure_ascii=True)


class RequestIdFilter(logging.Filter):
    """Stamps each record with ``REQUEST_ID`` as it is written (in the writer's context);
    one that names its own ``request_id`` (``extra=``) keeps it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = REQUEST_ID.get()
        return True


def log_handler(fmt: str = "text", stream: IO[str] | None = None) -> logging.Handler:
    """A handler writing ``fmt`` ("text" or "json") lines to ``stream`` (stderr)."""
    handler = logging.StreamHandler(stream)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    elif fmt == "text":
        handler.setFormatter(TextFormatter(TEXT_FORMAT))
    else:
        raise ValueError(f"log format must be text or json, not {fmt!r}")
    handler.addFilter(RequestIdFilter())
    return handler


def setup_logging(level: str = "INFO", fmt: str = "text") -> None:
    root = logging.getLogger()
    root.handlers[:] = [log_handler(fmt)]
    root.setLevel(level.upper())
    # aiosqlite logs each statement with its parameters at DEBUG: numbers and citizens' words
    logging.getLogger("aiosqlite").setLevel(max(logging.INFO, root.level))
    # APScheduler says "Added job ..." for every job it schedules: noise at INFO
    logging.getLogger("apscheduler").setLevel(max(logging.WARNING, root.level))
