"""The routing engine on a real database with an injected clock: persist, announce, restore."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from base.audit import AuditEntry
from base.db import Database
from base.errors import Conflict, InvalidInput, NotFound
from expertline.schema import database
from router.desk import local_midnight
from router.engine import Engine
from router.ports import (
    Announcement,
    Assigned,
    Channel,
    ContactRequest,
    ContactState,
    Ended,
    ExpertMessage,
    OnShift,
    Rescinded,
    ShownExpert,
    TriageInfo,
)
from router.tables import ContactEventRow, ContactRow, DecisionRow, MessageRow, OfferRow
from skills.models import Expert
from tests.conftest import make_config
from tests.engine_support import T0, Clock, call, seed_pool


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


async def test_a_chat_transcript_is_kept_across_a_restart_and_a_ref_stored_once(
        harness: Harness) -> None:
    engine = await harness.engine()
    ticket = await engine.submit(said("WEB1", WORDS))
    cid = ticket.contact_id
    await engine.relay_to_expert(cid, "is anyone there?", ref="WEB1:1")
    await engine.relay_to_expert(cid, "is anyone there?", ref="WEB1:1")  # a retry
    await engine.close()

    reborn = await harness.engine()  # the restart forgets every ref it had seen...
    await reborn.relay_to_expert(cid, "is anyone there?", ref="WEB1:1")  # ...the database not
    assert len(await harness.rows(MessageRow, contact_id=cid)) == 1
    reborn.connect_desk("e-ann", harness.sink("e-ann"))
    harness.clock.advance(5)
    session_id = await accepted_session(reborn)
    [event] = [e for e in harness.desk["e-ann"] if e["type"] == "session"]
    assert [(line["sender"], line["text"]) for line in event["transcript"]] == [
        ("citizen", WORDS), ("citizen", "is anyone there?")]
    assert event["messages"] == ["is anyone there?"]

    await reborn.relay_to_expert(cid, "she is 84", ref="WEB1:2")
    pushed = harness.desk["e-ann"][-1]
    assert (pushed["type"], pushed["sender"], pushed["text"]) == ("message", "citizen",
                                                                  "she is 84")
    await reborn.send_message("e-ann", session_id, "  Is she safe right now?  ")
    [said_by_ann] = [a for a in harness.heard if isinstance(a, ExpertMessage)]
    assert said_by_ann.text == "Is she safe right now?"
    [stored] = await harness.rows(MessageRow, sender="expert")
    assert (stored.expert_id, stored.text) == ("e-ann", "Is she safe right now?")
    whole = [(line.sender, line.text) for line in await reborn.transcript(cid)]
    assert whole == [("citizen", WORDS), ("citizen", "is anyone there?"),
                     ("citizen", "she is 84"), ("expert", "Is she safe right now?")]
    lines = await reborn.session_messages("e-ann", session_id)
    assert [(line["sender"], line["text"]) for line in lines] == whole
    assert lines[0]["at"] == harness.clock.now - 5  # the first words, when the chat began


async def test_only_the_experts_own_session_transcript_is_readable_until_wrap_up_ends(
        harness: Harness) -> None:
    engine = await harness.engine()
    ticket = await engine.submit(said("WEB1", WORDS))
    session_id = await accepted_session(engine)
    for who, session in (("e-bob", session_id), ("e-ann", "session-unknown"),
                         ("e-ann", ticket.contact_id)):
        with pytest.raises(NotFound):
            await engine.session_messages(who, session)
    await engine.complete("e-ann", session_id)
    assert [line["text"] for line in await engine.session_messages("e-ann", session_id)] == [
        WORDS]  # in wrap-up: still the expert's to read
    with pytest.raises(NotFound):
        await engine.session_messages("e-bob", session_id)
    harness.clock.advance(31)
    await engine.tick()
    with pytest.raises(NotFound):  # wrap-up over: the session is no longer on the desk
        await engine.session_messages("e-ann", session_id)


async def test_the_citizen_is_told_only_what_the_expert_agreed_to_show(harness: Harness) -> None:
    async with harness.db.transaction() as session:
        for expert_id, values in {
            "e-ann": {"public_name": "Ann", "public_role": "Dementia nurse"},
            "e-bob": {"public_name": "Bob", "public_role": "Carers' adviser",
                      "show_organisation": True},
        }.items():
            await session.exec(sa.update(Expert).where(col(Expert.id) == expert_id)
                               .values(**values))
    engine = await harness.engine()
    await engine.submit(call("CA1"))
    await accepted_session(engine, "e-ann")
    await engine.submit(call("CA2"))
    await accepted_session(engine, "e-bob")
    await engine.submit(call("CA3", skill="housing"))
    await accepted_session(engine, "e-cat")
    shown = {a.expert.expert_id: a.shown for a in harness.heard if isinstance(a, Assigned)}
    assert shown == {"e-ann": ShownExpert("Ann", "Dementia nurse", ""),
                     "e-bob": ShownExpert("Bob", "Carers' adviser", "NHS-A"),
                     "e-cat": ShownExpert()}  # cat chose to show nothing: "an expert"


async def test_a_waiting_citizen_hears_how_many_experts_are_on_duty(harness: Harness) -> None:
    engine = await harness.engine()
    first = await engine.submit(call("CA1"))
    assert (await engine.position(first.contact_id)).experts_on_duty == 0
    await engine.set_status("e-cat", "available")  # housing only: no help with dementia
    await engine.set_status("e-ann", "available")  # offered the first contact
    second = await engine.submit(call("CA2"))
    info = await engine.position(second.contact_id)
    assert (info.state, info.position, info.experts_on_duty) == (ContactState.QUEUED, 1, 1)
    await engine.set_status("e-bob", "away")  # signed in but away: not on duty
    assert (await engine.position(second.contact_id)).experts_on_duty == 1
    await engine.set_status("e-bob", "available")  # takes the second contact's offer
    assert (await engine.position(second.contact_id)).experts_on_duty is None  # not waiting


async def test_the_desk_shows_its_name_wrap_ups_and_todays_sessions(harness: Harness) -> None:
    harness.clock.now = local_midnight(T0) - 600  # ten minutes before midnight in London
    engine = await harness.engine()
    await engine.submit(call("CA0"))
    yesterday = await accepted_session(engine)
    harness.clock.advance(300)
    await engine.complete("e-ann", yesterday)
    await engine.complete("e-ann", yesterday)  # wrap-up ended early
    harness.clock.now = T0
    await engine.submit(said("WEB0", "hello"))
    first = await accepted_session(engine)
    harness.clock.advance(100)
    engine.connect_desk("e-ann", harness.sink("e-ann"))
    done = await engine.complete("e-ann", first)
    assert done["wrapup_ends_at"] == T0 + 100 + 30  # the desk can count the wrap-up down
    [ended] = [e for e in harness.desk["e-ann"] if e["type"] == "session_ended"]
    assert (ended["session_id"], ended["wrapup_ends_at"]) == (first, T0 + 100 + 30)
    await engine.submit(said("WEB1", WORDS))
    chat = await accepted_session(engine)
    harness.clock.advance(40)
    state = await engine.desk_view("e-ann")
    assert state["name"] == "Ann"
    assert state["wrapups"] == [{"session_id": first, "ends_at": T0 + 100 + 30}]
    assert [s["id"] for s in state["sessions"]] == [first, chat]
    assert state["today"] == {"sessions": 2, "handle_s": 140.0}  # 100 s, and 40 s so far
    assert (await engine.desk_view("e-bob"))["today"] == {"sessions": 0, "handle_s": 0.0}
