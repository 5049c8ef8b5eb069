"""The engine's live contacts, and the translation of core commands into writes and news.

``Translator.apply(commands)`` decides, without I/O, what one engine step must persist (a
``store.Batch``) and what it must announce afterwards: channel announcements
(``router.ports``) and desk events for each expert's WebSocket. The engine commits the
batch first and announces second (a desk's ``session`` event gets the chat's transcript, read
from the database, just before it is pushed).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from router import commands as cmd
from router.batch import Batch, StateChange
from router.model import ContactState, Presence
from router.ports import (
    Announcement,
    Assigned,
    Channel,
    ContactView,
    ExpertEndpoint,
    Medium,
    Rescinded,
    ShownExpert,
)

FINAL = (ContactState.COMPLETED, ContactState.ABANDONED, ContactState.FAILED)


@dataclass
class LiveContact:
    """A contact not yet finished, as the channels and the desk see it."""

    id: str
    seq: int
    channel: Channel
    medium: Medium
    skill: str
    language: str
    external_ref: str
    arrived_at: float
    priority: int = 0
    address: str = ""
    callback_number: str = ""
    org: str | None = None  # the organisation it was asked for (None: the shared line)
    state: ContactState = ContactState.QUEUED
    expert_id: str | None = None
    session_id: str | None = None
    failed: str = ""  # why the contact failed, once it has
    distressing: bool = False
    # the citizen's own first words, for the expert's desk only: never logged, never shown to
    # supervisors (``ContactRow.first_words``)
    first_words: str = field(default="", repr=False)

    def view(self) -> ContactView:
        return ContactView(self.id, self.channel, self.medium, self.skill, self.language,
                           self.state, self.external_ref, self.address, self.callback_number)

    def summary(self, now: float) -> dict[str, Any]:
        """What an expert's desk is shown about the contact (no phone number): with the
        citizen's first words, so a ringing offer shows what they need in their own words."""
        return {"id": self.id, "channel": self.channel.value, "medium": self.medium.value,
                "skill": self.skill, "language": self.language, "priority": self.priority,
                "waited_s": round(max(now - self.arrived_at, 0.0), 1),
                "callback": bool(self.callback_number), "first_words": self.first_words}


DeskEvent = tuple[str, dict[str, Any]]


@dataclass
class News:
    """What to announce once the batch is committed."""

    announcements: list[Announcement | Later] = field(default_factory=list)
    desk: list[DeskEvent] = field(default_factory=list)
    timers: list[cmd.StartTimer | cmd.CancelTimer] = field(default_factory=list)


def public_state(contact: LiveContact, state: ContactState) -> ContactState:
    if contact.failed:
        return ContactState.FAILED
    if state is ContactState.QUEUED and contact.callback_number:
        return ContactState.CALLBACK
    return state


class Translator:
    """Applies one step's commands to the live contacts; see the module docstring."""

    def __init__(self, live: dict[str, LiveContact], *, presence: Mapping[str, Presence],
                 endpoint: Callable[[str], ExpertEndpoint],
                 shown: Callable[[str], ShownExpert],
                 forget: Callable[[LiveContact], None]) -> None:
        self.live = live
        self.presence = presence
        self.endpoint = endpoint
        self.shown = shown
        self.forget = forget

    def apply(self, commands: list[cmd.Command], batch: Batch, news: News) -> None:
        for command in commands:
            handler = getattr(self, "_" + type(command).__name__)
            handler(command, batch, news)

    def _MakeOffer(self, c: cmd.MakeOffer, batch: Batch, news: News) -> None:
        batch.offers.append(c)
        contact = self.live.get(c.contact_id)
        summary = contact.summary(batch.at) if contact else {"id": c.contact_id}
        news.desk.append((c.expert_id, {"type": "offer", "offer_id": c.offer_id,
                                        "expires_at": c.expires_at, "contact": summary}))

    def _RescindOffer(self, c: cmd.RescindOffer, batch: Batch, news: News) -> None:
        status = "expired" if c.reason == "expired" else "rescinded"
        batch.closed_offers.append((c.offer_id, status, c.reason))
        news.desk.append((c.expert_id, {"type": "rescind", "offer_id": c.offer_id,
                                        "reason": c.reason}))
        contact = self.live.get(c.contact_id)
        if contact is not None:
            news.announcements.append(Later(Rescinded, contact, (c.expert_id, c.reason)))

    def _Connected(self, c: cmd.Connected, batch: Batch, news: News) -> None:
        batch.connected.append(c)
        contact = self.live.get(c.contact_id)
        if contact is None:
            return
        waited = max(batch.at - contact.arrived_at, 0.0)
        contact.expert_id, contact.session_id = c.expert_id, c.session_id
        batch.updates[c.contact_id] = {"answered_at": batch.at, "waited_s": waited,
                                       "expert_id": c.expert_id}
        batch.audits.append({"actor": f"expert:{c.expert_id}", "action": "assign",
                             "entity": "contact", "entity_id": c.contact_id,
                             "after": {"expert": c.expert_id, "session": c.session_id,
                                       "offer": c.offer_id, "waited_s": round(waited, 1)}})
        news.desk.append((c.expert_id, {"type": "session", "session_id": c.session_id,
                                        "offer_id": c.offer_id,
                                        "contact": contact.summary(batch.at)}))
        news.announcements.append(Later(Assigned, contact, (
            self.endpoint(c.expert_id), waited, self.shown(c.expert_id))))

    def _ContactRefiled(self, c: cmd.ContactRefiled, batch: Batch, _news: News) -> None:
        contact = self.live.get(c.contact_id)
        if contact is not None:
            contact.skill, contact.priority = c.skill, c.priority
        batch.updates.setdefault(c.contact_id, {}).update(skill=c.skill, priority=c.priority)

    def _ContactStateChanged(self, c: cmd.ContactStateChanged, batch: Batch,
                             news: News) -> None:
        contact = self.live.get(c.contact_id)
        if contact is None:
            return
        state = public_state(contact, c.state)
        if state is contact.state and state is ContactState.FAILED:
            return  # already recorded as failed
        if state in (ContactState.QUEUED, ContactState.CALLBACK):
            contact.expert_id = contact.session_id = None
        contact.state = state
        reason = contact.failed if state is ContactState.FAILED else c.reason
        batch.changes.append(StateChange(c.contact_id, state.value, reason, contact.expert_id))
        if state in FINAL:
            self.forget(contact)

    def _ExpertStateChanged(self, c: cmd.ExpertStateChanged, batch: Batch,
                            news: News) -> None:
        presence = self.presence.get(c.expert_id, Presence.OFFLINE)
        batch.presence[c.expert_id] = (presence.value, c.state.value, c.reason)
        news.desk.append((c.expert_id, {"type": "state", "state": c.state.value,
                                        "reason": c.reason}))

    def _DecisionRecorded(self, c: cmd.DecisionRecorded, batch: Batch, news: News) -> None:
        batch.decisions.append(c.decision)

    def _StartTimer(self, c: cmd.StartTimer, batch: Batch, news: News) -> None:
        news.timers.append(c)
        kind, _, session_id = c.key.partition(":")
        if kind == "wrapup":  # the desk hears when the wrap-up it starts will end
            for _expert, event in news.desk:
                if event.get("type") == "session_ended" and event.get("session_id") == session_id:
                    event["wrapup_ends_at"] = c.at

    def _CancelTimer(self, c: cmd.CancelTimer, batch: Batch, news: News) -> None:
        news.timers.append(c)


@dataclass(frozen=True, slots=True)
class Later:
    """An announcement built once the step is over, so it carries the contact's final view:
    ``kind(view, *args)``."""

    kind: Callable[..., Announcement]
    contact: LiveContact
    args: tuple[Any, ...]

    def build(self) -> Announcement:
        return self.kind(dataclasses.replace(self.contact.view()), *self.args)
