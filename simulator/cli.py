"""``expertline simulate SCENARIO.toml [--policy NAME] [--seed K] [--compare] [--scale F]
[--json]`` (docs/simulator.md)."""

from __future__ import annotations

import argparse
import json

from base.cli import CliContext, Subparsers
from base.errors import BadRequest
from router.model import POLICIES
from simulator.compare import compare
from simulator.engine import simulate
from simulator.report import format_comparison, format_metrics
from simulator.scenario import load_scenario


def register_cli(sub: Subparsers) -> None:
    """Add ``simulate`` to the ``expertline`` parser."""
    parser = sub.add_parser(
        "simulate", help="run a scenario through the routing core on a virtual clock",
        description="Simulate a contact-centre scenario (see docs/simulator.md).")
    parser.add_argument("scenario", metavar="SCENARIO.toml", help="the scenario file")
    parser.add_argument("--policy", choices=POLICIES,
                        help="routing policy (default: the scenario's)")
    parser.add_argument("--seed", type=int, metavar="K", help="random seed (default: the "
                        "scenario's)")
    parser.add_argument("--compare", action="store_true",
                        help="run every policy and report the pooling efficiency")
    parser.add_argument("--scale", type=float, metavar="F",
                        help="multiply team sizes and demand by F (e.g. 10 for a bigger day)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=_simulate)


def _simulate(args: argparse.Namespace, ctx: CliContext) -> int:
    if args.compare and args.policy:
        raise BadRequest("--compare runs every policy: drop --policy")
    if args.scale is not None and not args.scale > 0:
        raise BadRequest(f"--scale must be > 0, not {args.scale:g}")
    if args.seed is not None and args.seed < 0:
        raise BadRequest(f"--seed must be >= 0, not {args.seed}")
    scenario = load_scenario(args.scenario).with_options(seed=args.seed, scale=args.scale)
    if args.compare:
        comparison = compare(scenario)
        print(json.dumps(comparison.to_json(), indent=2) if args.json
              else format_comparison(comparison, scenario))
        return 0
    metrics = simulate(scenario, policy=args.policy)
    print(json.dumps(metrics.to_json(), indent=2) if args.json
          else format_metrics(metrics, scenario))
    return 0
