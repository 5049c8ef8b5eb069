"""Who counts as able to answer a contact is per channel: an expert who takes calls only is no
help to a chat, and the other way round. The citizen's "experts on duty" and wait estimate, the
wallboard's free and eligible experts and the "nobody eligible" explanation all say so; and an
expert at work with a substitute skill the contact's rings reach counts for it. Real engine,
real database (and the real app for the citizen's chat socket)."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, given, settings
from sqlmodel import select

from base.db import Database
from expertline.app import DATABASE
from expertline.schema import database
from router import commands as cmd
from router import events as ev
from router.context import engine_of
from router.core import RoutingCore
from router.engine import Engine
from router.model import CHANNELS, ContactSpec, RoutingConfig
from router.ports import Channel, ContactRequest, ContactState
from router.stats import live_stats
from router.tables import DecisionRow
from skills.models import SkillTerm
from skills.watch import EVERYTHING
from telephony.prompts import chat_queue_sentences, queue_sentences, text
from tests.conftest import TokenFactory, make_config
from tests.engine_support import EXPERTS, Clock, call, seed_pool
from tests.strategies_router import scenarios
from tests.telephony_support import ManualScheduler, next_of
from tests.test_escalation import ANN, CAT, POOL, Line, _busy_ann
from tests.test_router_properties import Player

HANDLE_S = 120.0
NOBODY = text("en", "webchat_nobody_on_duty")


def chat(ref: str, skill: str = "dementia") -> ContactRequest:
    """A web chat from a citizen of its own."""
    return call(ref, skill, channel=Channel.CHAT, address=f"web-{ref}")


def with_history(engine: Engine) -> Engine:
    """Enough handle times for an honest estimate: without them no wait is ever told, and
    "about a minute" could not have been said."""
    for _ in range(5):
        engine.waits.note_handle(HANDLE_S)
    return engine


class Floor:
    """A real engine on a real database, with a clock the test moves."""

    def __init__(self, db: Database, config: Any) -> None:
        self.db, self.config, self.clock = db, config, Clock()

    async def engine(self) -> Engine:
        engine = Engine(self.db, self.config, clock=self.clock, autotimers=False)
        await engine.start()
        return with_history(engine)

    async def decisions(self, contact_id: str) -> list[str]:
        async with self.db.session() as session:
            rows = (await session.exec(select(DecisionRow).where(
                DecisionRow.contact_id == contact_id))).all()
        return [row.reason for row in rows]


@pytest.fixture
async def floor(db_url: str, tmp_path: Path) -> AsyncIterator[Floor]:
    """Ann (dementia 5) and Bob (dementia 4, carers-support 3); Dee holds dementia-carers,
    one taxonomy step (cost 0.5) from dementia: a substitute from the second ring. Rings on
    the fixed schedule (the second at 30 s), so the test says when they come."""
    config = make_config(db_url, tmp_path, routing={"escalation": "fixed", "wrapup_s": 30,
                                                    "offer_timeout_s": 20})
    experts = {**EXPERTS, "e-dee": ("nhs-a", {"dementia-carers": 5}, ("en",),
                                    "+447700900004")}
    async with database(config.database_url) as db:
        await seed_pool(db, experts)
        yield Floor(db, config)


async def test_a_chat_with_only_call_takers_at_work_is_told_nobody_is_on_duty(
        floor: Floor) -> None:
    engine = await floor.engine()
    for expert_id in ("e-ann", "e-bob"):  # both at work, on the phones only
        await engine.set_status(expert_id, "available", takes=["voice"])
    ticket = await engine.submit(chat("WEB1"))
    info = await engine.position(ticket.contact_id)
    assert (info.state, info.position, info.experts_on_duty, info.estimated_wait_s) == (
        ContactState.QUEUED, 1, 0, None)  # not "about a minute" from two call takers
    assert chat_queue_sentences("en", info) == ["You are next in the queue.", NOBODY]

    first, second = await engine.submit(call("CA1")), await engine.submit(call("CA2"))
    assert {o["contact"]["id"] for e in ("e-ann", "e-bob") for o in engine.offers(e)} == {
        first.contact_id, second.contact_id}  # the call takers take calls at once
    third = await engine.submit(call("CA3"))
    heard = await engine.position(third.contact_id)
    assert (heard.position, heard.experts_on_duty) == (1, 2)  # the same two, on the phones
    assert heard.estimated_wait_s is not None
    assert heard.estimated_wait_s == engine.waits.told(1, 2)
    assert queue_sentences("en", heard)[1].startswith("Your expected wait is about")
    assert (await engine.position(ticket.contact_id)).experts_on_duty == 0  # still nobody


async def test_a_chat_counts_the_expert_with_a_substitute_its_rings_reach(
        floor: Floor) -> None:
    engine = await floor.engine()
    await engine.set_status("e-dee", "available", takes=["chat"])  # no exact holder at work
    ticket = await engine.submit(chat("WEB1"))
    info = await engine.position(ticket.contact_id)
    assert (info.experts_on_duty, info.estimated_wait_s) == (1, None)  # Dee, from ring 2 on
    assert chat_queue_sentences("en", info) == [
        "You are next in the queue.", text("en", "wait_unknown")]  # no "nobody is on duty"

    floor.clock.advance(30)
    await engine.tick()  # ring 2: Dee's dementia-carers is offered it
    [offer] = engine.offers("e-dee")
    assert offer["contact"]["id"] == ticket.contact_id
    await engine.decline("e-dee", offer["id"])  # back in place; Dee still at work
    info = await engine.position(ticket.contact_id)
    assert (info.state, info.experts_on_duty) == (ContactState.QUEUED, 1)
    assert info.estimated_wait_s == engine.waits.told(1, 1)
    assert NOBODY not in chat_queue_sentences("en", info)

    await engine.set_status("e-dee", "available", takes=["voice"])  # now on the phones
    info = await engine.position(ticket.contact_id)
    assert (info.experts_on_duty, info.estimated_wait_s) == (0, None)
    assert NOBODY in chat_queue_sentences("en", info)


async def test_the_wallboards_free_and_eligible_experts_for_chats_leave_out_call_takers(
        floor: Floor) -> None:
    engine = await floor.engine()
    await engine.set_status("e-ann", "available", takes=["voice"])  # free, for calls only
    await engine.set_status("e-bob", "away")  # takes both, not working now
    await engine.submit(chat("WEB1"))
    await engine.submit(chat("WEB2"))
    stats = await live_stats(engine)
    assert stats["queues"] == [{
        "channel": "chat", "skill": "dementia", "waiting": 2, "longest_wait_s": 0.0,
        "eligible_experts": 1, "available_experts": 0}]  # Bob holds it and takes chats

    await engine.set_status("e-cat", "available", takes=["chat"])  # free, for chats only
    await engine.submit(call("CA1", "housing"))  # Cat's skill, but a call
    stats = await live_stats(engine)
    assert [(q["channel"], q["skill"], q["waiting"], q["eligible_experts"],
             q["available_experts"]) for q in stats["queues"]] == [
        ("chat", "dementia", 2, 1, 0), ("voice", "housing", 1, 0, 0)]
    assert stats["experts"]["available"] == 2  # Ann and Cat are free, for the other channel


async def test_nobody_eligible_says_how_many_available_take_the_other_channel_only(
        floor: Floor) -> None:
    engine = await floor.engine()
    await engine.set_status("e-ann", "available", takes=["voice"])
    await engine.set_status("e-bob", "available", takes=["voice"])
    ticket = await engine.submit(chat("WEB1"))
    [reason] = await floor.decisions(ticket.contact_id)
    assert reason == ("nobody eligible at step 1 (cost <= 0, proficiency >= 4) on chat: 2 "
                      "experts hold dementia: 2 available; available with candidate skills: "
                      "2 take calls only")
    now = engine.core.explain(ticket.contact_id)  # the contact page's "who would take it now"
    assert now is not None and now.reason == reason

    await engine.set_status("e-ann", "available", takes=["chat"])  # offered the chat
    await engine.set_status("e-bob", "available", takes=["chat"])
    await engine.set_status("e-cat", "available", takes=["chat"])  # housing: no help here
    await engine.submit(chat("WEB2"))
    ringing = await engine.submit(call("CA1"))
    [reason] = await floor.decisions(ringing.contact_id)
    assert reason.endswith("available with candidate skills: 1 take chats only")  # Bob


def test_a_chat_does_not_leave_its_own_team_for_a_free_colleague_who_takes_calls_only() -> None:
    """Target escalation widens a contact at once when its own team will likely miss the
    target and a colleague in a wider ring is free now: free for its channel, that is."""
    config = RoutingConfig(escalation="target", target_s=60.0, targets=(("dementia", 20.0),),
                           wrapup_s=0.0)
    line = Line(RoutingCore(config, POOL))
    phones_only = replace(CAT, chat_capacity=0)
    for expert in (ANN, phones_only):
        line.send(ev.ExpertOnline(expert), 0.0)
    _busy_ann(line, 600.0)  # ann's calls take ten minutes: she will not answer in 20 s
    line.send(ev.ContactArrived(ContactSpec(id="chat", channel=Channel.CHAT, skill="dementia",
                                            arrived_at=700.0)), 700.0)
    waiting = line.core.contact("chat")
    assert line.offered("chat") == [] and waiting is not None and waiting.step == 0
    line.arrive("call", 700.0)
    assert line.offered("call") == ["cat"]  # a call goes to him at once
    assert line.core.on_duty("chat") == line.core.serving("chat") == 1  # ann, busy


class Counting(Player):
    """The property tests' player, also checking the core's per-channel counts against the
    experts one by one after every event."""

    def after(self, event: ev.Event, commands: list[cmd.Command]) -> None:
        super().after(event, commands)
        core, by_hand = self.core, []
        for expert_id in self.known:
            profile, view = core.profile(expert_id), core.expert(expert_id)
            assert profile is not None and view is not None
            by_hand.append((profile, view))
        for skill in {skill for profile, _ in by_hand for skill in profile.skills}:
            for channel in (None, *CHANNELS):
                states = Counter(view.state for profile, view in by_hand
                                 if skill in profile.skills
                                 and (channel is None or profile.capacity(channel) > 0))
                found = core.holder_states(skill, channel)
                assert {state: n for state, n in found.items() if n} == dict(states)
        for queue in core.queue_stats():
            holders = [(p, v) for p, v in by_hand if queue.skill in p.skills]
            assert queue.holders == sum(1 for p, _ in holders if p.capacity(queue.channel))
            assert queue.available == sum(1 for _, v in holders
                                          if queue.channel in v.open_channels)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_the_counts_per_channel_are_the_experts_counted_one_by_one(scenario: tuple) -> None:
    """Experts who take no calls (voice capacity 0), no chats, or both, through arrivals,
    offers, sessions, wrap-ups, presence and profile changes."""
    Counting(*scenario[:3]).play(scenario[3])


# -- the citizen's own chat, through the real app --------------------------------------------------
async def test_the_citizens_chat_says_nobody_is_on_duty_while_the_expert_takes_calls_only(
        client: TestClient, auth: TokenFactory, scheduler: ManualScheduler) -> None:
    db = client.app[DATABASE]
    await seed_pool(db)
    async with db.transaction() as session:
        session.add(SkillTerm(skill_id="dementia", term="dementia"))
    engine = engine_of(client.app)
    await engine._reload_pool(EVERYTHING)
    with_history(engine)
    token = (await auth("expert", expert="e-ann"))["Authorization"].split()[1]
    async with client.ws_connect(f"/ws/expert?access_token={token}") as desk, \
            client.ws_connect("/ws/chat") as citizen:
        await next_of(desk, "hello")
        await desk.send_json({"action": "status", "status": "available", "takes": ["voice"]})
        assert (await next_of(desk, "result"))["action"] == "status"
        await citizen.send_json({"type": "hello", "text": "my mum has dementia",
                                 "language": "en"})
        queued = await next_of(citizen, "queued")
        assert (queued["position"], queued["experts_on_duty"], queued["estimated_wait_s"]) == (
            1, 0, None)  # Annie is working, but on the phones
        assert NOBODY in queued["text"] and "minute" not in queued["text"]

        await desk.send_json({"action": "status", "status": "available",
                              "takes": ["voice", "chat"]})
        offer = await next_of(desk, "offer")  # now she takes chats: it is hers
        assert offer["contact"]["id"] == queued["contact_id"]
