"""``python -m bench.escalation [--seeds N] [--json] [SCENARIO.toml ...]``: what target-aware
escalation buys, scenario by scenario.

Each scenario (by default the two examples and ``examples/escalation/*.toml``: different
graphs, targets of 20 s and 60 s, loads from light to 95 % busy) runs with seeds 1..N under
``exact``, ``graph`` (target escalation, the default) and ``graph`` with the fixed steps, and
prints the mean over the seeds of each one's service level, the pooled team's (queueing
theory, ``simulator.compare``), ``graph``'s pooling efficiency, its share of contacts served at
their exact skill and its mean substitution cost, and the fixed steps' service level and
efficiency beside them. Also the worst seed's efficiency, since a mean can hide one.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulator.compare import compare
from simulator.metrics import Metrics
from simulator.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent / "examples"
DEFAULT = (ROOT / "dementia-carers.toml", ROOT / "demo-day.toml",
           *sorted((ROOT / "escalation").glob("*.toml")))


@dataclass(frozen=True, slots=True)
class Row:
    scenario: str
    target_s: float
    occupancy: float  # graph's, all teams
    exact_sl: float
    graph_sl: float
    fixed_sl: float
    pooled_sl: float
    efficiency: float | None
    worst_efficiency: float | None
    fixed_efficiency: float | None
    exact_share: float
    substitution_cost: float

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


def _mean(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.fmean(known) if known else None


def measure(path: Path, seeds: int) -> Row:
    """Mean figures of one scenario over seeds 1..``seeds``."""
    scenario = load_scenario(path)
    runs: dict[str, list[Metrics]] = {"exact": [], "graph": [], "fixed": []}
    pooled: list[float] = []
    effs: dict[str, list[float | None]] = {"graph": [], "fixed": []}
    for seed in range(1, seeds + 1):
        comparison = compare(scenario, seed=seed, policies=("exact", "graph"))
        for metrics in comparison.runs:
            kind = "fixed" if metrics.escalation == "fixed" else metrics.policy
            runs[kind].append(metrics)
            if kind in effs:
                effs[kind].append(comparison.efficiency(metrics))
        pooled.append(comparison.pooled.service_level)
    graph = runs["graph"]
    worst = [e for e in effs["graph"] if e is not None]
    return Row(
        scenario=path.stem, target_s=scenario.settings.service_level_target_s,
        occupancy=statistics.fmean(m.occupancy for m in graph),
        exact_sl=statistics.fmean(m.overall.service_level for m in runs["exact"]),
        graph_sl=statistics.fmean(m.overall.service_level for m in graph),
        fixed_sl=statistics.fmean(m.overall.service_level for m in runs["fixed"]),
        pooled_sl=statistics.fmean(pooled),
        efficiency=_mean(effs["graph"]), worst_efficiency=min(worst) if worst else None,
        fixed_efficiency=_mean(effs["fixed"]),
        exact_share=statistics.fmean(m.overall.exact_share for m in graph),
        substitution_cost=statistics.fmean(m.overall.mean_substitution_cost for m in graph))


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def table(rows: list[Row], seeds: int) -> str:
    lines = [f"mean over seeds 1..{seeds}; SL = service level; eff = pooling efficiency",
             f"{'scenario':<22} {'T s':>4} {'busy':>5} {'exact SL':>8} {'graph SL':>8} "
             f"{'fixed SL':>8} {'pooled':>7} {'eff':>5} {'worst':>5} {'fixed eff':>9} "
             f"{'at exact skill':>14} {'mean cost':>9}"]
    for r in rows:
        lines.append(
            f"{r.scenario:<22} {r.target_s:>4.0f} {r.occupancy:>5.0%} {r.exact_sl:>8.1%} "
            f"{r.graph_sl:>8.1%} {r.fixed_sl:>8.1%} {r.pooled_sl:>7.1%} {_num(r.efficiency):>5} "
            f"{_num(r.worst_efficiency):>5} {_num(r.fixed_efficiency):>9} {r.exact_share:>14.1%} "
            f"{r.substitution_cost:>9.3f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.escalation", description=__doc__)
    parser.add_argument("scenarios", nargs="*", type=Path, help="scenario files (default: "
                        "the examples and examples/escalation)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 1..N (default 3)")
    parser.add_argument("--json", action="store_true", help="one JSON object per scenario")
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error("--seeds must be at least 1")
    rows = []
    for path in args.scenarios or DEFAULT:
        row = measure(path, args.seeds)
        rows.append(row)
        if args.json:
            print(json.dumps({"bench": "escalation", **row.to_json()}), flush=True)
    if not args.json:
        print(table(rows, args.seeds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
