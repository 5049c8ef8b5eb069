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
import os
import statistics
import subprocess
import sys
from pathlib import Path
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


CIW_DIR = Path(sys.prefix) / "ciw"
"""Where ``make install`` puts ciw: a directory of its own, since ciw ships a top-level
``tests`` package that would shadow ours on the virtualenv's path."""
CIW_RUN = """
import sys, time, ciw
hours, per_hour, aht_s, agents = (float(a) for a in sys.argv[1:5])
ciw.seed(1)
network = ciw.create_network(
    arrival_distributions=[ciw.dists.Exponential(rate=per_hour / 3600)],
    service_distributions=[ciw.dists.Exponential(rate=1 / aht_s)],
    number_of_servers=[int(agents)])
run = ciw.Simulation(network)
started = time.perf_counter()
run.simulate_until_max_time(hours * 3600)
wall = time.perf_counter() - started
print(len(run.get_all_records()) + len(run.nodes[1].all_individuals), wall)
"""


def ciw_rate(hours: float) -> float:
    """Contacts per wall-clock minute of one ciw run of the same queue (timed inside its own
    process, so the start-up is not counted)."""
    if not (CIW_DIR / "ciw").is_dir():
        raise SystemExit(f"ciw is not installed in {CIW_DIR}: run make install")
    done = subprocess.run(
        [sys.executable, "-c", CIW_RUN, str(hours), str(PER_HOUR), str(AHT_S), str(AGENTS)],
        env={**os.environ, "PYTHONPATH": str(CIW_DIR)}, capture_output=True, text=True,
        check=True)
    contacts, wall = done.stdout.split()
    return float(contacts) / float(wall) * 60


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
