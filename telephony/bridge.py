"""Connecting a citizen and an expert over the phone, as a pure state machine.

``begin(assigned)`` starts a bridge; ``step(bridge, event)`` returns the next bridge and the
effects to carry out (REST calls to Twilio, calls to the routing port, a timer). No I/O, no
clock. The shell (``telephony.connect``) executes effects in order; when one fails it feeds the
matching failure event back and drops the rest of that batch.

Live call: the queued caller is redirected into a conference (waiting, hearing "connecting"),
then the expert is dialled into it. Callback (virtual hold): the expert is dialled first; when
they are in the conference the citizen is called, and retried ``attempts`` times ``spacing_s``
apart before the contact fails. Every event names the call it is about (its CallSid), and
events about calls that are not this bridge's current legs change nothing, so late or repeated
status callbacks are harmless.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from enum import StrEnum

FINAL_CALL_STATUSES = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})


class Phase(StrEnum):
    DIALLING = "dialling"  # the expert is being called
    CALLING_CITIZEN = "calling-citizen"  # callback: the expert is in, the citizen is called
    RETRY_WAIT = "retry-wait"  # callback: the citizen did not answer; a retry is due
    BRIDGED = "bridged"  # both are talking
    DONE = "done"  # this assignment is over (the contact may be assigned again later)


@dataclass(frozen=True, slots=True)
class BridgeState:
    contact_id: str
    conference: str
    expert_id: str
    phase: Phase = Phase.DIALLING
    callback_number: str = ""  # empty for a live call
    citizen_sid: str = ""  # the live caller's call, or the current callback leg
    expert_sid: str = ""
    attempt: int = 0  # callback attempts that failed so far

    @property
    def is_callback(self) -> bool:
        return bool(self.callback_number)


# Events -------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Dialled:
    """Twilio accepted our outbound call to ``leg`` (expert or citizen)."""

    leg: str
    sid: str


@dataclass(frozen=True, slots=True)
class DialFailed:
    leg: str
    reason: str


@dataclass(frozen=True, slots=True)
class CallerGone:
    """The live caller could not be redirected (they already hung up)."""


@dataclass(frozen=True, slots=True)
class Joined:
    sid: str


@dataclass(frozen=True, slots=True)
class Left:
    sid: str


@dataclass(frozen=True, slots=True)
class CallEnded:
    """A call reached a final status: completed, busy, no-answer, failed or canceled."""

    sid: str
    status: str


@dataclass(frozen=True, slots=True)
class Declined:
    """A phone expert heard the whisper and did not press 1."""

    sid: str


@dataclass(frozen=True, slots=True)
class ConferenceEnded:
    ending_sid: str = ""


@dataclass(frozen=True, slots=True)
class RetryDue:
    attempt: int


@dataclass(frozen=True, slots=True)
class EndedElsewhere:
    """The routing engine ended the contact (desk, supervisor, watchdog)."""


Event = (Dialled | DialFailed | CallerGone | Joined | Left | CallEnded | Declined
         | ConferenceEnded | RetryDue | EndedElsewhere)


# Effects ------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class RedirectToConference:
    sid: str


@dataclass(frozen=True, slots=True)
class DialExpert:
    pass


@dataclass(frozen=True, slots=True)
class DialCitizen:
    pass


@dataclass(frozen=True, slots=True)
class EndCall:
    sid: str


@dataclass(frozen=True, slots=True)
class ReturnToQueue:
    sid: str


@dataclass(frozen=True, slots=True)
class Requeue:
    reason: str


@dataclass(frozen=True, slots=True)
class Abandon:
    reason: str


@dataclass(frozen=True, slots=True)
class EndSession:
    by: str


@dataclass(frozen=True, slots=True)
class Fail:
    reason: str


@dataclass(frozen=True, slots=True)
class ScheduleRetry:
    delay_s: float
    attempt: int


Effect = (RedirectToConference | DialExpert | DialCitizen | EndCall | ReturnToQueue | Requeue
          | Abandon | EndSession | Fail | ScheduleRetry)
Result = tuple[BridgeState, tuple[Effect, ...]]


@dataclass(frozen=True, slots=True)
class Retries:
    attempts: int
    spacing_s: float


def conference_name(contact_id: str, expert_id: str, nonce: str) -> str:
    """An opaque conference name: no personal data; a fresh ``nonce`` per assignment."""
    digest = hashlib.sha256(f"{contact_id}\x1f{expert_id}\x1f{nonce}".encode())
    return "xl-" + digest.hexdigest()[:24]


def queue_name(contact_id: str) -> str:
    """An opaque Twilio queue name; contacts spread over 256 queues (each holds up to 1000)."""
    return "xl-hold-" + hashlib.sha256(contact_id.encode()).hexdigest()[:2]


def begin(contact_id: str, expert_id: str, *, conference: str, caller_sid: str = "",
          callback_number: str = "") -> Result:
    """An expert accepted: a live caller is moved into the conference, then the expert dialled;
    a callback dials the expert first."""
    bridge = BridgeState(contact_id, conference, expert_id, callback_number=callback_number,
                         citizen_sid="" if callback_number else caller_sid)
    if bridge.is_callback:
        return bridge, (DialExpert(),)
    return bridge, (RedirectToConference(caller_sid), DialExpert())


def step(bridge: BridgeState, event: Event, retries: Retries) -> Result:
    """The next state and effects after ``event``."""
    if isinstance(event, EndedElsewhere):
        return _done(bridge, *_hang_up_all(bridge))
    handler = _PHASES.get(bridge.phase)
    return handler(bridge, event, retries) if handler else (bridge, ())


def _dialling(b: BridgeState, event: Event, retries: Retries) -> Result:
    result: Result = (b, ())
    match event:
        case Dialled("expert", sid):
            result = dataclasses.replace(b, expert_sid=sid), ()
        case DialFailed("expert", reason):
            result = _expert_missed(b, f"could not call the expert: {reason}")
        case Joined(sid) if sid and sid == b.expert_sid:
            result = _expert_joined(b)
        case CallEnded(sid, status) if sid and sid == b.expert_sid:
            result = _expert_missed(b, f"expert call {status} before joining")
        case Declined(sid) if sid and sid == b.expert_sid:
            result = _expert_missed(b, "expert did not accept the call")
        case CallerGone() | ConferenceEnded():
            result = _caller_left(b)
        case Left(sid) | CallEnded(sid, _) if sid and sid == b.citizen_sid:
            result = _caller_left(b)
    return result


def _expert_joined(b: BridgeState) -> Result:
    if b.is_callback:
        return dataclasses.replace(b, phase=Phase.CALLING_CITIZEN), (DialCitizen(),)
    return dataclasses.replace(b, phase=Phase.BRIDGED), ()


def _expert_missed(b: BridgeState, reason: str) -> Result:
    back = (ReturnToQueue(b.citizen_sid),) if not b.is_callback and b.citizen_sid else ()
    return _done(b, Requeue(reason), *back)


def _caller_left(b: BridgeState) -> Result:
    if b.is_callback:
        return b, ()
    cancel = (EndCall(b.expert_sid),) if b.expert_sid else ()
    return _done(b, *cancel, Abandon("caller hung up while the expert was being connected"))


def _calling_citizen(b: BridgeState, event: Event, retries: Retries) -> Result:
    result: Result = (b, ())
    match event:
        case Dialled("citizen", sid):
            result = dataclasses.replace(b, citizen_sid=sid), ()
        case DialFailed("citizen", _):
            result = _citizen_missed(b, retries)
        case Joined(sid) if sid and sid == b.citizen_sid:
            result = dataclasses.replace(b, phase=Phase.BRIDGED), ()
        case CallEnded(sid, _) if sid and sid == b.citizen_sid:
            result = _citizen_missed(b, retries)
        case Left(sid) | CallEnded(sid, _) | Declined(sid) if sid and sid == b.expert_sid:
            result = _expert_left_callback(b)
        case ConferenceEnded():
            result = _expert_left_callback(b)
    return result


def _citizen_missed(b: BridgeState, retries: Retries) -> Result:
    attempt = b.attempt + 1
    if attempt < retries.attempts:
        waiting = dataclasses.replace(b, phase=Phase.RETRY_WAIT, attempt=attempt, citizen_sid="")
        return waiting, (ScheduleRetry(retries.spacing_s, attempt),)
    reason = f"the citizen did not answer {attempt} callback attempts"
    hang_up = (EndCall(b.expert_sid),) if b.expert_sid else ()
    return _done(dataclasses.replace(b, attempt=attempt), *hang_up, Fail(reason))


def _expert_left_callback(b: BridgeState) -> Result:
    cancel = (EndCall(b.citizen_sid),) if b.citizen_sid else ()
    return _done(b, *cancel, Requeue("expert left before the citizen answered"))


def _retry_wait(b: BridgeState, event: Event, retries: Retries) -> Result:
    match event:
        case RetryDue(attempt) if attempt == b.attempt:
            return dataclasses.replace(b, phase=Phase.CALLING_CITIZEN), (DialCitizen(),)
        case Left(sid) | CallEnded(sid, _) if sid and sid == b.expert_sid:
            return _expert_left_callback(b)
        case ConferenceEnded():
            return _expert_left_callback(b)
    return b, ()


def _bridged(b: BridgeState, event: Event, retries: Retries) -> Result:
    match event:
        case Left(sid) | CallEnded(sid, _) if sid and sid in (b.expert_sid, b.citizen_sid):
            return _done(b, EndSession(_who(b, sid)))
        case ConferenceEnded(ending_sid):
            return _done(b, EndSession(_who(b, ending_sid)))
    return b, ()


def _who(b: BridgeState, sid: str) -> str:
    if sid and sid == b.expert_sid:
        return "expert"
    return "citizen" if sid and sid == b.citizen_sid else "system"


def _hang_up_all(b: BridgeState) -> tuple[Effect, ...]:
    if b.phase is Phase.DONE:
        return ()
    return tuple(EndCall(sid) for sid in (b.expert_sid, b.citizen_sid) if sid)


def _done(b: BridgeState, *effects: Effect) -> Result:
    if b.phase is Phase.DONE:
        return b, ()
    return dataclasses.replace(b, phase=Phase.DONE), effects


_PHASES = {
    Phase.DIALLING: _dialling,
    Phase.CALLING_CITIZEN: _calling_citizen,
    Phase.RETRY_WAIT: _retry_wait,
    Phase.BRIDGED: _bridged,
}
