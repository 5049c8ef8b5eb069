"""Target-aware escalation (issue 17, item 1): a contact's radius widens from its skill's
service-level target and the live queue, not from fixed timers.

The pure rule (``router.escalation``) first, then the core as a desk would see it: who is
offered the contact, and when, on the core's own clock (no server, no sleep).
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from router import commands as cmd
from router import events as ev
from router.core import RoutingCore
from router.escalation import adapt, likely_wait, schedule
from router.model import Channel, ContactSpec, ExpertProfile, Pool, RoutingConfig
from simulator.compare import compare
from simulator.engine import simulate
from simulator.scenario import load_scenario
from tests import test_router_policies as policies

POOL = Pool(substitutes={"dementia": (("dementia", 0.0), ("carers", 1.0))})
ANN = ExpertProfile(id="ann", skills={"dementia": 5}, languages={"en"})
CAT = ExpertProfile(id="cat", skills={"carers": 5}, languages={"en"})


def test_steps_come_due_at_shares_of_the_target() -> None:
    assert schedule(20, 4) == (0.0, 8.0, 15.0, 30.0)
    assert schedule(60, 4) == (0.0, 24.0, 45.0, 90.0)
    assert schedule(20, 5)[-1] == 60.0  # later steps double
    assert all(t * 1024 == int(t * 1024) for t in schedule(7.3, 4))  # exact on a 1/1024 s clock


def test_the_likely_wait_grows_with_the_queue_and_needs_someone_staffed() -> None:
    assert likely_wait(0, 300, 10) < likely_wait(3, 300, 10) < likely_wait(3, 300, 5)
    assert likely_wait(0, 300, 0) == float("inf")
    # a percentile, not the mean: the 90th of an exponential wait is about 2.3 means
    assert likely_wait(0, 300, 10) == pytest.approx(30 * 2.3026, rel=0.05)


def _free(*steps: int):  # type: ignore[no-untyped-def]
    return lambda k: k in steps


@pytest.mark.parametrize(("waited", "likely", "free", "expected"), [
    # the own team will likely answer in time: stay exact, look again when time is short
    (8.0, 5.0, (), (0, 15.0)),
    # it will not, and a colleague two rings out is free now: straight there
    (0.0, 40.0, (2,), (2, None)),
    (0.0, 40.0, (1, 2), (1, None)),
    # it will not, and nobody wider is free either: the schedule's step
    (8.0, 40.0, (), (1, None)),
    # the target has passed: the schedule rules, as with fixed steps
    (25.0, 0.0, (1, 2, 3), (1, None)),
])
def test_adapt(waited: float, likely: float, free: tuple[int, ...],
               expected: tuple[int, float | None]) -> None:
    due = 1 if waited >= 8 else 0
    got = adapt(0, due, 3, waited, 20.0, lambda k: 0.0 if k in free else likely,
                _free(*free))
    assert got == expected


@dataclass
class Line(policies.Line):
    """The policy tables' line, also noting each contact's session."""

    sessions: dict[str, str] = field(default_factory=dict)  # contact id -> session id

    def take(self, command: cmd.Command) -> None:
        super().take(command)
        if isinstance(command, cmd.Connected):
            self.sessions[command.contact_id] = command.session_id

    def arrive(self, contact_id: str, at: float) -> None:
        self.run_until(at)
        spec = ContactSpec(id=contact_id, channel=Channel.VOICE, skill="dementia", arrived_at=at)
        self.send(ev.ContactArrived(spec), at)

    def answer(self, contact_id: str, at: float) -> None:
        offer = next(o for o in self.offers if o.contact_id == contact_id)
        self.run_until(at)
        self.send(ev.OfferAccepted(offer.offer_id), at)

    def hang_up(self, contact_id: str, at: float) -> None:
        self.run_until(at)
        self.send(ev.SessionEnded(self.sessions[contact_id]), at)


def _line(escalation: str = "target", *experts: ExpertProfile) -> Line:
    config = RoutingConfig(escalation=escalation, target_s=60.0, targets=(("dementia", 20.0),),
                           wrapup_s=0.0)
    line = Line(RoutingCore(config, POOL))
    for expert in experts:
        line.send(ev.ExpertOnline(expert), 0.0)
    return line


def test_a_related_expert_is_offered_by_the_skills_target_not_a_fixed_timer() -> None:
    """Dementia promises 20 s: a carers adviser (cost 1.0, the third ring) is offered the
    caller at 0.75 x 20 = 15 s, where the fixed steps would wait 90 s."""
    line = _line("target", CAT)
    line.arrive("c1", 10.0)
    line.run_until(24.9)
    assert line.offered("c1") == []
    line.run_until(25.0)
    assert line.offered("c1") == ["cat"]

    fixed = _line("fixed", CAT)
    fixed.arrive("c1", 10.0)
    fixed.run_until(99.9)
    assert fixed.offered("c1") == []
    fixed.run_until(100.0)
    assert fixed.offered("c1") == ["cat"]


def _busy_ann(line: Line, session_s: float) -> None:
    """Ann answers one caller for ``session_s`` (what the core learns a session takes), then
    a second one, so she is busy when the next caller rings."""
    line.arrive("first", 1.0)
    line.answer("first", 1.0)
    line.hang_up("first", 1.0 + session_s)
    line.arrive("second", 2.0 + session_s)
    line.answer("second", 2.0 + session_s)


def test_a_caller_goes_straight_to_a_free_colleague_when_their_team_would_miss_the_target(
) -> None:
    line = _line("target", ANN, CAT)
    _busy_ann(line, 600.0)  # ann's calls take ten minutes
    line.arrive("c3", 700.0)
    assert line.offered("c3") == ["cat"]  # at once, not 15 s later


def test_a_caller_waits_for_their_own_team_while_it_will_likely_answer_in_time() -> None:
    line = _line("target", ANN, CAT)
    _busy_ann(line, 1.0)  # ann's calls take a second: she will be free long before 20 s
    line.arrive("c3", 10.0)
    line.run_until(10.0 + 16.0)  # past the 15 s at which the schedule would widen
    assert line.offered("c3") == []
    line.hang_up("second", 26.5)
    assert line.offered("c3") == ["ann"]  # the exact match, within the target


SCENARIOS = Path(__file__).resolve().parent.parent / "examples"
SHIPPED = [SCENARIOS / "dementia-carers.toml", SCENARIOS / "demo-day.toml",
           *sorted((SCENARIOS / "escalation").glob("*.toml"))]


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_the_default_graph_policy_pools_and_beats_fixed_steps(path: Path) -> None:
    """On every shipped scenario (graphs, 20 s and 60 s targets, light load to 98 % offered):
    at least 0.8 of a fully pooled team's gain, and never below the fixed steps."""
    comparison = compare(load_scenario(path), policies=("exact", "graph"))
    graph = next(m for m in comparison.runs if m.policy == "graph" and m.escalation == "target")
    fixed = next(m for m in comparison.runs if m.escalation == "fixed")
    efficiency = comparison.efficiency(graph)
    assert efficiency is not None and efficiency >= 0.8
    assert graph.overall.service_level >= fixed.overall.service_level


def test_at_light_load_nearly_every_contact_is_served_at_its_own_skill() -> None:
    metrics = simulate(load_scenario(SCENARIOS / "escalation" / "older-people-light.toml"))
    assert all(team.occupancy < 0.6 for team in metrics.by_team.values())
    assert metrics.overall.exact_share >= 0.95
    assert metrics.overall.service_level > 0.95


def test_simulate_json_reports_match_quality_overall_and_per_skill() -> None:
    path = SCENARIOS / "escalation" / "older-people-20s.toml"
    result = json.loads(subprocess.run(
        [sys.executable, "-m", "expertline", "simulate", str(path), "--compare", "--json"],
        capture_output=True, text=True, check=True).stdout)
    rows = {(p["policy"], p["escalation"]): p for p in result["policies"]}
    assert set(rows) == {("exact", "none"), ("graph", "target"), ("optimal", "target"),
                         ("graph", "fixed")}
    exact, graph = rows[("exact", "none")], rows[("graph", "target")]
    assert exact["exact_share"] == 1.0 and exact["mean_substitution_cost"] == 0.0
    assert graph["mean_substitution_cost"] > 0.0
    assert 0.8 < graph["exact_share"] < 1.0
    skills = graph["by_skill"].values()
    served = sum(s["answered"] for s in skills)
    assert sum(s["exact_share"] * s["answered"] for s in skills) / served == pytest.approx(
        graph["exact_share"])
    assert sum(s["mean_substitution_cost"] * s["answered"] for s in skills) / served == (
        pytest.approx(graph["mean_substitution_cost"]))
