"""Logging set-up: one line per record, with caller phone numbers and tokens masked.

Masking happens in a handler filter, so it covers every package's log lines (and aiohttp's access
log) without each call site remembering to do it.
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


class MaskingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_secrets(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(MaskingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
