"""A citizen's number in its one normal form, and the non-reversible reference that replaces it.

``normalise`` reads a number as an admin types it (``07700 900123``, ``+44 7700 900123``,
``whatsapp:+447700900123``) as telephony reads a caller's (``telephony.numbers``: UK numbers
to E.164), and any other international number given with ``+`` or ``00`` as E.164 too.

``reference(key, number)`` is the first 12 hex digits of HMAC-SHA256 over the normal form,
keyed by ``EXPERTLINE_PSEUDONYM_KEY`` (or, without it, the random key kept in the database):
the same number always gives the same reference, so anonymised contacts of one citizen stay
linked and an erasure can be found again from the number, but without the key the number
cannot be recovered from it (a bare hash of a phone number could be, by trying them all).
An anonymised number is stored as ``anon:`` and its reference.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from base.errors import InvalidInput
from telephony.numbers import uk_callback_number

ANON = "anon:"
REF_HEX = 12
E164 = re.compile(r"\+[1-9][0-9]{6,14}", re.ASCII)
_TYPED = re.compile(r"[0-9+()\-. ]{4,32}", re.ASCII)
_PREFIXES = ("whatsapp:", "tel:")


def normalise(raw: str) -> str:
    """``raw`` as E.164, or ``InvalidInput`` (which never repeats the number)."""
    number = _normal(raw)
    if number is None:
        raise InvalidInput("'number' must be a phone number, e.g. +441632960000, 01632 960000 "
                           "or 00 353 1 234 5678", field="number")
    return number


def _normal(raw: str) -> str | None:
    text = raw.strip()
    for prefix in _PREFIXES:
        if text.lower().startswith(prefix):
            text = text[len(prefix):].strip()
    if not _TYPED.fullmatch(text):
        return None
    uk = uk_callback_number(text)
    if uk is not None:
        return uk
    digits = re.sub(r"[^0-9]", "", text)
    if text.startswith("+"):
        found = "+" + digits
    elif digits.startswith("00"):
        found = "+" + digits[2:]
    elif digits.startswith("0") and not digits.startswith("00"):
        found = "+44" + digits[1:]  # a UK number telephony would not call back (070, 09…)
    else:
        return None
    return found if E164.fullmatch(found) else None


def stored_forms(number: str) -> list[str]:
    """How a normalised number can sit in the tables: as Twilio gives a caller or an SMS
    sender (E.164), a WhatsApp sender, and a callback number (E.164)."""
    return [number, f"whatsapp:{number}"]


def reference(key: bytes, value: str) -> str:
    """The 12-hex reference of a number (normalised when it is one; else as given)."""
    text = _normal(value) or value.strip()
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()[:REF_HEX]


def anonymised(key: bytes, value: str) -> str:
    """What replaces a stored number: ``anon:`` and its reference ("" stays "")."""
    if not value or is_anonymised(value):
        return value
    return ANON + reference(key, value)


def is_anonymised(value: str) -> bool:
    return value.startswith(ANON)
