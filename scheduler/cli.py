"""``expertline erlang c|a|staff``: staffing maths from the command line (see the README)."""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable
from typing import TypeVar

from base.cli import CliContext, Subparsers
from base.errors import BadRequest, InvalidInput
from scheduler import erlang

T = TypeVar("T")
_FLAGS = {"per_hour": "--per-hour", "aht_s": "--aht", "agents": "--agents", "target_s": "--target",
          "patience_s": "--patience", "service_level": "--service-level"}

_LABELS = (
    ("agents", "agents", "{:d}"),
    ("traffic_erlangs", "traffic (Erlangs)", "{:.2f}"),
    ("pw", "P(wait)", "{:.4f}"),
    ("service_level", "service level", "{:.4f}"),
    ("asa_s", "ASA (s)", "{:.2f}"),
    ("occupancy", "occupancy", "{:.4f}"),
    ("abandon_rate", "abandon rate", "{:.4f}"),
)


def register_cli(sub: Subparsers) -> None:
    """Add ``erlang c``, ``erlang a`` and ``erlang staff`` to the ``expertline`` parser."""
    parser = sub.add_parser("erlang", help="Erlang C/A staffing maths")
    kinds = parser.add_subparsers(dest="erlang", required=True, parser_class=type(parser))
    c = kinds.add_parser("c", help="Erlang C figures for a staffing level")
    _common(c, agents=True)
    c.set_defaults(func=_erlang_c)
    a = kinds.add_parser("a", help="Erlang A figures (callers abandon after a patience)")
    _common(a, agents=True)
    a.add_argument("--patience", type=_number, required=True, metavar="S",
                   help="mean caller patience, seconds (exponential)")
    a.set_defaults(func=_erlang_a)
    staff = kinds.add_parser("staff", help="fewest agents meeting a service-level target")
    _common(staff, agents=False)
    staff.add_argument("--service-level", type=_number, required=True, metavar="X",
                       help="fraction answered within the target, 0..1 (e.g. 0.8)")
    staff.add_argument("--patience", type=_number, metavar="S",
                       help="mean caller patience, seconds: use Erlang A instead of Erlang C")
    staff.set_defaults(func=_staff)


def _common(parser: argparse.ArgumentParser, *, agents: bool) -> None:
    parser.add_argument("--per-hour", type=_number, required=True, metavar="R",
                        help="contacts offered per hour")
    parser.add_argument("--aht", type=_number, required=True, metavar="S",
                        help="mean handle time, seconds")
    if agents:
        parser.add_argument("--agents", type=int, required=True, metavar="N",
                            help="agents staffed")
    parser.add_argument("--target", type=_number, required=True, metavar="T",
                        help="service-level target: answered within T seconds")
    parser.add_argument("--json", action="store_true", help="print JSON")


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if math.isnan(value):
        raise argparse.ArgumentTypeError("not a number: nan")
    return value


def _erlang_c(args: argparse.Namespace, ctx: CliContext) -> int:
    result = _call(erlang.erlang_c, args.per_hour, args.aht, args.agents, args.target)
    return _print(result.to_json(), args.json, agents=args.agents)


def _erlang_a(args: argparse.Namespace, ctx: CliContext) -> int:
    result = _call(erlang.erlang_a, args.per_hour, args.aht, args.agents, args.target,
                   args.patience)
    return _print(result.to_json(), args.json, agents=args.agents)


def _staff(args: argparse.Namespace, ctx: CliContext) -> int:
    result = _call(erlang.staff, args.per_hour, args.aht, args.target, args.service_level,
                   args.patience)
    return _print(result.to_json(), args.json)


def _call(fn: Callable[..., T], *values: float | None) -> T:
    """Run an Erlang function, turning its InvalidInput into the CLI's one-line BadRequest."""
    try:
        return fn(*values)
    except InvalidInput as exc:
        field = exc.details.get("field", "")
        message = exc.message
        if field in _FLAGS and message.startswith(field):
            message = _FLAGS[field] + message[len(field):]
        raise BadRequest(message) from exc


def _print(figures: dict[str, float], as_json: bool, *, agents: int | None = None) -> int:
    if as_json:
        print(json.dumps(figures))
        return 0
    shown = {"agents": agents, **figures} if agents is not None else figures
    for key, label, fmt in _LABELS:
        if key in shown:
            print(f"{label:<18} {fmt.format(shown[key])}")
    return 0
