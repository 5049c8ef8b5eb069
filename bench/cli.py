"""``expertline bench routing|pool-load``: the benchmarks from the command line."""

from __future__ import annotations

import argparse
import json

from base.cli import CliContext, Subparsers
from base.errors import BadRequest
from bench import pool_load, routing

POLICIES = ("exact", "graph", "optimal")


def register_cli(sub: Subparsers) -> None:
    """Add ``bench routing`` and ``bench pool-load`` to the ``expertline`` parser."""
    bench = sub.add_parser("bench", help="benchmarks that print figures")
    kinds = bench.add_subparsers(dest="kind", required=True, parser_class=type(bench))
    rt = kinds.add_parser("routing", help="time routing decisions on a synthetic pool")
    rt.add_argument("--experts", type=_positive, default=10_000)
    rt.add_argument("--skills", type=_positive, default=500)
    rt.add_argument("--waiting", type=_count, default=1_000)
    rt.add_argument("--decisions", type=_positive, default=20_000)
    rt.add_argument("--rounds", type=_positive, default=1,
                    help="timed rounds over one pool and queue; figures are the median round's")
    rt.add_argument("--policy", choices=POLICIES, default="graph")
    rt.add_argument("--seed", type=int, default=1)
    rt.add_argument("--json", action="store_true", help="print JSON (the documented keys first)")
    rt.set_defaults(func=_routing)
    pl = kinds.add_parser("pool-load", help="time loading the pool from the database")
    pl.add_argument("--experts", type=_count, default=100_000)
    pl.add_argument("--skills-per-expert", type=_count, default=5)
    pl.add_argument("--skills", type=_positive, default=2000)
    pl.add_argument("--url", help="an empty database URL (default: a temporary SQLite file)")
    pl.add_argument("--json", action="store_true", help="print JSON")
    pl.set_defaults(func=_pool_load)


def _positive(text: str) -> int:
    value = _count(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {text}")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, not {text}")
    return value


def _routing(args: argparse.Namespace, ctx: CliContext) -> int:
    figures = routing.run(args.experts, args.skills, args.waiting, seed=args.seed,
                          policy=args.policy, decisions=args.decisions, rounds=args.rounds)
    return _print(figures, as_json=args.json)


def _pool_load(args: argparse.Namespace, ctx: CliContext) -> int:
    if args.skills_per_expert > args.skills:
        raise BadRequest("--skills-per-expert cannot exceed --skills")
    figures = pool_load.run(args.experts, args.skills_per_expert, args.skills, args.url)
    return _print(figures, as_json=args.json)


def _print(figures: dict[str, object], *, as_json: bool) -> int:
    if as_json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key:>20}: {value}")
    return 0
