"""The routing engine on a real database with an injected clock: persist, announce, restore."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from base.audit import AuditEntry
from base.db import Database
from base.errors import Conflict, InvalidInput, NotFound
from expertline.schema import database
from router.engine import Engine
from router.ports import (
    Announcement,
    Assigned,
    Channel,
    ContactRequest,
    ContactState,
    Ended,
    OnShift,
    Rescinded,
    TriageInfo,
)
from router.tables import ContactEventRow, ContactRow, DecisionRow, OfferRow
from tests.conftest import make_config
from tests.engine_support import Clock, call, seed_pool


class Harness:
    def __init__(self, db: Database, config: Any, clock: Clock) -> None:
        self.db, self.config, self.clock = db, config, clock
        self.heard: list[Announcement] = []
        self.desk: dict[str, list[dict[str, Any]]] = {}

    async def engine(self) -> Engine:
        engine = Engine(self.db, self.config, clock=self.clock, autotimers=False)
        await engine.start()

        async def listen(announcement: Announcement) -> None:
            self.heard.append(announcement)

        engine.subscribe(listen)
        return engine

    def sink(self, expert_id: str) -> Any:
        return self.desk.setdefault(expert_id, []).append

    async def rows(self, table: Any, **where: Any) -> list[Any]:
        async with self.db.session() as session:
            query = select(table)
            for key, value in where.items():
                query = query.where(getattr(table, key) == value)
            return list((await session.exec(query)).all())


@pytest.fixture
async def harness(db_url: str, tmp_path: Path) -> AsyncIterator[Harness]:
    config = make_config(db_url, tmp_path, routing={"wrapup_s": 30, "offer_timeout_s": 20})
    async with database(config.database_url) as db:
        await seed_pool(db)
        yield Harness(db, config, Clock())


async def test_a_contact_waits_then_is_offered_accepted_and_completed(harness: Harness) -> None:
    engine = await harness.engine()
    ticket = await engine.submit(call("CA1"))
    assert ticket.created and ticket.queue.state is ContactState.QUEUED
    assert ticket.queue.position == 1
    again = await engine.submit(call("CA1"))
    assert (again.contact_id, again.created) == (ticket.contact_id, False)

    harness.clock.advance(5)
    engine.connect_desk("e-ann", harness.sink("e-ann"))
    state = await engine.set_status("e-ann", "available")
    assert state["state"] == "offered"
    [offer] = engine.offers("e-ann")
    assert offer["contact"]["waited_s"] == 5.0
    assert [e["type"] for e in harness.desk["e-ann"]][-2:] == ["offer", "state"]
    [row] = await harness.rows(OfferRow, contact_id=ticket.contact_id)
    assert (row.id, row.status, row.expert_id) == (offer["id"], "pending", "e-ann")

    harness.clock.advance(3)
    accepted = await engine.accept("e-ann", offer["id"])
    assert accepted["status"] == "accepted" and accepted["session_id"]
    assert accepted["contact"]["waited_s"] == 5.0  # the wait when the offer was made
    harness.clock.advance(2)
    assert await engine.accept("e-ann", offer["id"]) == accepted  # idempotent, even later
    [assigned] = [a for a in harness.heard if isinstance(a, Assigned)]
    assert assigned.expert.phone == "+447700900001" and assigned.waited_s == pytest.approx(8)
    [contact] = await harness.rows(ContactRow, id=ticket.contact_id)
    assert (contact.state, contact.expert_id, contact.waited_s) == ("connected", "e-ann", 8.0)
    audits = await harness.rows(AuditEntry, action="assign", entity_id=ticket.contact_id)
    assert audits and audits[0].after["expert"] == "e-ann"

    await engine.complete("e-ann", accepted["session_id"])
    assert (await engine.get(ticket.contact_id)).state is ContactState.WRAPUP
    assert [a.by for a in harness.heard if isinstance(a, Ended)] == ["expert"]
    harness.clock.advance(31)
    await engine.tick()
    assert (await engine.get(ticket.contact_id)).state is ContactState.COMPLETED
    events = await harness.rows(ContactEventRow, contact_id=ticket.contact_id)
    assert [e.state for e in events] == ["queued", "offered", "connected", "wrapup",
                                         "completed"]
    decisions = await harness.rows(DecisionRow, contact_id=ticket.contact_id)
    assert decisions[-1].chosen == "e-ann" and decisions[-1].candidates


async def test_declines_keep_the_place_and_three_misses_send_the_expert_away(
        harness: Harness) -> None:
    engine = await harness.engine()
    tickets = []
    for n in range(3):
        harness.clock.advance(1)
        tickets.append(await engine.submit(call(f"CA{n}")))
    engine.connect_desk("e-ann", harness.sink("e-ann"))
    await engine.set_status("e-ann", "available")
    offered = []
    for _ in range(3):  # each declined contact skips her for the cooldown: the next is offered
        [offer] = engine.offers("e-ann")
        offered.append(offer["contact"]["id"])
        await engine.decline("e-ann", offer["id"])
        with pytest.raises(Conflict):
            await engine.accept("e-ann", offer["id"])
    assert offered == [t.contact_id for t in tickets]
    assert [(await engine.position(t.contact_id)).position for t in tickets] == [1, 2, 3]
    state = engine.desk_state("e-ann")
    assert state["state"] == "away" and "missed 3 offers" in state["reason"]
    assert harness.desk["e-ann"][-1] == {"type": "state", "state": "away",
                                         "reason": "missed 3 offers in a row"}
    statuses = sorted(r.status for r in await harness.rows(OfferRow))
    assert statuses == ["declined"] * 3


async def test_an_unanswered_offer_expires_and_the_contact_keeps_its_place(
        harness: Harness) -> None:
    engine = await harness.engine()
    ticket = await engine.submit(call("CA1"))
    await engine.set_status("e-ann", "available")
    [offer] = engine.offers("e-ann")
    harness.clock.advance(21)
    await engine.tick()
    assert engine.offers("e-ann") == []
    [row] = await harness.rows(OfferRow, id=offer["id"])
    assert row.status == "expired"
    assert (await engine.position(ticket.contact_id)).state is ContactState.QUEUED
    with pytest.raises(Conflict):
        await engine.accept("e-ann", offer["id"])


async def test_experts_see_only_their_own_offers_and_sessions(harness: Harness) -> None:
    engine = await harness.engine()
    await engine.submit(call("CA1"))
    await engine.set_status("e-ann", "available")
    [offer] = engine.offers("e-ann")
    with pytest.raises(NotFound):
        await engine.accept("e-bob", offer["id"])
    with pytest.raises(NotFound):
        await engine.decline("e-bob", offer["id"])
    accepted = await engine.accept("e-ann", offer["id"])
    with pytest.raises(NotFound):
        await engine.complete("e-bob", accepted["session_id"])
    with pytest.raises(NotFound):
        await engine.set_status("e-nobody", "available")
    with pytest.raises(InvalidInput):
        await engine.set_status("e-ann", "asleep")


async def test_hard_constraints_a_welsh_caller_goes_only_to_a_welsh_speaker(
        harness: Harness) -> None:
    engine = await harness.engine()
    await engine.set_status("e-ann", "available")
    await engine.set_status("e-bob", "available")
    await engine.submit(call("CY1", language="cy"))
    assert engine.offers("e-ann") == [] and len(engine.offers("e-bob")) == 1
    with pytest.raises(InvalidInput):
        await engine.submit(call("XX", skill="astrology"))


async def test_a_restart_keeps_every_contact_in_order_and_no_offer_twice(
        harness: Harness) -> None:
    engine = await harness.engine()
    ids = []
    for n in range(4):
        harness.clock.advance(1)
        ids.append((await engine.submit(call(f"CA{n}"))).contact_id)
    await engine.set_status("e-ann", "available")
    [offer] = engine.offers("e-ann")
    await engine.close()  # the process dies: nothing more is written

    harness.clock.advance(5)
    reborn = await harness.engine()
    assert engine.desk_state("e-ann")["offers"]  # the old one still thinks so
    assert reborn.desk_state("e-ann")["presence"] == "offline"  # must reconnect
    assert [o["id"] for o in reborn.offers("e-ann")] == [offer["id"]]
    queued = [(await reborn.position(i)).position for i in ids[1:]]
    assert queued == [1, 2, 3]
    await reborn.set_status("e-ann", "available")
    assert [o["id"] for o in reborn.offers("e-ann")] == [offer["id"]]  # no duplicate
    accepted = await reborn.accept("e-ann", offer["id"])
    assert accepted["status"] == "accepted"
    assert len(await harness.rows(OfferRow)) == 1


async def test_a_dropped_desk_gets_a_grace_then_goes_offline(harness: Harness) -> None:
    harness.config = harness.config.replace(routing={"desk_grace_s": 10})
    engine = await harness.engine()
    disconnect = engine.connect_desk("e-ann", harness.sink("e-ann"))
    await engine.set_status("e-ann", "available")
    disconnect()
    harness.clock.advance(9)
    await engine.tick()
    assert engine.desk_state("e-ann")["presence"] == "available"
    back = engine.connect_desk("e-ann", harness.sink("e-ann"))  # back in time
    harness.clock.advance(30)
    await engine.tick()
    assert engine.desk_state("e-ann")["presence"] == "available"
    back()
    ticket = await engine.submit(call("CA1"))
    assert engine.desk_state("e-ann")["state"] == "offered"
    harness.clock.advance(11)
    await engine.tick()
    state = engine.desk_state("e-ann")
    assert (state["state"], state["reason"]) == ("offline", "desk disconnected")
    assert (await engine.get(ticket.contact_id)).state is ContactState.QUEUED
    assert [a.reason for a in harness.heard if isinstance(a, Rescinded)] == ["offline"]


async def test_the_watchdog_ends_a_session_that_outlived_its_lease(harness: Harness) -> None:
    engine = await harness.engine()
    ticket = await engine.submit(call("CA1"))
    await engine.set_status("e-ann", "available")
    [offer] = engine.offers("e-ann")
    await engine.accept("e-ann", offer["id"])
    harness.clock.advance(harness.config.routing.session_lease_s + 1)
    await engine.watchdog()
    assert (await engine.get(ticket.contact_id)).state is ContactState.WRAPUP
    assert [a.by for a in harness.heard if isinstance(a, Ended)] == ["system"]
    assert await harness.rows(AuditEntry, action="watchdog", entity="session")


async def test_abandon_while_offered_rescinds_and_records_the_wait(harness: Harness) -> None:
    engine = await harness.engine()
    ticket = await engine.submit(call("CA1"))
    engine.connect_desk("e-ann", harness.sink("e-ann"))
    await engine.set_status("e-ann", "available")
    harness.clock.advance(12)
    await engine.abandon(ticket.contact_id, reason="caller hung up")
    await engine.abandon(ticket.contact_id, reason="again")  # finished: a no-op
    [row] = await harness.rows(ContactRow, id=ticket.contact_id)
    assert (row.state, row.waited_s) == ("abandoned", 12.0)
    assert harness.desk["e-ann"][-2]["type"] == "rescind"
    assert engine.desk_state("e-ann")["state"] == "available"
    with pytest.raises(NotFound):
        await engine.abandon("ct-unknown", reason="x")


async def test_a_callback_keeps_its_place_and_can_fail_with_a_record(harness: Harness) -> None:
    engine = await harness.engine()
    first = await engine.submit(call("CA1"))
    await engine.submit(call("CA2"))
    info = await engine.convert_to_callback(first.contact_id, number="+447700900555")
    assert (info.state, info.position) == (ContactState.CALLBACK, 1)
    await engine.set_status("e-ann", "available")
    [offer] = engine.offers("e-ann")
    assert offer["contact"]["id"] == first.contact_id and offer["contact"]["callback"]
    await engine.accept("e-ann", offer["id"])
    await engine.fail(first.contact_id, reason="citizen did not answer 3 calls")
    [row] = await harness.rows(ContactRow, id=first.contact_id)
    assert (row.state, row.reason) == ("failed", "citizen did not answer 3 calls")
    assert engine.desk_state("e-ann")["state"] == "wrapup"


async def test_an_expert_who_cannot_be_connected_puts_the_contact_back(
        harness: Harness) -> None:
    engine = await harness.engine()
    ticket = await engine.submit(call("CA1"))
    await engine.set_status("e-ann", "available")
    [offer] = engine.offers("e-ann")
    await engine.accept("e-ann", offer["id"])
    await engine.requeue(ticket.contact_id, reason="expert did not answer")
    assert (await engine.position(ticket.contact_id)).state is ContactState.QUEUED
    await engine.set_status("e-bob", "available")
    assert [o["contact"]["id"] for o in engine.offers("e-bob")] == [ticket.contact_id]


async def test_the_rota_holds_back_experts_off_shift(harness: Harness) -> None:
    engine = await harness.engine()
    await engine.set_status("e-ann", "available")
    await engine.apply_rota({}, frozenset({"e-ann"}))
    state = engine.desk_state("e-ann")
    assert (state["state"], state["reason"]) == ("away", "off shift")
    await engine.submit(call("CA1"))
    assert engine.offers("e-ann") == []
    shift = OnShift("e-ann", harness.clock.now + 3600, voice_ok=True)
    await engine.apply_rota({"e-ann": shift}, frozenset({"e-ann"}))
    assert engine.desk_state("e-ann")["state"] == "offered"


async def test_chat_relays_wait_for_the_expert(harness: Harness) -> None:
    engine = await harness.engine()
    ticket = await engine.submit(call("WEB1", channel=Channel.CHAT, address=""))
    await engine.relay_to_expert(ticket.contact_id, "hello?", ref="m1")
    await engine.relay_to_expert(ticket.contact_id, "hello?", ref="m1")
    engine.connect_desk("e-ann", harness.sink("e-ann"))
    await engine.set_status("e-ann", "available")
    [offer] = engine.offers("e-ann")
    await engine.accept("e-ann", offer["id"])
    session = next(e for e in harness.desk["e-ann"] if e["type"] == "session")
    assert session["messages"] == ["hello?"]
    await engine.relay_to_expert(ticket.contact_id, "are you there", ref="m2")
    assert harness.desk["e-ann"][-1]["text"] == "are you there"


# -- the expert desk (issue 14): first words, transcripts, what the citizen is shown -------------
WORDS = "my mum keeps forgetting to eat and wanders at night"


def said(ref: str, words: str, *, channel: Channel = Channel.CHAT) -> ContactRequest:
    """A contact whose citizen said ``words`` first (a chat's first message, the IVR)."""
    request = call(ref, channel=channel, address="")
    return replace(request, triage=TriageInfo("text", 0.8, ("dementia",), words))


async def accepted_session(engine: Engine, expert_id: str = "e-ann") -> str:
    await engine.set_status(expert_id, "available")
    [offer] = engine.offers(expert_id)
    return str((await engine.accept(expert_id, offer["id"]))["session_id"])


async def test_an_offer_carries_the_citizens_first_words_never_logged(
        harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="router")
    engine = await harness.engine()
    engine.connect_desk("e-ann", harness.sink("e-ann"))
    ticket = await engine.submit(said("WEB1", f"  {WORDS}\n"))
    long = await engine.submit(said("WEB2", "x" * 1500, channel=Channel.VOICE))
    await engine.set_status("e-ann", "available")
    [ringing] = [e for e in harness.desk["e-ann"] if e["type"] == "offer"]
    assert ringing["contact"]["first_words"] == WORDS  # trimmed
    assert engine.offers("e-ann")[0]["contact"]["first_words"] == WORDS
    [row] = await harness.rows(ContactRow, id=ticket.contact_id)
    assert row.first_words == WORDS and "text" not in (row.triage or {})
    [cut] = await harness.rows(ContactRow, id=long.contact_id)
    assert cut.first_words == "x" * 1000

    await engine.close()  # a restart: the offer still shows them
    reborn = await harness.engine()
    assert reborn.offers("e-ann")[0]["contact"]["first_words"] == WORDS
    session_id = await accepted_session(reborn)
    [session] = reborn.desk_state("e-ann")["sessions"]
    assert (session["id"], session["contact"]["first_words"]) == (session_id, WORDS)
    assert WORDS not in caplog.text and "wanders" not in caplog.text
