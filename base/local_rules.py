"""Local rules on the shared platform: each organisation's opening hours, bank holidays,
out-of-hours message, fallback, greeting and priority (config.toml's ``[local.ORG-ID]``).

Pure: no I/O and no clock. ``is_open(rules, at)`` and ``route_out_of_hours(...)`` take the
instant they decide for, so the channels pass their own (injected) clock and tests pass any
day they like. The config dataclasses live here, not in ``base.config``, so that the
validation (``problems``) sits next to the parsing it shares with the decisions;
``base.config`` builds them and turns the first problem into a ``ConfigError``.

Hours are a table of day -> spans in the organisation's own time zone: ``mon`` .. ``sun``,
and ``daily`` for every day not named. A value is ``"closed"`` or comma-separated
``HH:MM-HH:MM`` spans, the end after the start (``24:00`` ends at midnight; a span over
midnight is written as two days). No table at all means open at all hours.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAILY = "daily"
CLOSED = "closed"
CALLBACK = "callback"
PARTNER = "org:"
# nation -> the ``holidays`` package's subdivision of GB (England and Wales share theirs)
NATIONS: Mapping[str, str] = {"england": "ENG", "wales": "WLS", "scotland": "SCT",
                              "northern-ireland": "NIR"}
LOOK_AHEAD_DAYS = 21  # how far ``next_opening`` looks (past Christmas and New Year together)
_SPAN = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])-(([01][0-9]|2[0-3]):([0-5][0-9])|24:00)",
                   re.ASCII)
_E164 = re.compile(r"\+[1-9][0-9]{6,14}", re.ASCII)

Span = tuple[int, int]  # minutes after midnight, [start, end)


@dataclass(frozen=True, slots=True)
class SkillRules:
    """``[local.ORG.skills.SKILL]``: what differs for one skill. Unset (None or "") keys are
    the organisation's."""

    hours: Mapping[str, str] | None = None
    closed_on_bank_holidays: bool | None = None
    out_of_hours_message: str = ""
    out_of_hours_message_cy: str = ""
    fallback: str = ""
    priority: int | None = None


@dataclass(frozen=True, slots=True)
class LocalRules:
    """``[local.ORG]``: one organisation's rules. The defaults are open at all hours."""

    timezone: str = "Europe/London"
    nation: str = "england"
    hours: Mapping[str, str] = field(default_factory=dict)  # empty: open at all hours
    closed_on_bank_holidays: bool = False
    out_of_hours_message: str = ""  # "" = the standard sentence (telephony.prompts)
    out_of_hours_message_cy: str = ""  # for Welsh callers and chats; "" = the standard one
    fallback: str = CALLBACK  # "callback" or "org:PARTNER-ID"
    greeting: str = ""  # "" = the standard welcome
    greeting_cy: str = ""
    priority: int = 0  # 0..10, like [staffing.skills.ID].priority
    numbers: tuple[str, ...] = ()  # the numbers (E.164) callers and texters use for it
    skills: Mapping[str, SkillRules] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Effective:
    """An organisation's rules for one skill, its overrides applied."""

    org: str
    timezone: str
    nation: str
    hours: Mapping[str, str]
    closed_on_bank_holidays: bool
    out_of_hours_message: str
    out_of_hours_message_cy: str
    fallback: str
    priority: int


@dataclass(frozen=True, slots=True)
class OpenState:
    """Open or not at an instant. ``why`` is ``hours``, ``bank-holiday`` or ``always``;
    ``bank_holiday`` names the day's holiday (even when open on it); ``opens_at`` is the
    next opening (aware, the organisation's zone) when closed, None when open or not within
    ``LOOK_AHEAD_DAYS``."""

    open: bool
    why: str
    bank_holiday: str = ""
    opens_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Open:
    """Route as usual, for ``org`` (None: the shared line) at ``priority``."""

    org: str | None
    priority: int = 0


@dataclass(frozen=True, slots=True)
class ToPartner:
    """Closed: route to ``partner``'s experts, under its data-sharing agreement with ``org``."""

    org: str
    partner: str
    priority: int
    state: OpenState


@dataclass(frozen=True, slots=True)
class OfferCallback:
    """Closed: offer a callback at ``state.opens_at`` (None: no opening in sight, so only
    the message)."""

    org: str
    state: OpenState


Decision = Open | ToPartner | OfferCallback


def effective(org: str, rules: LocalRules, skill: str) -> Effective:
    """``rules`` with ``skill``'s overrides applied."""
    own = rules.skills.get(skill, SkillRules())
    return Effective(
        org=org, timezone=rules.timezone, nation=rules.nation,
        hours=rules.hours if own.hours is None else own.hours,
        closed_on_bank_holidays=(rules.closed_on_bank_holidays
                                 if own.closed_on_bank_holidays is None
                                 else own.closed_on_bank_holidays),
        out_of_hours_message=own.out_of_hours_message or rules.out_of_hours_message,
        out_of_hours_message_cy=own.out_of_hours_message_cy or rules.out_of_hours_message_cy,
        fallback=own.fallback or rules.fallback,
        priority=rules.priority if own.priority is None else own.priority)


# -- the decisions ------------------------------------------------------------------------------
def is_open(rules: Effective, at: datetime) -> OpenState:
    """Whether the organisation (for this skill) is open at ``at`` (an aware instant)."""
    zone = ZoneInfo(rules.timezone)
    local = at.astimezone(zone)
    holiday = bank_holiday(rules.nation, local.date())
    if not rules.hours and not rules.closed_on_bank_holidays:
        return OpenState(True, "always", holiday)
    if _open_at(rules, local):
        return OpenState(True, "hours", holiday)
    why = "bank-holiday" if holiday and rules.closed_on_bank_holidays else "hours"
    return OpenState(False, why, holiday, next_opening(rules, at))


def next_opening(rules: Effective, at: datetime) -> datetime | None:
    """The first instant after ``at`` at which the organisation opens, in its zone."""
    zone = ZoneInfo(rules.timezone)
    local = at.astimezone(zone)
    for ahead in range(LOOK_AHEAD_DAYS + 1):
        day = local.date() + timedelta(days=ahead)
        if _closed_all_day(rules, day):
            continue
        for start, _end in spans_of(rules.hours, day.weekday()):
            opens = datetime.combine(day, datetime.min.time(), zone) + timedelta(minutes=start)
            if opens > local:
                return opens
    return None


def route_out_of_hours(local: Mapping[str, LocalRules], org: str, skill: str, at: datetime, *,
                       may_share: Callable[[str, str], bool]) -> Decision:
    """Where a contact for ``org`` and ``skill`` goes at ``at``: as usual when open; when
    closed, to the partner named by ``fallback = "org:ID"`` if an agreement is in force
    (``may_share``) and the partner is open itself, else a callback offer. An organisation
    without rules is always open."""
    rules = local.get(org)
    if rules is None:
        return Open(org)
    mine = effective(org, rules, skill)
    state = is_open(mine, at)
    if state.open:
        return Open(org, mine.priority)
    partner = mine.fallback.removeprefix(PARTNER) if mine.fallback.startswith(PARTNER) else ""
    if partner and may_share(org, partner):
        theirs = local.get(partner)
        if theirs is None or is_open(effective(partner, theirs, skill), at).open:
            priority = mine.priority if theirs is None else effective(partner, theirs,
                                                                      skill).priority
            return ToPartner(org, partner, priority, state)
    return OfferCallback(org, state)


def org_of_number(local: Mapping[str, LocalRules], number: str) -> str | None:
    """The organisation whose line ``number`` is (``whatsapp:`` prefix ignored)."""
    bare = number.removeprefix("whatsapp:")
    return next((org for org, rules in local.items() if bare and bare in rules.numbers), None)


# -- hours and holidays -------------------------------------------------------------------------
def bank_holiday(nation: str, day: date) -> str:
    """The name of ``day``'s bank holiday in ``nation``, or ""."""
    return _holidays(NATIONS.get(nation, "ENG"), day.year).get(day) or ""


@functools.lru_cache(maxsize=64)
def _holidays(subdiv: str, year: int) -> Mapping[date, str]:
    found = holidays.country_holidays("GB", subdiv=subdiv, years=year)
    return {day: str(name) for day, name in found.items()}


def spans_of(hours: Mapping[str, str], weekday: int) -> tuple[Span, ...]:
    """A weekday's spans (Monday 0); no table: the whole day."""
    if not hours:
        return ((0, 24 * 60),)
    text = hours.get(DAYS[weekday], hours.get(DAILY, CLOSED))
    return parse_day(text)


def parse_day(text: str) -> tuple[Span, ...]:
    """``"closed"`` or ``"08:00-12:30, 13:30-17:00"`` as minute spans; ValueError if not."""
    if text.strip() == CLOSED:
        return ()
    spans = []
    for part in text.split(","):
        found = _SPAN.fullmatch(part.strip())
        if found is None:
            raise ValueError(f"{part.strip()!r} is not HH:MM-HH:MM")
        start = int(found[1]) * 60 + int(found[2])
        end = 24 * 60 if found[3] == "24:00" else int(found[4]) * 60 + int(found[5])
        if end <= start:
            raise ValueError(f"{part.strip()!r} ends before it starts (write a span over "
                             "midnight as two days)")
        spans.append((start, end))
    return tuple(sorted(spans))


def _open_at(rules: Effective, local: datetime) -> bool:
    if _closed_all_day(rules, local.date()):
        return False
    minute = local.hour * 60 + local.minute
    return any(start <= minute < end for start, end in spans_of(rules.hours, local.weekday()))


def _closed_all_day(rules: Effective, day: date) -> bool:
    return rules.closed_on_bank_holidays and bool(bank_holiday(rules.nation, day))


# -- validation (base.config raises the first problem) ------------------------------------------
def problems(local: Mapping[str, LocalRules]) -> list[tuple[str, str]]:
    """Every problem in ``[local.*]`` as (key, message), in file order."""
    found: list[tuple[str, str]] = []
    owners: dict[str, str] = {}
    for org, rules in local.items():
        key = f"local.{org}"
        try:
            ZoneInfo(rules.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            found.append((f"{key}.timezone", f"{rules.timezone!r} is not an IANA time zone "
                                             "(Europe/London)"))
        if rules.nation not in NATIONS:
            found.append((f"{key}.nation", f"must be one of {', '.join(NATIONS)}"))
        found += _hours_problems(f"{key}.hours", rules.hours)
        found += _fallback_problems(f"{key}.fallback", org, rules.fallback)
        if not 0 <= rules.priority <= 10:
            found.append((f"{key}.priority", "must be 0..10"))
        for i, number in enumerate(rules.numbers):
            if _E164.fullmatch(number) is None:
                found.append((f"{key}.numbers[{i}]", "must be an E.164 number (+443001234567)"))
            elif owners.setdefault(number, org) != org:
                found.append((f"{key}.numbers[{i}]", f"{number} is already "
                                                     f"local.{owners[number]}'s"))
        for skill, own in rules.skills.items():
            found += _skill_problems(f"{key}.skills.{skill}", org, own)
    return found


def _skill_problems(key: str, org: str, own: SkillRules) -> list[tuple[str, str]]:
    found = [] if own.hours is None else _hours_problems(f"{key}.hours", own.hours)
    if own.fallback:
        found += _fallback_problems(f"{key}.fallback", org, own.fallback)
    if own.priority is not None and not 0 <= own.priority <= 10:
        found.append((f"{key}.priority", "must be 0..10"))
    return found


def _hours_problems(key: str, hours: Mapping[str, str]) -> list[tuple[str, str]]:
    found = []
    for day, text in hours.items():
        if day not in (*DAYS, DAILY):
            found.append((f"{key}.{day}", "unknown day: use mon, tue, wed, thu, fri, sat, sun "
                                          "or daily"))
            continue
        try:
            parse_day(text)
        except ValueError as exc:
            found.append((f"{key}.{day}", f"must be \"closed\" or spans like "
                                          f"\"08:00-20:00\": {exc}"))
    return found


def _fallback_problems(key: str, org: str, fallback: str) -> list[tuple[str, str]]:
    if fallback == CALLBACK:
        return []
    partner = fallback.removeprefix(PARTNER)
    if not fallback.startswith(PARTNER) or not partner:
        return [(key, "must be \"callback\" or \"org:ID\" (an organisation with a data-sharing "
                      "agreement)")]
    if partner == org:
        return [(key, "names the organisation itself: name a partner organisation")]
    return []
