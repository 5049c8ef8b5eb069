"""Parameter tables for each routing policy, on the pure core: no server, no database, no sleep.

One small pool stands for the national line: dementia with a narrower ``young-onset`` skill
and a related ``carers`` skill, experts in two organisations, a Welsh speaker and an expert
whose DBS check has expired. Each row brings some experts online (in order, a second apart, so
the first has been idle longest), lets one contact arrive, lets time pass on the core's clock
and names who is offered the contact, or nobody.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from base.errors import Conflict
from router import commands as cmd
from router import events as ev
from router.core import RoutingCore
from router.model import (
    Channel,
    ContactSpec,
    ExpertProfile,
    OfferStatus,
    Pool,
    RoutingConfig,
    Step,
)
from router.policies import make_policy

POOL = Pool(
    substitutes={
        "dementia": (("young-onset", 0.5), ("carers", 1.0)),
        "young-onset": (("dementia", 0.5), ("carers", 1.5)),
        "carers": (("dementia", 1.0), ("young-onset", 1.5)),
    },
    sharing=frozenset({("nhs", "charity")}),
)
EXPIRED, VALID = -1.0, None
EXPERTS = {
    "ann": ExpertProfile(id="ann", org="nhs", skills={"dementia": 5}, languages={"en"}),
    "bea": ExpertProfile(id="bea", org="nhs", skills={"dementia": 4}, languages={"en"}),
    "cai": ExpertProfile(id="cai", org="council", skills={"dementia": 2}, languages={"en", "cy"}),
    "dev": ExpertProfile(id="dev", org="charity", skills={"carers": 3}, languages={"en"},
                         accreditations={"dbs-enhanced": VALID}),
    "eli": ExpertProfile(id="eli", org="council", skills={"carers": 5}, languages={"en"},
                         accreditations={"dbs-enhanced": EXPIRED}),
    "fay": ExpertProfile(id="fay", org="nhs", skills={"young-onset": 2}, languages={"en"}),
}
ARRIVE = 10.0  # every expert is online by then


@dataclass
class Line:
    """The core and the shell's part: ticks delivered when due, offers collected."""

    core: RoutingCore
    tick_at: float | None = None
    offers: list[cmd.MakeOffer] = field(default_factory=list)
    decisions: list[cmd.DecisionRecorded] = field(default_factory=list)

    def send(self, event: ev.Event, now: float) -> None:
        for command in self.core.handle(event, now):
            self.take(command)

    def take(self, command: cmd.Command) -> None:
        if isinstance(command, cmd.StartTimer) and command.key == "tick":
            self.tick_at = command.at
        elif isinstance(command, cmd.MakeOffer):
            self.offers.append(command)
        elif isinstance(command, cmd.DecisionRecorded):
            self.decisions.append(command)

    def run_until(self, until: float) -> None:
        """Deliver every tick the core asks for up to ``until``, then one at ``until``."""
        while self.tick_at is not None and self.tick_at <= until:
            at, self.tick_at = self.tick_at, None
            self.send(ev.Tick(), at)
        self.send(ev.Tick(), until)

    def offered(self, contact_id: str) -> list[str]:
        return [o.expert_id for o in self.offers if o.contact_id == contact_id]


def line(policy: str, online: tuple[str, ...], **config: object) -> Line:
    core = RoutingCore(RoutingConfig(policy=policy, **config), POOL)  # type: ignore[arg-type]
    shell = Line(core)
    for n, expert_id in enumerate(online):
        shell.send(ev.ExpertOnline(EXPERTS[expert_id]), float(n))
    return shell


def contact(cid: str = "c1", skill: str = "dementia", at: float = ARRIVE,
            **extra: object) -> ContactSpec:
    return ContactSpec(id=cid, channel=Channel.VOICE, skill=skill, arrived_at=at,
                       **extra)  # type: ignore[arg-type]


def offered_after(policy: str, online: tuple[str, ...], spec: ContactSpec,
                  wait_s: float) -> str | None:
    shell = line(policy, online)
    shell.send(ev.ContactArrived(spec), spec.arrived_at)
    shell.run_until(spec.arrived_at + wait_s)
    experts = shell.offered(spec.id)  # an unanswered offer times out and is made again
    return experts[0] if experts else None


WHO_GETS_IT = [
    # policy, experts online (longest idle first), contact, wait (s), offered to
    ("exact", ("bea", "ann"), contact(), 0, "bea"),           # longest idle, not most skilled
    ("exact", ("cai", "ann"), contact(), 0, "cai"),           # any proficiency will do
    ("exact", ("fay", "dev"), contact(), 600, None),          # never a substitute, however long
    ("exact", ("ann", "cai"), contact(language="cy"), 0, "cai"),
    ("exact", ("ann", "bea"), contact(language="cy"), 600, None),
    ("graph", ("bea", "ann"), contact(), 0, "ann"),           # best match, then idle time
    ("graph", ("cai",), contact(), 0, None),                  # level 2 is below the first floor
    ("graph", ("cai",), contact(), 89, None),
    ("graph", ("cai",), contact(), 90, "cai"),                # ... and admitted at 90 s
    ("graph", ("ann",), contact(skill="young-onset"), 29, None),
    ("graph", ("ann",), contact(skill="young-onset"), 30, "ann"),  # broader skill, cost 0.5
    ("graph", ("dev",), contact(), 89, None),
    ("graph", ("dev",), contact(), 90, "dev"),                # related skill, cost 1.0
    ("graph", ("fay", "ann"), contact(skill="young-onset"), 0, None),
    ("graph", ("fay", "ann"), contact(skill="young-onset"), 30, "ann"),  # a 5 through the graph
    ("graph", ("ann", "bea"), contact(language="cy"), 600, None),        # language: never
    ("graph", ("ann", "cai"), contact(language="cy"), 90, "cai"),
    ("graph", ("eli", "dev"), contact(skill="carers", required_accreditations={"dbs-enhanced"}),
     600, "dev"),                                             # an expired DBS check does not count
    ("graph", ("eli",), contact(skill="carers", required_accreditations={"dbs-enhanced"}),
     600, None),
    ("graph", ("cai", "ann"), contact(org="nhs"), 600, "ann"),   # council has no agreement
    ("graph", ("cai",), contact(org="nhs"), 600, None),
    ("graph", ("dev",), contact(org="nhs"), 600, "dev"),      # nhs and charity share
    ("optimal", ("bea", "ann"), contact(), 0, "ann"),
    ("optimal", ("cai",), contact(), 90, "cai"),
    ("optimal", ("ann", "cai"), contact(language="cy"), 600, "cai"),
    ("optimal", ("cai",), contact(org="nhs"), 600, None),
]


@pytest.mark.parametrize(("policy", "online", "spec", "wait_s", "expected"), WHO_GETS_IT)
def test_who_is_offered_the_contact(policy: str, online: tuple[str, ...], spec: ContactSpec,
                                    wait_s: float, expected: str | None) -> None:
    assert offered_after(policy, online, spec, wait_s) == expected


@pytest.mark.parametrize(("policy", "offer_at", "served_first"), [
    ("exact", 200.0, "urgent"),    # priority first, and no aging
    ("exact", 800.0, "urgent"),
    ("graph", 200.0, "urgent"),
    ("graph", 800.0, "patient"),   # 0.1 priority per minute: 800 s of wait beats +1 priority
    ("optimal", 800.0, "patient"),
])
def test_queue_order_priority_then_age_with_aging(policy: str, offer_at: float,
                                                  served_first: str) -> None:
    shell = line(policy, ())
    shell.send(ev.ContactArrived(contact("patient", at=0.0)), 0.0)
    shell.send(ev.ContactArrived(contact("urgent", at=offer_at - 100.0, priority=1)),
               offer_at - 100.0)
    shell.send(ev.ExpertOnline(EXPERTS["ann"]), offer_at)
    assert [o.contact_id for o in shell.offers] == [served_first]


@pytest.mark.parametrize("policy", ["exact", "graph", "optimal"])
def test_same_priority_is_first_come_first_served(policy: str) -> None:
    shell = line(policy, ())
    for n in range(3):
        shell.send(ev.ContactArrived(contact(f"c{n}", at=float(n))), float(n))
    shell.send(ev.ExpertOnline(EXPERTS["bea"]), 5.0)
    assert [o.contact_id for o in shell.offers] == ["c0"]


@pytest.mark.parametrize(("policy", "expected"), [
    # graph takes contacts one by one: the first gets the better expert and the second waits;
    # optimal solves the batch and serves both.
    ("graph", {"c1": "ann"}),
    ("optimal", {"c1": "bea", "c2": "ann"}),
])
def test_optimal_solves_a_batch_that_greedy_gets_wrong(policy: str,
                                                       expected: dict[str, str]) -> None:
    both = ExpertProfile(id="ann", org="nhs", skills={"dementia": 5, "young-onset": 5},
                         languages={"en"})
    shell = line(policy, ("bea",), batch_window_s=2.0)
    shell.send(ev.ExpertOnline(both), 1.0)
    shell.run_until(ARRIVE - 1.0)  # the experts' own batch window passes with nobody waiting
    shell.send(ev.ContactArrived(contact("c1", at=ARRIVE)), ARRIVE)
    shell.send(ev.ContactArrived(contact("c2", skill="young-onset", at=ARRIVE + 0.5)),
               ARRIVE + 0.5)
    shell.run_until(ARRIVE + 5.0)
    assert {o.contact_id: o.expert_id for o in shell.offers} == expected


@pytest.mark.parametrize("policy", ["graph", "optimal"])
def test_a_decision_explains_the_winner_and_the_field(policy: str) -> None:
    shell = line(policy, ("cai", "bea", "ann"))
    shell.send(ev.ContactArrived(contact()), ARRIVE)
    [offer] = shell.offers
    decision = offer.decision
    assert decision.chosen == "ann" and decision.step == 0 and decision.policy == policy
    names = [c.expert_id for c in decision.candidates]
    assert names[0] == "ann" and "cai" not in names  # cai is below the first step's floor
    assert decision.candidates[0].proficiency == 5 and decision.candidates[0].cost == 0
    assert "step 1" in decision.reason and "proficiency 5" in decision.reason


@pytest.mark.parametrize("policy", ["exact", "graph", "optimal"])
def test_nobody_eligible_is_recorded_with_a_reason(policy: str) -> None:
    shell = line(policy, ("ann",))
    shell.send(ev.ContactArrived(contact(language="cy")), ARRIVE)
    assert not shell.offers
    [recorded] = shell.decisions
    assert recorded.decision.chosen is None and recorded.decision.candidates == ()
    assert recorded.decision.reason


# Arrival times whose float sum with a step's after_s rounds below the step (e.g. 107.45 + 30
# - 107.45 < 30): the step must still be taken when its wake-up falls due, once.
AWKWARD_ARRIVALS = [107.45, 469.3, 4000.02, 123456.78]


@pytest.mark.parametrize("arrived_at", AWKWARD_ARRIVALS)
def test_step_for_agrees_with_the_scheduled_wake_up(arrived_at: float) -> None:
    policy = make_policy(RoutingConfig())
    for k, step in enumerate(policy.steps):
        due = arrived_at + step.after_s
        assert policy.step_for(arrived_at, due) == k
        if k:
            assert policy.step_for(arrived_at, due - 1e-6) == k - 1


@pytest.mark.parametrize("arrived_at", AWKWARD_ARRIVALS)
def test_escalation_at_an_awkward_time_moves_on(arrived_at: float) -> None:
    shell = line("graph", ("cai",), steps=(Step(0, 0.0, 4), Step(30, 0.5, 3), Step(90, 1.5, 2)))
    shell.send(ev.ContactArrived(contact(at=arrived_at)), arrived_at)
    shell.run_until(arrived_at + 30)
    view = shell.core.contact("c1")
    assert view is not None and view.step == 1 and not shell.offers
    shell.run_until(arrived_at + 90)
    assert shell.offered("c1") == ["cai"]


# The expert side reads queue lists split by language: a freed expert must still take the
# first contact in queue order among those whose language it speaks, and never one it does not.
# Ann speaks English; cai English and Welsh; gwen Welsh only.
GWEN = ExpertProfile(id="gwen", org="nhs", skills={"dementia": 5}, languages={"cy"})


@pytest.mark.parametrize(("policy", "freed", "queue", "taken"), [
    ("graph", "ann", ("welsh", "none", "english"), "none"),
    ("graph", "cai", ("welsh", "none", "english"), "welsh"),
    ("graph", "cai", ("english", "welsh"), "english"),
    ("graph", "gwen", ("english", "none", "welsh"), "none"),    # no language asked: anyone
    ("graph", "gwen", ("english", "welsh"), "welsh"),
    ("exact", "cai", ("none", "welsh"), "none"),
    ("optimal", "gwen", ("english", "welsh", "none"), "welsh"),
])
def test_a_freed_expert_takes_the_first_contact_in_a_language_it_speaks(
        policy: str, freed: str, queue: tuple[str, ...], taken: str) -> None:
    profiles = {"ann": EXPERTS["ann"], "cai": EXPERTS["cai"], "gwen": GWEN}
    languages = {"welsh": "cy", "none": None, "english": "en"}
    shell = line(policy, ())
    for n, name in enumerate(queue):
        shell.send(ev.ContactArrived(contact(name, at=float(n), language=languages[name])),
                   float(n))
    shell.run_until(200.0)  # every step reached, so cai's level 2 qualifies too
    shell.send(ev.ExpertOnline(profiles[freed]), 201.0)
    assert [o.contact_id for o in shell.offers] == [taken]


def test_closed_offers_are_remembered_up_to_the_limit_oldest_forgotten_first() -> None:
    core = RoutingCore(RoutingConfig(wrapup_s=0, closed_offers_kept=2), POOL)
    core.handle(ev.ExpertOnline(EXPERTS["ann"]), 0.0)
    offers = []
    for n in range(3):
        commands = core.handle(ev.ContactArrived(contact(f"c{n}", at=10.0 * n)), 10.0 * n)
        [offer] = [c for c in commands if isinstance(c, cmd.MakeOffer)]
        offers.append(offer.offer_id)
        [connected] = [c for c in core.handle(ev.OfferAccepted(offer.offer_id), 10.0 * n)
                       if isinstance(c, cmd.Connected)]
        core.handle(ev.SessionEnded(connected.session_id), 10.0 * n + 5)
    with pytest.raises(Conflict, match="unknown"):
        core.handle(ev.OfferAccepted(offers[0]), 40.0)
    for offer_id in offers[1:]:  # a repeated accept of a remembered offer changes nothing
        again = core.handle(ev.OfferAccepted(offer_id), 40.0)
        assert not [c for c in again if isinstance(c, cmd.Connected | cmd.MakeOffer)]
        view = core.offer(offer_id)
        assert view is not None and view.status is OfferStatus.ACCEPTED


@pytest.mark.parametrize("online", [("ann",), ("ann", "bea")])
def test_live_queue_figures_count_free_experts_as_available(online: tuple[str, ...]) -> None:
    shell = line("graph", online)
    shell.send(ev.ContactArrived(contact(language="cy")), ARRIVE)  # nobody speaks Welsh
    [queue] = shell.core.queue_stats(ARRIVE + 5)
    assert (queue.skill, queue.waiting, queue.longest_wait_s) == ("dementia", 1, 5.0)
    assert queue.holders == queue.available == len(online)  # free, but none of them eligible
