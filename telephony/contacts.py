"""Small steps every channel shares: opening a chat contact from its first words (on its
organisation's line, which may be closed), and closing a contact when the citizen leaves."""

from __future__ import annotations

from dataclasses import dataclass

from base.local_rules import OfferCallback, OpenState, ToPartner
from router.ports import (
    Channel,
    ContactRequest,
    ContactState,
    ContactTicket,
    ContactView,
    Medium,
    RoutingPort,
)
from telephony import local, prompts
from telephony.ivr import triage_text
from telephony.service import Telephony


@dataclass(frozen=True, slots=True)
class Opened:
    """A chat contact queued; ``before`` is what the citizen is told first (out of hours: the
    organisation's message and that a partner takes it)."""

    ticket: ContactTicket
    skill: str
    before: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Closed:
    """Nothing queued: ``org`` is closed for ``skill`` and offers a callback."""

    org: str
    skill: str
    state: OpenState


async def open_chat(tel: Telephony, *, medium: Medium, text: str, lang: str, ref: str,
                    address: str = "", org: str | None = None) -> Opened | Closed:
    """Triage the first message and queue a chat contact on ``org``'s line (None: the
    national line), idempotent on ``ref``; or, when the organisation is closed, its partner's
    line, or nothing (``Closed``)."""
    skill, triage = triage_text(text, general_skill=tel.rules.general_skill,
                                min_score=tel.rules.min_confidence, triage=tel.triage)
    placed = await local.place(tel, org, skill)
    if isinstance(placed, OfferCallback):
        return Closed(placed.org, skill, placed.state)
    line = placed.partner if isinstance(placed, ToPartner) else placed.org
    ticket = await tel.routing.submit(ContactRequest(
        channel=Channel.CHAT, medium=medium, skill=skill, language=lang, external_ref=ref,
        address=address, triage=triage, org=line, priority=placed.priority))
    return Opened(ticket, skill, tuple(local.partner_words(tel, lang, placed, skill)))


def queued_words(tel: Telephony, lang: str, opened: Opened) -> list[str]:
    """What a new chat contact is told: the 999 sentence first, then who they will talk to,
    their place, the wait (or that nobody is on duty just now)."""
    skill = opened.skill
    if skill == tel.rules.general_skill:
        first = prompts.text(lang, "webchat_routed_general")
    else:
        first = prompts.text(lang, "routed", label=prompts.skill_label(skill))
    return [prompts.safety(lang, spoken=False), *opened.before, first,
            *prompts.chat_queue_sentences(lang, opened.ticket.queue)]


def closed_words(tel: Telephony, lang: str, closed: Closed, *, offer: bool) -> list[str]:
    """What a chat on a closed line is told: the 999 sentence, the organisation's message and
    when it opens, then the callback offer (with ``offer``) or to come back."""
    tail = "chat_callback_offer" if offer else "chat_callback_none"
    return [prompts.safety(lang, spoken=False),
            *local.closed_words(tel, lang, closed.org, closed.skill, closed.state),
            prompts.text(lang, tail)]


async def close_by_citizen(routing: RoutingPort, view: ContactView, *, reason: str) -> bool:
    """The citizen left: abandon a waiting contact, end a connected one. False if neither."""
    if view.state.waiting:
        await routing.abandon(view.contact_id, reason=reason)
        return True
    if view.state is ContactState.CONNECTED:
        await routing.end_session(view.contact_id, by="citizen")
        return True
    return False
