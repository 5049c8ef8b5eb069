"""Phone bridges outlive their process: each change is saved, a finished one leaves no row, and
the next process takes back the open ones (a callback's pending retry of the citizen included).

Real database (SQLite, and PostgreSQL when reachable), the real twilio library, Twilio's REST
API faked (``tests.twilio_fake``), the routing engine played by ``FakeRouting`` (it stands for
the engine, which is rebuilt from the database on a restart: the same object serves both
processes). "A restart" closes the application and starts a new one on the same database, with
a new manual scheduler whose clock is where the old one's was, plus however long it took.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import select

from base.config import Config
from base.db import Guard
from expertline.app import DATABASE
from expertline.schema import database
from expertline.serving import Leadership
from router.lease import Lease
from router.ports import ContactState, ExpertEndpoint
from telephony.bridge import BridgeState, Phase
from telephony.bridge_store import BridgeStore, Context, SavedBridge, from_json, to_json
from telephony.service import TELEPHONY, Telephony
from telephony.tables import CallBridgeRow
from tests.db_faults import unreachable
from tests.telephony_support import (
    ACCOUNT,
    AUTH_TOKEN,
    FakeRouting,
    ManualScheduler,
    TwilioPlayer,
    telephony_app,
    telephony_config,
)
from tests.test_lease import lapse
from tests.test_telephony_e2e import (
    NURSE,
    accepted,
    callback_contact,
    conference_event,
    expert_in_for_callback,
    last_dialled,
    leg_params,
    queued_caller,
)
from tests.twilio_fake import TwilioFake

ClientMaker = Callable[..., Awaitable[TestClient]]
TEXT = st.text(max_size=30)
STATES = st.builds(BridgeState, TEXT, TEXT, TEXT, st.sampled_from(Phase), callback_number=TEXT,
                   citizen_sid=TEXT, expert_sid=TEXT, attempt=st.integers(0, 2**40))
CONTEXTS = st.builds(Context, TEXT, TEXT, st.floats(allow_nan=False),
                     st.builds(ExpertEndpoint, TEXT, phone=TEXT, client_identity=TEXT,
                               sip_address=TEXT))


# -- serialisation ------------------------------------------------------------------------------
@given(STATES, CONTEXTS)
def test_a_bridge_and_its_context_survive_json_exactly(state: BridgeState,
                                                       context: Context) -> None:
    stored = json.loads(json.dumps(to_json(state, context)))
    back_state, back_context = from_json(*stored)
    assert (back_state, back_context) == (state, context)
    assert back_state.phase is state.phase and type(back_context.waited_s) is float


CALLBACK = BridgeState("c0001", "xl-conf", "nurse-1", Phase.RETRY_WAIT,
                       callback_number="+447700900123", expert_sid="CAexpert", attempt=1)
LIVE = BridgeState("c0002", "xl-conf2", "nurse-2", Phase.BRIDGED, citizen_sid="CAcaller",
                   expert_sid="CAexpert2")
WELSH = Context("cy", "dementia", 75.5, ExpertEndpoint("nurse-1", phone="+447700900999"))
DESK = Context("en", "housing", 0.0, ExpertEndpoint("nurse-2", client_identity="desk-2"))


async def test_the_store_keeps_open_bridges_until_they_are_dropped(db_url: str) -> None:
    async with database(db_url) as db:
        ticks = itertools.count(1_796_000_000)
        store = BridgeStore(db.session, clock=lambda: float(next(ticks)))
        await store.save(LIVE, DESK)
        await store.save(CALLBACK, WELSH, retry_at=1_796_000_120.25)
        await store.save(LIVE, DESK)  # saved again: still one row, now the latest
        assert await store.load_open() == [SavedBridge(CALLBACK, WELSH, 1_796_000_120.25),
                                           SavedBridge(LIVE, DESK, None)]
        await store.drop(LIVE.contact_id)
        await store.drop(LIVE.contact_id)  # dropping twice is harmless
        assert await store.load_open() == [SavedBridge(CALLBACK, WELSH, 1_796_000_120.25)]


# -- through the webhooks, across a restart -----------------------------------------------------
class Rig:
    """The telephony application on one database, restartable, and the fake Twilio API."""

    def __init__(self, make: ClientMaker, config: Config, routing: FakeRouting,
                 twilio: TwilioFake) -> None:
        self.make, self.config, self.routing, self.twilio = make, config, routing, twilio
        self.scheduler = ManualScheduler()
        self.client: TestClient | None = None
        self.guard: Guard | None = None  # the routing leader's fence, when a test sets one

    async def start(self) -> Rig:
        app = telephony_app(self.config, self.routing, schedule=self.scheduler,
                            guard=self.guard)
        self.client = await self.make(app)
        return self

    async def restart(self, after_s: float = 0.0) -> None:
        """The process stops (its timers with it) and a new one starts ``after_s`` later."""
        assert self.client is not None
        await self.client.close()
        self.scheduler = ManualScheduler(start=self.scheduler.now + after_s)
        await self.start()

    @property
    def tel(self) -> Telephony:
        assert self.client is not None
        return self.client.app[TELEPHONY]

    @property
    def player(self) -> TwilioPlayer:
        assert self.client is not None
        return TwilioPlayer(self.client)

    async def saved(self) -> list[str]:
        assert self.client is not None
        async with self.client.app[DATABASE].session() as session:
            return list((await session.exec(select(CallBridgeRow.contact_id))).all())


@pytest.fixture
async def rig(aiohttp_client: ClientMaker, db_url: str, tmp_path: Path) -> AsyncIterator[Rig]:
    twilio = await TwilioFake(ACCOUNT, AUTH_TOKEN).start()
    config = telephony_config(tmp_path, twilio=True, api_url=twilio.url).replace(
        database={"url": db_url})
    yield await Rig(aiohttp_client, config, FakeRouting(), twilio).start()
    await twilio.close()


async def bridged_call(rig: Rig) -> tuple[str, str, str, str]:
    """A live caller talking to NURSE: (contact id, caller's sid, expert's sid, status URL)."""
    call, cid, _ = await queued_caller(rig.player, rig.routing)
    await accepted(rig.routing, rig.tel, cid)
    dialled = last_dialled(rig.twilio)
    whisper = await rig.player.post(dialled.url, leg_params(dialled.sid, NURSE.phone))
    inside = await rig.player.post(whisper.find("Gather").attrib["action"],
                                   leg_params(dialled.sid, NURSE.phone, Digits="1"))
    status_url = inside.find("Dial/Conference").attrib["statusCallback"]
    for sid in (call.sid, dialled.sid):
        await conference_event(rig.player, status_url, "participant-join", sid)
    assert rig.routing.state(cid) is ContactState.CONNECTED
    return cid, call.sid, dialled.sid, status_url


async def test_a_bridge_is_saved_while_it_lasts_and_leaves_no_row_when_done(rig: Rig) -> None:
    cid, caller, _, status_url = await bridged_call(rig)
    assert await rig.saved() == [cid]
    await conference_event(rig.player, status_url, "conference-end",
                           CallSidEndingConference=caller)
    assert rig.routing.state(cid) is ContactState.WRAPUP
    assert await rig.saved() == []


async def test_a_callback_retry_that_was_due_is_made_by_the_next_process(rig: Rig) -> None:
    call, cid = await callback_contact(rig.player, rig.routing)
    status_url = await expert_in_for_callback(rig.player, rig.routing, rig.tel, rig.twilio, cid)
    missed = last_dialled(rig.twilio)
    await rig.player.post(missed.status_callback,
                          leg_params(missed.sid, call.caller, CallStatus="no-answer"))
    assert rig.scheduler.pending(cid) == 1  # in 120 s; but the process dies first

    await rig.restart(after_s=50.0)
    assert [(delay, key) for delay, key, _ in rig.scheduler.jobs] == [(70.0, cid)]
    await rig.scheduler.advance(70.0)
    await rig.tel.idle()
    again = last_dialled(rig.twilio)
    assert again.to == call.caller and again.sid != missed.sid
    assert [c.to for c in rig.twilio.dialled()] == [NURSE.phone, call.caller, call.caller]
    await conference_event(rig.player, status_url, "participant-join", again.sid)
    assert rig.tel.connector.bridge(cid).phase is Phase.BRIDGED
    assert rig.routing.state(cid) is ContactState.CONNECTED


async def test_a_retry_overdue_at_restart_is_made_at_once(rig: Rig) -> None:
    call, cid = await callback_contact(rig.player, rig.routing)
    await expert_in_for_callback(rig.player, rig.routing, rig.tel, rig.twilio, cid)
    missed = last_dialled(rig.twilio)
    await rig.player.post(missed.status_callback,
                          leg_params(missed.sid, call.caller, CallStatus="busy"))
    await rig.restart(after_s=600.0)
    assert await rig.scheduler.run_due() == [0.0]
    await rig.tel.idle()
    assert last_dialled(rig.twilio).to == call.caller and len(rig.twilio.dialled()) == 3


async def test_a_database_that_cannot_be_written_does_not_stop_the_call(rig: Rig) -> None:
    """The conference ends while the database is unreachable: the webhook is answered and the
    session ends all the same. The row it could not drop is dropped by the next process, which
    finds the contact no longer connected, and does not take the bridge back."""
    cid, caller, _, status_url = await bridged_call(rig)
    assert rig.client is not None
    async with unreachable(rig.client.app[DATABASE]):
        await conference_event(rig.player, status_url, "conference-end",
                               CallSidEndingConference=caller)
    assert rig.routing.state(cid) is ContactState.WRAPUP
    assert await rig.saved() == [cid]  # left behind
    await rig.restart()
    assert rig.tel.connector.bridge(cid) is None
    assert await rig.saved() == []


async def test_a_deposed_leader_leaves_a_call_to_the_new_one(rig: Rig) -> None:
    """A leader paused past its lease wakes with a callback retry due: the fence refuses the
    bridge's write, so it does not call the citizen (the new leader, which takes the saved
    bridge back, does), and it steps down."""
    if not rig.config.database_url.startswith("postgresql"):
        pytest.skip("the routing lease is PostgreSQL's: SQLite runs one process")
    async with database(rig.config.database_url) as db:
        lease = Lease(db, holder="old", ttl_s=30)
        epoch = await lease.acquire()
        assert epoch is not None
        deposed: list[bool] = []
        rig.guard = Leadership(epoch, lambda: deposed.append(True)).guard()
        await rig.restart()
        call, cid = await callback_contact(rig.player, rig.routing)
        await expert_in_for_callback(rig.player, rig.routing, rig.tel, rig.twilio, cid)
        missed = last_dialled(rig.twilio)
        await rig.player.post(missed.status_callback,
                              leg_params(missed.sid, call.caller, CallStatus="no-answer"))
        dialled = len(rig.twilio.dialled())

        await lapse(db)  # paused past its lease...
        assert await Lease(db, holder="new", ttl_s=30).acquire() == epoch + 1  # ...replaced
        await rig.scheduler.advance(120.0)  # it wakes: the retry falls due
        await rig.tel.idle()
        assert len(rig.twilio.dialled()) == dialled  # nobody called twice
        assert deposed and deposed[0]
        assert await rig.saved() == [cid]  # the bridge waits for the new leader
