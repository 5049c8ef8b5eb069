"""Logging set-up: one line per record, with caller phone numbers and tokens masked.

Masking happens in the handler's formatter, on the whole formatted record (the message, and any
traceback with it: a database error can quote a row), so it covers every package's log lines and
aiohttp's access log without each call site remembering to do it.
"""

from __future__ import annotations

import logging
import re

# E.164 (+447700900123), UK national (07700 900123) and whatsapp:+44… forms.
_PHONE = re.compile(r"(?<![\w])(\+|00)?(\d[\d \-]{6,14})(\d{3})(?![\d])")
_TOKEN = re.compile(r"(access_token=|Bearer\s+|xl_)[A-Za-z0-9_\-\.]+")


def mask_phone(text: str) -> str:
    """Replace all but the last three digits of anything that looks like a phone number."""
    return _PHONE.sub(lambda m: "***" + m.group(3), text)


def mask_secrets(text: str) -> str:
    return mask_phone(_TOKEN.sub(lambda m: m.group(1) + "***", text))


class MaskingFormatter(logging.Formatter):
    """Formats a record as usual, then masks phone numbers and tokens anywhere in it."""

    def format(self, record: logging.LogRecord) -> str:
        return mask_secrets(super().format(record))


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(MaskingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiosqlite logs each statement with its parameters at DEBUG: numbers and citizens' words
    logging.getLogger("aiosqlite").setLevel(max(logging.INFO, root.level))
    # APScheduler says "Added job ..." for every job it schedules: noise at INFO
    logging.getLogger("apscheduler").setLevel(max(logging.WARNING, root.level))
