"""``python -m bench.simulator [--hours H] [--repeats K] [--json]``: how fast the simulator is,
beside ciw on the same queue.

The textbook M/M/14 (200 contacts an hour, 180 s mean handle time, one skill, nobody abandons)
for ``H`` hours (default 400), run ``K`` times (default 3) each way, alternating, so both see the
same machine: ``expertline simulate``'s engine (the real routing core deciding every offer,
policy ``graph``, and ``exact`` for comparison) and ciw (the usual Python queueing simulator,
which routes nothing: one queue, first come first served). Prints the median contacts per
wall-clock minute of each and the ratio ours / ciw (the goal is at least 1.0).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import Any

from simulator.engine import simulate
from simulator.scenario import Scenario, parse_scenario

PER_HOUR, AHT_S, AGENTS = 200.0, 180.0, 14


def scenario(hours: float) -> Scenario:
    text = f"""
[simulation]
duration_h = {hours}
service_level_target_s = 20

[[skill]]
id = "general-advice"

[[team]]
name = "advisers"
size = {AGENTS}
skills = {{ "general-advice" = 5 }}

[[demand]]
skill = "general-advice"
per_hour = {PER_HOUR}
aht_s = {AHT_S}
"""
    return parse_scenario(text, name="M/M/14")


def ours(hours: float, policy: str) -> float:
    """Contacts per wall-clock minute of one run of our simulator."""
    metrics = simulate(scenario(hours), policy=policy)
    return metrics.contacts / metrics.wall_s * 60


def ciw_rate(hours: float, seed: int = 1) -> float:
    """Contacts per wall-clock minute of one ciw run of the same queue."""
    import ciw  # type: ignore[import-untyped]

    ciw.seed(seed)
    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate=PER_HOUR / 3600)],
        service_distributions=[ciw.dists.Exponential(rate=1 / AHT_S)],
        number_of_servers=[AGENTS])
    run = ciw.Simulation(network)
    started = time.perf_counter()
    run.simulate_until_max_time(hours * 3600)
    wall = time.perf_counter() - started
    contacts = len(run.get_all_records()) + len(run.nodes[1].all_individuals)
    return float(contacts) / wall * 60


def measure(hours: float, repeats: int) -> dict[str, Any]:
    runs: dict[str, list[float]] = {"graph": [], "exact": [], "ciw": []}
    for _ in range(repeats):
        runs["graph"].append(ours(hours, "graph"))
        runs["ciw"].append(ciw_rate(hours))
        runs["exact"].append(ours(hours, "exact"))
    median = {k: statistics.median(v) for k, v in runs.items()}
    return {"scenario": f"M/M/{AGENTS}, {PER_HOUR:g}/h, AHT {AHT_S:g} s, {hours:g} h",
            "repeats": repeats,
            "expertline_graph_per_min": round(median["graph"]),
            "expertline_exact_per_min": round(median["exact"]),
            "ciw_per_min": round(median["ciw"]),
            "ratio": round(median["graph"] / median["ciw"], 3),
            "ratio_exact": round(median["exact"] / median["ciw"], 3)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.simulator", description=__doc__)
    parser.add_argument("--hours", type=float, default=400.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if not args.hours > 0 or args.repeats < 1:
        parser.error("--hours must be > 0 and --repeats at least 1")
    figures = measure(args.hours, args.repeats)
    if args.json:
        print(json.dumps({"bench": "simulator", **figures}))
    else:
        print(f"{figures['scenario']}, median of {args.repeats}:\n"
              f"  expertline (graph) {figures['expertline_graph_per_min']:>12,} contacts/min\n"
              f"  expertline (exact) {figures['expertline_exact_per_min']:>12,} contacts/min\n"
              f"  ciw                {figures['ciw_per_min']:>12,} contacts/min\n"
              f"  ratio (graph / ciw) {figures['ratio']:.2f}   (exact / ciw) "
              f"{figures['ratio_exact']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
