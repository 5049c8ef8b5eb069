"""Phone numbers for callbacks (pure): which numbers we will call, and what a caller chose.

We only ever call back UK geographic, non-geographic 03 and mobile numbers. Premium, personal
(070), pager (076) and international numbers are refused, so a callback cannot be turned into a
toll-fraud dialler. Numbers are returned in E.164 (``+447700900123``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ALLOWED_NATIONAL = re.compile(r"^0(1\d{8,9}|2\d{9}|3\d{9}|7[1-57-9]\d{8})$")
# Twilio's From for withheld or unknown callers.
_ANONYMOUS = frozenset({"", "anonymous", "unknown", "restricted", "+266696687", "+86282452253",
                        "+7378742833", "+2562533"})


def uk_callback_number(raw: str) -> str | None:
    """``raw`` (keys pressed, or a caller ID) as an E.164 UK number we may call, else None."""
    digits = re.sub(r"\D", "", raw)
    if raw.strip().startswith("+") or digits.startswith("44"):
        if not digits.startswith("44"):
            return None
        digits = "0" + digits[2:]
    if not _ALLOWED_NATIONAL.match(digits):
        return None
    return "+44" + digits[1:]


def caller_number(from_: str) -> str:
    """The caller's own number if it is one we may call back, else ``""``."""
    if from_.strip().lower() in _ANONYMOUS:
        return ""
    return uk_callback_number(from_) or ""


@dataclass(frozen=True, slots=True)
class CallMeOn:
    number: str


@dataclass(frozen=True, slots=True)
class KeepHolding:
    pass


@dataclass(frozen=True, slots=True)
class NotUnderstood:
    pass


CallbackChoice = CallMeOn | KeepHolding | NotUnderstood


def callback_choice(digits: str, caller: str) -> CallbackChoice:
    """The caller's answer to the callback offer: 1 = the calling number, 2 = keep holding,
    or a number they typed (then #)."""
    keys = digits.strip().rstrip("#")
    if keys == "1" and caller:
        return CallMeOn(caller)
    if keys == "2":
        return KeepHolding()
    typed = uk_callback_number(keys) if len(keys) > 2 else None
    return CallMeOn(typed) if typed else NotUnderstood()
