"""The bridging state machine on its own: events in, effects out, no I/O."""

from __future__ import annotations

import dataclasses
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from telephony import bridge as b
from telephony.bridge import BridgeState, Phase

RETRIES = b.Retries(attempts=3, spacing_s=120.0)
LIVE = BridgeState("c1", "xl-conf", "e1", Phase.DIALLING, citizen_sid="CAcaller",
                   expert_sid="CAexpert")
CALLBACK = BridgeState("c1", "xl-conf", "e1", Phase.DIALLING, callback_number="+447700900123",
                       expert_sid="CAexpert")


def at(state: BridgeState, **changes: object) -> BridgeState:
    return dataclasses.replace(state, **changes)


TABLE = [
    # live call, expert being dialled
    ("expert joins", LIVE, b.Joined("CAexpert"), Phase.BRIDGED, ()),
    ("caller joins first", LIVE, b.Joined("CAcaller"), Phase.DIALLING, ()),
    ("expert no-answer", LIVE, b.CallEnded("CAexpert", "no-answer"), Phase.DONE,
     (b.Requeue("expert call no-answer before joining"), b.ReturnToQueue("CAcaller"))),
    ("expert busy", LIVE, b.CallEnded("CAexpert", "busy"), Phase.DONE,
     (b.Requeue("expert call busy before joining"), b.ReturnToQueue("CAcaller"))),
    ("expert declines the whisper", LIVE, b.Declined("CAexpert"), Phase.DONE,
     (b.Requeue("expert did not accept the call"), b.ReturnToQueue("CAcaller"))),
    ("expert cannot be dialled", at(LIVE, expert_sid=""), b.DialFailed("expert", "404"),
     Phase.DONE, (b.Requeue("could not call the expert: 404"), b.ReturnToQueue("CAcaller"))),
    ("caller hangs up while the expert rings", LIVE, b.Left("CAcaller"), Phase.DONE,
     (b.EndCall("CAexpert"), b.Abandon("caller hung up while the expert was being connected"))),
    ("caller already gone at redirect", at(LIVE, expert_sid=""), b.CallerGone(), Phase.DONE,
     (b.Abandon("caller hung up while the expert was being connected"),)),
    ("a stranger's call changes nothing", LIVE, b.CallEnded("CAother", "completed"),
     Phase.DIALLING, ()),
    # live call, bridged
    ("caller hangs up", at(LIVE, phase=Phase.BRIDGED), b.Left("CAcaller"), Phase.DONE,
     (b.EndSession("citizen"),)),
    ("expert hangs up", at(LIVE, phase=Phase.BRIDGED), b.CallEnded("CAexpert", "completed"),
     Phase.DONE, (b.EndSession("expert"),)),
    ("conference ended by the expert", at(LIVE, phase=Phase.BRIDGED),
     b.ConferenceEnded("CAexpert"), Phase.DONE, (b.EndSession("expert"),)),
    ("ended on the desk", at(LIVE, phase=Phase.BRIDGED), b.EndedElsewhere(), Phase.DONE,
     (b.EndCall("CAexpert"), b.EndCall("CAcaller"))),
    # callback
    ("callback: expert joins, the citizen is called", CALLBACK, b.Joined("CAexpert"),
     Phase.CALLING_CITIZEN, (b.DialCitizen(),)),
    ("callback: expert misses it", CALLBACK, b.CallEnded("CAexpert", "no-answer"), Phase.DONE,
     (b.Requeue("expert call no-answer before joining"),)),
    ("callback: citizen answers", at(CALLBACK, phase=Phase.CALLING_CITIZEN, citizen_sid="CAc1"),
     b.Joined("CAc1"), Phase.BRIDGED, ()),
    ("callback: citizen misses the first call",
     at(CALLBACK, phase=Phase.CALLING_CITIZEN, citizen_sid="CAc1"),
     b.CallEnded("CAc1", "no-answer"), Phase.RETRY_WAIT, (b.ScheduleRetry(120.0, 1),)),
    ("callback: citizen misses the last call",
     at(CALLBACK, phase=Phase.CALLING_CITIZEN, citizen_sid="CAc3", attempt=2),
     b.CallEnded("CAc3", "busy"), Phase.DONE,
     (b.EndCall("CAexpert"), b.Fail("the citizen did not answer 3 callback attempts"))),
    ("callback: retry due", at(CALLBACK, phase=Phase.RETRY_WAIT, attempt=1), b.RetryDue(1),
     Phase.CALLING_CITIZEN, (b.DialCitizen(),)),
    ("callback: a stale retry", at(CALLBACK, phase=Phase.RETRY_WAIT, attempt=2), b.RetryDue(1),
     Phase.RETRY_WAIT, ()),
    ("callback: expert leaves while waiting to retry",
     at(CALLBACK, phase=Phase.RETRY_WAIT, attempt=1), b.Left("CAexpert"), Phase.DONE,
     (b.Requeue("expert left before the citizen answered"),)),
    ("callback: expert leaves while the citizen rings",
     at(CALLBACK, phase=Phase.CALLING_CITIZEN, citizen_sid="CAc1"), b.Left("CAexpert"),
     Phase.DONE, (b.EndCall("CAc1"), b.Requeue("expert left before the citizen answered"))),
    ("callback: the citizen's caller-side hang-up is not an abandonment", CALLBACK,
     b.CallerGone(), Phase.DIALLING, ()),
]


@pytest.mark.parametrize(("why", "state", "event", "phase", "effects"), TABLE,
                         ids=[row[0] for row in TABLE])
def test_bridge_table(why: str, state: BridgeState, event: b.Event, phase: Phase,
                      effects: tuple) -> None:
    after, done = b.step(state, event, RETRIES)
    assert after.phase is phase
    assert done == effects


def test_begin_live_redirects_then_dials() -> None:
    state, effects = b.begin("c1", "e1", conference="xl-x", caller_sid="CAcaller")
    assert effects == (b.RedirectToConference("CAcaller"), b.DialExpert())
    assert state.citizen_sid == "CAcaller" and not state.is_callback


def test_begin_callback_dials_the_expert_first() -> None:
    state, effects = b.begin("c1", "e1", conference="xl-x", caller_sid="CAold",
                             callback_number="+447700900123")
    assert effects == (b.DialExpert(),)
    assert state.citizen_sid == "" and state.is_callback


def test_names_are_opaque() -> None:
    names = {b.conference_name("contact-42", "nurse-jones", n) for n in ("a1", "b2", "c3")}
    assert len(names) == 3
    assert all(re.fullmatch(r"xl-[0-9a-f]{24}", n) for n in names)  # a hash, nothing readable
    assert b.queue_name("c1") == b.queue_name("c1")
    assert len(b.queue_name("c1")) <= 64


EVENTS = st.sampled_from([
    b.Joined("CAexpert"), b.Joined("CAcaller"), b.Joined("CAc1"), b.Left("CAexpert"),
    b.Left("CAcaller"), b.Left("CAc1"), b.CallEnded("CAexpert", "completed"),
    b.CallEnded("CAexpert", "no-answer"), b.CallEnded("CAc1", "busy"),
    b.CallEnded("CAcaller", "completed"), b.Declined("CAexpert"), b.ConferenceEnded("CAexpert"),
    b.ConferenceEnded(""), b.RetryDue(1), b.RetryDue(2), b.CallerGone(), b.EndedElsewhere(),
    b.Dialled("citizen", "CAc1"), b.DialFailed("citizen", "x"), b.DialFailed("expert", "x"),
])
ONCE = (b.Requeue, b.Abandon, b.EndSession, b.Fail)


@given(start=st.sampled_from([LIVE, CALLBACK]), events=st.lists(EVENTS, max_size=12))
def test_the_routing_engine_hears_at_most_one_outcome(start: BridgeState, events: list) -> None:
    """Whatever Twilio reports, in any order and repeated, a bridge tells the engine at most
    one of requeue / abandon / end session / fail, and nothing after it is done."""
    state, outcomes = start, []
    for event in events:
        before = state.phase
        state, effects = b.step(state, event, RETRIES)
        if before is Phase.DONE:
            assert effects == ()
        outcomes += [e for e in effects if isinstance(e, ONCE)]
    assert len(outcomes) <= 1
    if outcomes:
        assert state.phase is Phase.DONE
