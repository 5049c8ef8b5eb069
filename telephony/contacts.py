"""Small steps every channel shares: opening a chat contact from its first words, and closing
a contact when the citizen leaves."""

from __future__ import annotations

from router.ports import (
    Channel,
    ContactRequest,
    ContactState,
    ContactTicket,
    ContactView,
    Medium,
    RoutingPort,
)
from telephony import prompts
from telephony.ivr import triage_text
from telephony.service import Telephony


async def open_chat(tel: Telephony, *, medium: Medium, text: str, lang: str, ref: str,
                    address: str = "") -> tuple[ContactTicket, str]:
    """Triage the first message and queue a chat contact (idempotent on ``ref``); returns the
    ticket and the skill chosen."""
    skill, triage = triage_text(text, general_skill=tel.rules.general_skill,
                                min_score=tel.rules.min_confidence, triage=tel.triage)
    ticket = await tel.routing.submit(ContactRequest(
        channel=Channel.CHAT, medium=medium, skill=skill, language=lang, external_ref=ref,
        address=address, triage=triage))
    return ticket, skill


def queued_words(tel: Telephony, lang: str, skill: str, ticket: ContactTicket) -> list[str]:
    """What a new chat contact is told: who they will talk to, their place, the wait (or that
    nobody is on duty just now)."""
    if skill == tel.rules.general_skill:
        first = prompts.text(lang, "webchat_routed_general")
    else:
        first = prompts.text(lang, "routed", label=prompts.skill_label(skill))
    return [first, *prompts.chat_queue_sentences(lang, ticket.queue)]


async def close_by_citizen(routing: RoutingPort, view: ContactView, *, reason: str) -> bool:
    """The citizen left: abandon a waiting contact, end a connected one. False if neither."""
    if view.state.waiting:
        await routing.abandon(view.contact_id, reason=reason)
        return True
    if view.state is ContactState.CONNECTED:
        await routing.end_session(view.contact_id, by="citizen")
        return True
    return False
