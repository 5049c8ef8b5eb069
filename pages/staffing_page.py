"""``/console/staffing``: how many agents a queue needs, explained in plain words.

``GET /console/staffing?calls_per_hour=&aht_s=&target_s=&service_level=&patience_s=&agents=``
is a GOV.UK form that answers with the offered traffic in Erlangs, the fewest agents meeting the
service-level target if callers never give up (Erlang C) and, with a mean patience, if they do
(Erlang A, with the share who would give up); for a given number of agents, the service level,
the chance of waiting and the average speed of answer; and a table of agents n..n+7 with their
service level, so a planner sees the curve. Bad input (not a number, out of range) gives the
GOV.UK error summary and status 400, never a 500. For signed-in supervisors and admins only.

The maths is ``scheduler.erlang``'s, but ``pages`` may not import ``scheduler`` (they share a
floor): the composition root hands the functions in, ``setup_staffing(app, StaffingMaths(…))``,
and this module knows them only by the shapes below (``Figures``, ``Staffed``).
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from aiohttp import web

from base.errors import InvalidInput
from pages.console import console_page, sign_in_first, supervisor

ROWS = 8  # the curve: agents n..n+7
THOUSANDS = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?")


class Figures(Protocol):
    """One staffing level's figures (``scheduler.erlang.ErlangC``)."""

    @property
    def traffic_erlangs(self) -> float: ...
    @property
    def pw(self) -> float: ...
    @property
    def service_level(self) -> float: ...
    @property
    def asa_s(self) -> float: ...
    @property
    def occupancy(self) -> float: ...


class AbandonFigures(Figures, Protocol):
    """Erlang A's figures (``scheduler.erlang.ErlangA``): also the share who give up."""

    @property
    def abandon_rate(self) -> float: ...


class Staffed(Protocol):
    """``scheduler.erlang.Staffing``: the fewest agents meeting a target."""

    @property
    def agents(self) -> int: ...


@dataclass(frozen=True, slots=True)
class StaffingMaths:
    """The staffing functions, handed in by the composition root (``scheduler.erlang``).

    Units as there: contacts per hour, seconds, fractions in 0..1. Each raises
    ``base.errors.InvalidInput`` for what it cannot answer (``erlang_c`` when the agents do not
    exceed the traffic)."""

    traffic: Callable[[float, float], float]  # (per_hour, aht_s) -> Erlangs
    erlang_c: Callable[[float, float, int, float], Figures]  # (per_hour, aht_s, agents, target_s)
    erlang_a: Callable[[float, float, int, float, float], AbandonFigures]  # … patience_s
    staff: Callable[[float, float, float, float, float | None], Staffed]
    # (per_hour, aht_s, target_s, service_level, patience_s or None)


MATHS = web.AppKey("pages.staffing_maths", StaffingMaths)


def setup_staffing(app: web.Application, maths: StaffingMaths) -> None:
    """Keep the maths and serve ``/console/staffing``."""
    app[MATHS] = maths
    app.router.add_get("/console/staffing", staffing)


# -- the form -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Field:
    """One input: its label, hint, what its error messages call it, and its range."""

    name: str
    label: str
    hint: str
    called: str  # in error messages: "Enter {called}"
    low: float
    high: float
    low_open: bool = False  # must be more than ``low`` (not equal)
    whole: bool = False
    required: bool = True
    suffix: str = ""

    @property
    def noun(self) -> str:
        """What "… must be a number" calls it: the label without "(optional)"."""
        return self.label.removesuffix(" (optional)")

    def range_message(self) -> str:
        low, high = _plain(self.low), _plain(self.high)
        if self.low_open:
            return f"{self.noun} must be more than {low} and at most {high}"
        return f"{self.noun} must be between {low} and {high}"


FIELDS = (
    Field("calls_per_hour", "Contacts offered per hour",
          "Calls and chats that arrive in one hour, for example 200", "the contacts per hour",
          0, 10_000, low_open=True),
    Field("aht_s", "Average handling time",
          "Talking plus wrap-up, in seconds, for example 180", "the average handling time",
          1, 3_600, suffix="seconds"),
    Field("target_s", "Target answer time",
          "Answered within this many seconds counts as answered in time, for example 20",
          "the target answer time", 0, 3_600, suffix="seconds"),
    Field("service_level", "Service level target",
          "The percentage of contacts to answer within the target time, for example 80 "
          "(not 0.8)",
          "the service level target", 1, 99.9, suffix="%"),
    Field("patience_s", "Average patience (optional)",
          "How long callers wait, on average, before they give up, in seconds, for example "
          "120. Leave it empty if callers never give up", "the average patience",
          1, 3_600, required=False, suffix="seconds"),
    Field("agents", "Agents on duty (optional)",
          "A number of agents to check, for example 14", "the number of agents",
          1, 20_000, whole=True, required=False),
)
BY_NAME = {f.name: f for f in FIELDS}


def _plain(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,g}"


@dataclass(frozen=True, slots=True)
class Question:
    """A checked question: contacts per hour, seconds, a fraction, and the optional parts."""

    per_hour: float
    aht_s: float
    target_s: float
    service_level: float  # 0..1
    patience_s: float | None
    agents: int | None


def read_form(query: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str],
                                                  Question | None]:
    """The values as typed (to show again), an error message per bad field, and the question
    when every field is good."""
    typed = {f.name: query.get(f.name, "").strip()[:40] for f in FIELDS}
    errors: dict[str, str] = {}
    numbers: dict[str, float | None] = {}
    for f in FIELDS:
        numbers[f.name], problem = _number(f, typed[f.name])
        if problem:
            errors[f.name] = problem
    if errors:
        return typed, errors, None
    agents = numbers["agents"]
    return typed, errors, Question(
        per_hour=numbers["calls_per_hour"] or 0.0, aht_s=numbers["aht_s"] or 0.0,
        target_s=numbers["target_s"] or 0.0, service_level=(numbers["service_level"] or 0) / 100,
        patience_s=numbers["patience_s"], agents=None if agents is None else int(agents))


def _number(f: Field, text: str) -> tuple[float | None, str]:
    """A number as people type it: ``1,200`` (commas between thousands only: ``2,5`` is not
    taken for 25, nor for 2.5), ``80%``."""
    cleaned = text.removesuffix("%").strip()
    if not cleaned:
        return None, f"Enter {f.called}" if f.required else ""
    if THOUSANDS.fullmatch(cleaned):
        cleaned = cleaned.replace(",", "")
    try:
        value = float(cleaned) if cleaned.isascii() and "_" not in cleaned else math.nan
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        return None, f"{f.noun} must be {'a whole number' if f.whole else 'a number'}"
    if f.whole and value != int(value):
        return None, f"{f.noun} must be a whole number"
    if value > f.high or value < f.low or (f.low_open and value == f.low):
        return None, f.range_message()
    return value, ""


# -- the answer ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the curve: ``c`` is None where Erlang C's queue would grow without end."""

    agents: int
    c: Figures | None
    a: AbandonFigures | None
    meets_c: bool
    meets_a: bool


@dataclass(frozen=True, slots=True)
class Answer:
    question: Question
    traffic: float
    fewest_c: int
    at_fewest_c: Figures
    fewest_a: int | None = None
    at_fewest_a: AbandonFigures | None = None
    at_agents_c: Figures | None = None  # None: the given agents cannot carry the traffic
    at_agents_a: AbandonFigures | None = None
    rows: list[Row] = field(default_factory=list)


def answer(maths: StaffingMaths, q: Question) -> Answer:
    """Everything the page says about ``q`` (a few milliseconds of arithmetic)."""
    traffic = maths.traffic(q.per_hour, q.aht_s)
    fewest_c = maths.staff(q.per_hour, q.aht_s, q.target_s, q.service_level, None).agents
    fewest_a = at_fewest_a = None
    if q.patience_s is not None:
        fewest_a = maths.staff(q.per_hour, q.aht_s, q.target_s, q.service_level,
                               q.patience_s).agents
        at_fewest_a = _a(maths, q, fewest_a)
    start = q.agents if q.agents is not None else max(1, min(fewest_c, fewest_a or fewest_c) - 2)
    rows = []
    for n in range(start, start + ROWS):
        c, a = _c(maths, q, n), _a(maths, q, n)
        rows.append(Row(n, c, a, c is not None and c.service_level >= q.service_level,
                        a is not None and a.service_level >= q.service_level))
    return Answer(
        question=q, traffic=traffic, fewest_c=fewest_c,
        at_fewest_c=maths.erlang_c(q.per_hour, q.aht_s, fewest_c, q.target_s),
        fewest_a=fewest_a, at_fewest_a=at_fewest_a,
        at_agents_c=_c(maths, q, q.agents) if q.agents is not None else None,
        at_agents_a=_a(maths, q, q.agents) if q.agents is not None else None,
        rows=rows)


def _c(maths: StaffingMaths, q: Question, agents: int) -> Figures | None:
    if agents <= maths.traffic(q.per_hour, q.aht_s):
        return None  # more callers than agents can ever answer: the queue grows forever
    return maths.erlang_c(q.per_hour, q.aht_s, agents, q.target_s)


def _a(maths: StaffingMaths, q: Question, agents: int) -> AbandonFigures | None:
    if q.patience_s is None:
        return None
    return maths.erlang_a(q.per_hour, q.aht_s, agents, q.target_s, q.patience_s)


# -- the page -----------------------------------------------------------------------------------


async def staffing(request: web.Request) -> web.Response:
    who = await supervisor(request)
    if who is None:
        return sign_in_first(request)
    asked = any(f.name in request.query for f in FIELDS)
    typed, errors, question = read_form(request.query) if asked else (
        {f.name: "" for f in FIELDS}, {}, None)
    result = None
    if question is not None:
        try:  # off the event loop: the routing engine shares it
            result = await asyncio.to_thread(answer, request.app[MATHS], question)
        except InvalidInput as exc:
            errors["service_level"] = f"{exc.message[:1].upper()}{exc.message[1:]}"
    title = "Error: Staffing" if errors else "Staffing"
    return console_page(request, who, "console_staffing.html", title=title,
                        status=400 if errors else 200, fields=FIELDS, typed=typed,
                        errors=errors, answer=result, pct=pct, secs=secs, whole=whole)


def pct(fraction: float) -> str:
    """``0.8883`` -> ``88.8%``."""
    return f"{fraction * 100:.1f}%"


def secs(seconds: float) -> str:
    return f"{seconds:.1f} seconds"


def whole(value: float) -> str:
    return _plain(value)
