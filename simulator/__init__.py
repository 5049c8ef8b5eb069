"""Discrete-event simulation of a contact centre, driving the real routing core.

    from simulator import load_scenario, simulate, compare
    metrics = simulate(load_scenario("examples/erlang-classic.toml"))

See ``docs/simulator.md`` for the scenario keys and what is measured.
"""

from simulator.compare import Comparison, compare, pooled
from simulator.engine import Simulation, simulate
from simulator.metrics import Figures, Metrics
from simulator.scenario import Scenario, load_scenario, parse_scenario

__all__ = ["Comparison", "Figures", "Metrics", "Scenario", "Simulation", "compare",
           "load_scenario", "parse_scenario", "pooled", "simulate"]
