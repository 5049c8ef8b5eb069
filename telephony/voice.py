"""The caller's side of a voice call: IVR, queue, hold announcements and the callback offer.

Idempotency: nothing here is keyed on server memory. The IVR step and language ride in the
signed URL; the contact is created by ``submit`` keyed on the CallSid, so a retried gather
returns the same contact; ``abandon`` on a finished contact changes nothing; hold and
callback-offer documents only read. A retried webhook therefore changes nothing.
"""

from __future__ import annotations

import logging

from aiohttp import web

from base.local_rules import OfferCallback, ToPartner
from router.ports import Channel, ContactRequest, Medium
from telephony import ivr, local, prompts, twiml
from telephony.bridge import queue_name
from telephony.ivr import Ask, Route, Step
from telephony.numbers import CallMeOn, KeepHolding, callback_choice, caller_number
from telephony.service import Telephony
from telephony.urls import CALLBACK, GATHER, HOLD, OOH_CALLBACK, QUEUE_ACTION, WAIT, WAIT_KEY
from telephony.webhooks import Form, contact_of, lang_of, required

log = logging.getLogger("telephony.voice")

LEFT_FOR_ELSEWHERE = frozenset({"bridged", "bridging-in-process", "redirected"})


async def incoming(tel: Telephony, request: web.Request, form: Form) -> str:
    """``POST /twilio/voice``: a new call hears the 999 sentence, then the greeting (its
    organisation's own, on an organisation's number), and is asked what they need."""
    log.info("call %s: answered", required(form, "CallSid"))
    return _ask(tel, ivr.start(), form)


async def gathered(tel: Telephony, request: web.Request, form: Form) -> str:
    """``POST /twilio/voice/gather?step=&lang=``: triage what was said or pressed."""
    step = _step(request.query.get("step", ""))
    decision = ivr.decide(step, lang_of(request), ivr.parse_heard(form), rules=tel.rules,
                          triage=tel.triage)
    if isinstance(decision, Ask):
        return _ask(tel, decision, form)
    return await _queue(tel, form, decision)


def _step(raw: str) -> Step:
    try:
        return Step(raw)
    except ValueError:
        return Step.ASK


def _ask(tel: Telephony, ask: Ask, form: Form) -> str:
    """The greeting (the call's start, in English, or its Welsh path's) comes after the 999
    sentence in its language, said where it cannot be talked over."""
    action = tel.urls.to(GATHER, step=ask.step, lang=ask.lang)
    greets = ask.step is Step.ASK
    org = local.line_of_number(tel, form.get("To", ""))
    return twiml.ask(tel.speech, ask.step, ask.lang, action=action, menu=tel.config.voice.menu,
                     before=[prompts.safety(ask.lang, spoken=True)] if greets else [],
                     greeting=local.greeting(tel, org, ask.lang) if greets else "")


async def _queue(tel: Telephony, form: Form, route: Route) -> str:
    """Queue the caller for the skill triaged, on the line they called: as always while the
    organisation is open; when it is closed, its message, then its partner's experts or the
    callback offer."""
    call_sid = required(form, "CallSid")
    placed = await local.place(tel, local.line_of_number(tel, form.get("To", "")), route.skill)
    if isinstance(placed, OfferCallback):
        log.info("call %s: %s is closed, callback offered", call_sid, placed.org)
        closed = local.closed_words(tel, route.lang, placed.org, route.skill, placed.state)
        return _out_of_hours_offer(tel, route.skill, route.lang, form, closed)
    before = local.partner_words(tel, route.lang, placed, route.skill)
    line = placed.partner if isinstance(placed, ToPartner) else placed.org
    ticket = await tel.routing.submit(ContactRequest(
        channel=Channel.VOICE, medium=Medium.PHONE, skill=route.skill, language=route.lang,
        external_ref=call_sid, address=form.get("From", ""), triage=route.triage, org=line,
        priority=placed.priority))
    tel.calls.remember(call_sid, ticket.contact_id)
    log.info("call %s: contact %s %s for %s (%s, by %s)", call_sid, ticket.contact_id,
             "queued" if ticket.created else "already queued", route.skill, route.lang,
             route.triage.method)
    if route.skill == tel.rules.general_skill:
        said = prompts.text(route.lang, "routed_general")
    else:
        said = prompts.text(route.lang, "routed", label=prompts.skill_label(route.skill))
    return enqueue(tel, ticket.contact_id, route.lang, [*before, said])


def _out_of_hours_offer(tel: Telephony, skill: str, lang: str, form: Form, before: list[str],
                        *, again: bool = False) -> str:
    """The closed organisation's words, then: a callback when it opens (press 1 for the
    calling number, or type one), or, with nothing to book, goodbye."""
    if tel.book_callback is None:
        return twiml.say_hangup(tel.speech, lang, [*before, prompts.text(lang, "ooh_goodbye")])
    number = caller_number(form.get("From", ""))
    action = tel.urls.to(OOH_CALLBACK, skill=skill, lang=lang, again=1 if again else None)
    return twiml.callback_offer(tel.speech, lang, before=before, action=action,
                                fallback=action, last3=prompts.last_digits(number) if number
                                else "", keys=("ooh_callback_known", "ooh_callback_unknown"))


async def out_of_hours_callback(tel: Telephony, request: web.Request, form: Form) -> str:
    """``POST /twilio/voice/out-of-hours-callback?skill=&lang=``: book a scheduled callback
    for when the organisation opens, on the number confirmed or typed; one more try after a
    number we cannot call; goodbye after silence."""
    lang, skill = lang_of(request), request.query.get("skill", "")
    org = local.line_of_number(tel, form.get("To", ""))
    goodbye = twiml.say_hangup(tel.speech, lang, [prompts.text(lang, "ooh_goodbye")])
    placed = await local.place(tel, org, skill)
    opens = placed.state.opens_at if isinstance(placed, OfferCallback) else None
    if not form.get("Digits", "").strip() or opens is None or tel.book_callback is None:
        return goodbye  # silence, or it has opened meanwhile (a new call routes as usual)
    choice = callback_choice(form.get("Digits", ""), caller_number(form.get("From", "")))
    if isinstance(choice, CallMeOn):
        booked = await tel.book_callback(number=choice.number, skill=skill, language=lang,
                                         due_at=opens.timestamp(), org=org,
                                         ref=required(form, "CallSid"))
        log.info("call %s: scheduled callback %s booked for when %s opens",
                 form.get("CallSid"), booked, org)
        return twiml.say_hangup(tel.speech, lang, [prompts.text(
            lang, "ooh_callback_done", last3=prompts.last_digits(choice.number),
            **local.when(tel, lang, opens))])
    if isinstance(choice, KeepHolding) or request.query.get("again"):
        return goodbye
    return _out_of_hours_offer(tel, skill, lang, form, [prompts.text(lang, "callback_invalid")],
                               again=True)


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
