"""SMS and WhatsApp: ``POST /twilio/messaging`` and delivery of the expert's side.

A first message is triaged from its text and becomes a chat contact (keyed on its MessageSid);
later messages from the same address are relayed to the expert (keyed on theirs). Opt-out
keywords (STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT: Twilio's own list) end any open
conversation and silence the number until START (or UNSTOP, or YES once opted out). BYE (HWYL
in Welsh) ends the conversation without opting out; the expert can end it from the desk.

Idempotency: a repeated MessageSid is answered with an empty reply and changes nothing; the
routing port also keys the contact and every relayed message on the MessageSid.
Opt-outs are kept in the database (hashed), so they survive restarts and hold in every process;
Twilio also blocks SMS to numbers that sent STOP.
"""

from __future__ import annotations

import logging
from enum import StrEnum

from aiohttp import web

from router.ports import Announcement, Assigned, Ended, ExpertMessage, Medium
from telephony import local, prompts, twiml
from telephony.contacts import Closed, close_by_citizen, closed_words, open_chat, queued_words
from telephony.gateway import GatewayError
from telephony.ivr import wants_welsh
from telephony.prompts import CY, EN
from telephony.service import Telephony
from telephony.webhooks import Form

log = logging.getLogger("telephony.messaging")

OPT_OUT_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
OPT_IN_WORDS = frozenset({"START", "UNSTOP"})
CLOSE_WORDS = frozenset({"BYE", "GOODBYE", "HWYL"})
WHATSAPP = "whatsapp:"


class Keyword(StrEnum):
    OPT_OUT = "opt-out"
    OPT_IN = "opt-in"
    CLOSE = "close"


def keyword(body: str, *, opted_out: bool) -> Keyword | None:
    """A one-word control message, or None for ordinary text. YES opts back in only after
    an opt-out (otherwise it is an answer to the expert)."""
    word = body.strip().strip(".!").upper()
    if word in OPT_OUT_WORDS:
        return Keyword.OPT_OUT
    if word in OPT_IN_WORDS or (opted_out and word == "YES"):
        return Keyword.OPT_IN
    return Keyword.CLOSE if word in CLOSE_WORDS else None


def medium_of(address: str) -> Medium:
    return Medium.WHATSAPP if address.startswith(WHATSAPP) else Medium.SMS


async def inbound(tel: Telephony, request: web.Request, form: Form) -> str:
    """``POST /twilio/messaging``: one inbound SMS or WhatsApp message."""
    sid = form.get("MessageSid") or form.get("SmsSid") or ""
    sender = form.get("From", "")
    if not sid or not sender or not tel.messages_seen.first_time(sid):
        return twiml.message(None)
    body = form.get("Body", "").strip()
    opted_out = await tel.optouts.holds(sender)
    word = keyword(body, opted_out=opted_out)
    if word is Keyword.OPT_OUT:
        await tel.optouts.add(sender)
        await _close(tel, sender, reason="citizen opted out of messages")
        log.info("message %s: sender opted out", sid)
        return twiml.message(None)
    if word is Keyword.OPT_IN:
        await tel.optouts.discard(sender)
        resumed = prompts.text(_lang(body), "chat_resumed")
        return twiml.message(resumed if medium_of(sender) is Medium.WHATSAPP else None)
    if opted_out:
        return twiml.message(None)
    if word is Keyword.CLOSE:
        await _close(tel, sender, reason="citizen ended the conversation")
        return twiml.message(prompts.text(_lang(body), "chat_bye"))
    return await _converse(tel, sid, sender, body, local.line_of_number(tel, form.get("To", "")))


async def _converse(tel: Telephony, sid: str, sender: str, body: str, org: str | None) -> str:
    """Relay to the sender's open conversation, or open one on the line texted (``org``). A
    closed line answers with its message and when it opens (a text books no callback)."""
    medium = medium_of(sender)
    current = await tel.routing.find_open(medium=medium, address=sender)
    if current is not None:
        await tel.routing.relay_to_expert(current.contact_id, body, ref=sid)
        log.info("message %s: relayed to contact %s", sid, current.contact_id)
        return twiml.message(None)
    lang = _lang(body)
    opened = await open_chat(tel, medium=medium, text=body, lang=lang, ref=sid, address=sender,
                             org=org)
    if isinstance(opened, Closed):
        log.info("message %s: %s is closed for %s", sid, opened.org, opened.skill)
        return twiml.message(" ".join(closed_words(tel, lang, opened, offer=False)))
    ticket = opened.ticket
    if not ticket.created:
        return await _joined(tel, sid, ticket.contact_id, body)
    log.info("message %s: contact %s for %s (%s)", sid, ticket.contact_id, opened.skill, medium)
    words = [*queued_words(tel, lang, opened), prompts.text(lang, "chat_help")]
    return twiml.message(" ".join(words))


async def _joined(tel: Telephony, sid: str, contact_id: str, body: str) -> str:
    """Another message of the sender's open conversation got there first (they arrived
    together): this one is relayed to it. A retry of the message that opened it is not."""
    opened = await tel.routing.get(contact_id)
    if opened is not None and opened.external_ref != sid:
        await tel.routing.relay_to_expert(contact_id, body, ref=sid)
        log.info("message %s: joined contact %s", sid, contact_id)
    return twiml.message(None)


async def _close(tel: Telephony, sender: str, *, reason: str) -> bool:
    current = await tel.routing.find_open(medium=medium_of(sender), address=sender)
    return current is not None and await close_by_citizen(tel.routing, current, reason=reason)


def _lang(body: str) -> str:
    return CY if wants_welsh(body) or body.strip().upper() == "HWYL" else EN


async def deliver(tel: Telephony, event: Announcement) -> None:
    """The expert's side of an SMS/WhatsApp conversation, sent through the gateway."""
    contact = event.contact
    if await tel.optouts.holds(contact.address):
        log.info("contact %s: %s not sent, the citizen opted out", contact.contact_id,
                 type(event).__name__)
        return
    lang = contact.language if contact.language in (EN, CY) else EN
    if isinstance(event, Assigned):
        label = prompts.skill_label(contact.skill)
        body = " ".join([prompts.text(lang, "chat_connected", label=label),
                         prompts.text(lang, "chat_help")])
    elif isinstance(event, ExpertMessage):
        body = event.text
    elif isinstance(event, Ended) and event.by != "citizen":
        body = prompts.text(lang, "chat_ended")
    else:
        return
    await _send(tel, contact.contact_id, contact.address, body)


async def _send(tel: Telephony, contact_id: str, to: str, body: str) -> None:
    number = tel.config.twilio.number
    sender = WHATSAPP + number if to.startswith(WHATSAPP) else number
    try:
        sid = await tel.gateway.send_message(to=to, from_=sender, body=body)
    except GatewayError as exc:
        log.warning("contact %s: message not sent: %s", contact_id, exc)
        return
    log.info("contact %s: message %s sent", contact_id, sid)
