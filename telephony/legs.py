"""Webhooks for the bridged legs: the expert's call (whisper, accept), joining the conference,
and the call and conference status callbacks that move a bridge along.

Status callbacks are keyed on (contact, conference, CallSid): a repeated or late callback, or
one about an earlier assignment's conference, changes nothing.
"""

from __future__ import annotations

import logging

from aiohttp import web

from router.ports import ContactState
from telephony import bridge as b
from telephony import prompts, twiml
from telephony.prompts import EN
from telephony.service import Telephony
from telephony.urls import CONFERENCE_STATUS, CONNECTING, EXPERT_ACCEPT
from telephony.voice import enqueue
from telephony.webhooks import Form, contact_of, lang_of, required

log = logging.getLogger("telephony.voice")

_CONFERENCE_EVENTS: dict[str, type[b.Joined] | type[b.Left]] = {
    "participant-join": b.Joined, "participant-leave": b.Left}


async def expert_leg(tel: Telephony, request: web.Request, form: Form) -> str:
    """``POST /twilio/voice/expert``: a phone expert hears the whisper and presses 1; a
    Twilio Client or SIP expert (already at their desk) goes straight in."""
    q = request.query
    if q.get("kind") != "phone":
        return _expert_joins(tel, request)
    key = "whisper_callback" if q.get("cb") == "1" else "whisper"
    sentence = prompts.text(EN, key, label=prompts.skill_label(q.get("skill", "")),
                            waited=prompts.waited_words(_number(q.get("waited", "0"))))
    accept = tel.urls.to(EXPERT_ACCEPT, **dict(q))
    return twiml.whisper(tel.speech, sentence, accept_url=accept)


async def expert_accept(tel: Telephony, request: web.Request, form: Form) -> str:
    """``POST /twilio/voice/expert-accept``: 1 joins the conference; anything else (or
    nothing) hands the contact back to the queue."""
    if form.get("Digits", "") == "1":
        return _expert_joins(tel, request)
    declined = b.Declined(required(form, "CallSid"))
    await tel.connector.feed(contact_of(request), declined, conference=_conference(request))
    return twiml.say_hangup(tel.speech, EN, [prompts.text(EN, "whisper_missed")])


def _expert_joins(tel: Telephony, request: web.Request) -> str:
    c, conference = contact_of(request), _conference(request)
    if not _live(tel, c, conference):
        return twiml.say_hangup(tel.speech, EN, [prompts.text(EN, "caller_gone")])
    said = [prompts.text(EN, "calling_citizen")] if request.query.get("cb") == "1" else []
    return twiml.join_conference(tel.speech, EN, said, name=conference, starts=True,
                                 status_url=_status_url(tel, c, conference))


async def join(tel: Telephony, request: web.Request, form: Form) -> str:
    """``POST /twilio/voice/join?role=caller|citizen``: the citizen's side of the conference.
    A caller whose bridge is no longer live goes back to the queue instead."""
    c, conference, lang = contact_of(request), _conference(request), lang_of(request)
    if not _live(tel, c, conference):
        return enqueue(tel, c, lang, [])
    if request.query.get("role") == "citizen":
        said = [prompts.text(lang, "callback_greeting")]
        return twiml.join_conference(tel.speech, lang, said, name=conference, starts=True,
                                     status_url=_status_url(tel, c, conference))
    return twiml.join_conference(tel.speech, lang, [], name=conference, starts=False,
                                 status_url=_status_url(tel, c, conference),
                                 wait_url=tel.urls.to(CONNECTING, lang=lang))


async def connecting(tel: Telephony, request: web.Request, form: Form) -> str:
    """The conference wait document: the caller hears that they are being connected."""
    lang = lang_of(request)
    return twiml.pause(tel.speech, lang, [prompts.text(lang, "connecting")], seconds=30)


async def goodbye(tel: Telephony, request: web.Request, form: Form) -> str:
    lang = lang_of(request)
    return twiml.say_hangup(tel.speech, lang, [prompts.text(lang, "not_connected")])


async def call_status(tel: Telephony, request: web.Request, form: Form) -> str:
    """``POST /twilio/voice/status``: our legs' status callbacks, and (without ``leg``) the
    number's own status callback for inbound calls, which finds its contact by CallSid."""
    sid, status = required(form, "CallSid"), form.get("CallStatus", "")
    if status not in b.FINAL_CALL_STATUSES:
        return twiml.empty()
    c = request.query.get("c") or tel.calls.get(sid)
    if not c:
        return twiml.empty()
    ended = b.CallEnded(sid, status)
    if await tel.connector.feed(c, ended, conference=_conference(request)):
        return twiml.empty()
    if not request.query.get("leg"):
        await _caller_gone(tel, c)
    return twiml.empty()


async def _caller_gone(tel: Telephony, contact_id: str) -> None:
    """An inbound call ended outside any bridge: if its contact still waits (not as a
    callback), the caller abandoned it, e.g. while hearing the callback offer."""
    view = await tel.routing.get(contact_id)
    if view is not None and view.state in (ContactState.QUEUED, ContactState.OFFERED):
        log.info("contact %s: caller hung up outside the queue", contact_id)
        await tel.routing.abandon(contact_id, reason="caller hung up")


async def conference_status(tel: Telephony, request: web.Request, form: Form) -> str:
    """``POST /twilio/voice/conference-status``: participants joining and leaving, and the
    end of the conference, move the bridge (and end the session)."""
    kind = form.get("StatusCallbackEvent", "")
    if kind == "conference-end":
        event: b.Event = b.ConferenceEnded(form.get("CallSidEndingConference", ""))
    elif kind in _CONFERENCE_EVENTS:
        event = _CONFERENCE_EVENTS[kind](required(form, "CallSid"))
    else:
        return twiml.empty()
    await tel.connector.feed(contact_of(request), event, conference=_conference(request))
    return twiml.empty()


def _live(tel: Telephony, contact_id: str, conference: str) -> bool:
    current = tel.connector.bridge(contact_id)
    return (current is not None and current.conference == conference
            and current.phase is not b.Phase.DONE)


def _conference(request: web.Request) -> str:
    return request.query.get("conf", "")


def _status_url(tel: Telephony, contact_id: str, conference: str) -> str:
    return tel.urls.to(CONFERENCE_STATUS, c=contact_id, conf=conference)


def _number(raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        return 0.0
