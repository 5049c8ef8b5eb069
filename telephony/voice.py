"""The caller's side of a voice call: IVR, queue, hold announcements and the callback offer.

Idempotency: nothing here is keyed on server memory. The IVR step and language ride in the
signed URL; the contact is created by ``submit`` keyed on the CallSid, so a retried gather
returns the same contact; ``abandon`` on a finished contact changes nothing; hold and
callback-offer documents only read. A retried webhook therefore changes nothing.
"""

from __future__ import annotations

import logging

from aiohttp import web

from router.ports import Channel, ContactRequest, Medium
from telephony import ivr, prompts, twiml
from telephony.bridge import queue_name
from telephony.ivr import Ask, Route, Step
from telephony.numbers import CallMeOn, KeepHolding, callback_choice, caller_number
from telephony.service import Telephony
from telephony.urls import CALLBACK, GATHER, HOLD, QUEUE_ACTION, WAIT, WAIT_KEY
from telephony.webhooks import Form, contact_of, lang_of, required

log = logging.getLogger("telephony.voice")

LEFT_FOR_ELSEWHERE = frozenset({"bridged", "bridging-in-process", "redirected"})


async def incoming(tel: Telephony, request: web.Request, form: Form) -> str:
    """``POST /twilio/voice``: a new call hears the greeting and is asked what they need."""
    log.info("call %s: answered", required(form, "CallSid"))
    return _ask(tel, ivr.start())


async def gathered(tel: Telephony, request: web.Request, form: Form) -> str:
    """``POST /twilio/voice/gather?step=&lang=``: triage what was said or pressed."""
    step = _step(request.query.get("step", ""))
    decision = ivr.decide(step, lang_of(request), ivr.parse_heard(form), rules=tel.rules,
                          triage=tel.triage)
    if isinstance(decision, Ask):
        return _ask(tel, decision)
    return await _queue(tel, form, decision)


def _step(raw: str) -> Step:
    try:
        return Step(raw)
    except ValueError:
        return Step.ASK


def _ask(tel: Telephony, ask: Ask) -> str:
    action = tel.urls.to(GATHER, step=ask.step, lang=ask.lang)
    return twiml.ask(tel.speech, ask.step, ask.lang, action=action, menu=tel.config.voice.menu)


async def _queue(tel: Telephony, form: Form, route: Route) -> str:
    call_sid = required(form, "CallSid")
    ticket = await tel.routing.submit(ContactRequest(
        channel=Channel.VOICE, medium=Medium.PHONE, skill=route.skill, language=route.lang,
        external_ref=call_sid, address=form.get("From", ""), triage=route.triage))
    tel.calls.remember(call_sid, ticket.contact_id)
    log.info("call %s: contact %s %s for %s (%s, by %s)", call_sid, ticket.contact_id,
             "queued" if ticket.created else "already queued", route.skill, route.lang,
             route.triage.method)
    if route.skill == tel.rules.general_skill:
        said = prompts.text(route.lang, "routed_general")
    else:
        said = prompts.text(route.lang, "routed", label=prompts.skill_label(route.skill))
    return enqueue(tel, ticket.contact_id, route.lang, [said])


def enqueue(tel: Telephony, contact_id: str, lang: str, sentences: list[str]) -> str:
    """Hold the caller in the (opaque) Twilio queue for this contact."""
    return twiml.enqueue(tel.speech, lang, sentences, queue=queue_name(contact_id),
                         wait_url=tel.urls.to(WAIT, c=contact_id, lang=lang),
                         action=tel.urls.to(QUEUE_ACTION, c=contact_id, lang=lang))


async def waiting(tel: Telephony, request: web.Request, form: Form) -> str:
    """``POST /twilio/voice/wait``: the hold document, replayed every ``hold_announce_every_s``:
    the caller's place and an honest wait estimate, then "press star for a callback"."""
    contact_id, lang = contact_of(request), lang_of(request)
    info = await tel.routing.position(contact_id)
    if info.state.finished:
        return twiml.say_hangup(tel.speech, lang, [prompts.text(lang, "not_connected")])
    return twiml.hold(tel.speech, lang, prompts.queue_sentences(lang, info),
                      key_url=tel.urls.to(WAIT_KEY, c=contact_id, lang=lang),
                      wait_url=tel.urls.to(WAIT, c=contact_id, lang=lang),
                      pause_s=tel.config.voice.hold_announce_every_s)


async def wait_key(tel: Telephony, request: web.Request, form: Form) -> str:
    """A key pressed on hold: star leaves the Twilio queue for the callback offer (the contact
    keeps its place in ours); any other key carries on holding."""
    if form.get("Digits", "").startswith("*"):
        return twiml.leave()
    return twiml.redirect(tel.urls.to(WAIT, c=contact_of(request), lang=lang_of(request)))


async def queue_action(tel: Telephony, request: web.Request, form: Form) -> str:
    """``POST /twilio/voice/queue-action``: the call left the Twilio queue. Hung up: an
    abandonment with its wait; left (star): the callback offer; bridged or redirected by us:
    nothing; queue trouble: the callback offer, with an apology."""
    contact_id, lang = contact_of(request), lang_of(request)
    result = form.get("QueueResult", "")
    if result == "hangup":
        waited = _seconds(form.get("QueueTime", ""))
        await tel.connector.caller_hung_up(contact_id, waited_s=waited)
        return twiml.empty()
    if result in LEFT_FOR_ELSEWHERE:
        return twiml.empty()
    sorry = [] if result == "leave" else [prompts.text(lang, "queue_trouble")]
    return _callback_offer(tel, contact_id, lang, form, sorry)


def _seconds(raw: str) -> float | None:
    try:
        return float(raw)
    except ValueError:
        return None


def _callback_offer(tel: Telephony, contact_id: str, lang: str, form: Form,
                    before: list[str]) -> str:
    number = caller_number(form.get("From", ""))
    return twiml.callback_offer(tel.speech, lang, before=before,
                                last3=prompts.last_digits(number) if number else "",
                                action=tel.urls.to(CALLBACK, c=contact_id, lang=lang),
                                fallback=tel.urls.to(HOLD, c=contact_id, lang=lang))


async def callback(tel: Telephony, request: web.Request, form: Form) -> str:
    """``POST /twilio/voice/callback``: confirm the number (or take the typed one), make the
    contact a callback that keeps its place, and say goodbye; or go back to holding."""
    contact_id, lang = contact_of(request), lang_of(request)
    choice = callback_choice(form.get("Digits", ""), caller_number(form.get("From", "")))
    if isinstance(choice, KeepHolding):
        return enqueue(tel, contact_id, lang, [])
    if isinstance(choice, CallMeOn):
        await tel.routing.convert_to_callback(contact_id, number=choice.number)
        log.info("contact %s: became a callback", contact_id)
        done = prompts.text(lang, "callback_done", last3=prompts.last_digits(choice.number))
        return twiml.say_hangup(tel.speech, lang, [done])
    return _callback_offer(tel, contact_id, lang, form,
                           [prompts.text(lang, "callback_invalid")])


async def hold_again(tel: Telephony, request: web.Request, form: Form) -> str:
    """``POST /twilio/voice/hold``: back into the queue (after an expert could not be
    connected, or when the callback offer got no answer)."""
    lang = lang_of(request)
    said = [prompts.text(lang, "requeued")] if request.query.get("why") == "requeued" else []
    return enqueue(tel, contact_of(request), lang, said)
