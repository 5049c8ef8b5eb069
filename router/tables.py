"""The routing engine's tables: contacts, their history, offers, sessions, decisions, presence.

The database is the source of truth (docs/architecture.md): the engine commits each
transition here before it announces it, and rebuilds its in-memory core from these rows on start.
Times are epoch seconds (floats) on the engine's clock, so the core's numbers persist unchanged.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


class ContactRow(SQLModel, table=True):
    """One citizen's contact. ``seq`` is its arrival order (its place in the queue)."""

    __tablename__ = "contact"
    id: str = Field(primary_key=True, max_length=40)
    seq: int = Field(index=True, unique=True)
    external_ref: str = Field(max_length=128, unique=True)  # CallSid, MessageSid, chat id
    channel: str = Field(max_length=8)  # voice | chat
    medium: str = Field(max_length=16)  # phone | sms | whatsapp | web | api
    skill: str = Field(max_length=64, index=True)
    language: str = Field(default="en", max_length=16)
    priority: int = 0
    org: str | None = Field(default=None, max_length=64)
    accreditations: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    address: str = Field(default="", max_length=64)  # the citizen's number: never logged whole
    callback_number: str = Field(default="", max_length=64)
    triage: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    # the citizen's own first words (chat: first message; call: what they said to the IVR),
    # shown to the expert an offer rings for; never logged
    first_words: str = Field(default="", max_length=1000)
    state: str = Field(max_length=16, index=True)
    reason: str = Field(default="", max_length=200)
    arrived_at: float = Field(index=True)
    answered_at: float | None = None
    ended_at: float | None = None
    waited_s: float | None = None
    expert_id: str | None = Field(default=None, max_length=64, index=True)


class ContactEventRow(SQLModel, table=True):
    """Every state a contact went through, in order, with why."""

    __tablename__ = "contact_event"
    id: int | None = Field(default=None, primary_key=True)
    contact_id: str = Field(foreign_key="contact.id", index=True, max_length=40)
    at: float
    state: str = Field(max_length=16)
    reason: str = Field(default="", max_length=200)
    expert_id: str | None = Field(default=None, max_length=64)
    # the routing leader's epoch that wrote it (PostgreSQL; None on SQLite): router.lease
    epoch: int | None = Field(default=None, sa_type=sa.BigInteger)


class MessageRow(SQLModel, table=True):
    """One line of a chat's transcript, kept for the life of the contact so a desk reload, a
    second device or the citizen's resumed chat sees the whole conversation. ``ref`` makes a
    relayed message idempotent (a MessageSid, a web chat frame id)."""

    __tablename__ = "contact_message"
    id: int | None = Field(default=None, primary_key=True)
    contact_id: str = Field(foreign_key="contact.id", index=True, max_length=40)
    at: float
    sender: str = Field(max_length=16)  # citizen | expert | system
    expert_id: str | None = Field(default=None, max_length=64)
    text: str = Field(max_length=2000)
    ref: str | None = Field(default=None, max_length=160, unique=True)


class OfferRow(SQLModel, table=True):
    __tablename__ = "offer"
    id: str = Field(primary_key=True, max_length=40)
    contact_id: str = Field(foreign_key="contact.id", index=True, max_length=40)
    expert_id: str = Field(max_length=64, index=True)
    channel: str = Field(max_length=8)
    made_at: float
    expires_at: float
    status: str = Field(max_length=16, index=True)  # pending | accepted | declined | expired…
    closed_at: float | None = None
    reason: str = Field(default="", max_length=64)
    session_id: str | None = Field(default=None, max_length=40)


class SessionRow(SQLModel, table=True):
    """An expert talking to a citizen, from accept to the end of wrap-up."""

    __tablename__ = "contact_session"
    id: str = Field(primary_key=True, max_length=40)
    offer_id: str = Field(max_length=40)
    contact_id: str = Field(foreign_key="contact.id", index=True, max_length=40)
    expert_id: str = Field(max_length=64, index=True)
    channel: str = Field(max_length=8)
    started_at: float
    ended_at: float | None = None
    ended_by: str = Field(default="", max_length=16)
    distressing: bool = False
    wrapup_ended_at: float | None = None


class DecisionRow(SQLModel, table=True):
    """Why a contact was offered to an expert, or why nobody was eligible."""

    __tablename__ = "routing_decision"
    id: int | None = Field(default=None, primary_key=True)
    contact_id: str = Field(foreign_key="contact.id", index=True, max_length=40)
    at: float
    step: int
    policy: str = Field(max_length=16)
    chosen: str | None = Field(default=None, max_length=64)
    reason: str = Field(max_length=500)
    candidates: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)


class PresenceRow(SQLModel, table=True):
    """What each expert last asked for on the desk (the engine restarts everyone offline)."""

    __tablename__ = "expert_presence"
    expert_id: str = Field(primary_key=True, max_length=64)
    presence: str = Field(max_length=16)  # available | away | offline
    state: str = Field(default="offline", max_length=16)
    reason: str = Field(default="", max_length=200)
    updated_at: float


class LeaseRow(SQLModel, table=True):
    """Who leads routing (PostgreSQL only; ``router.lease``). One row, id 1. ``epoch`` grows
    by one with every new leader; ``expires_at`` is on the database's clock. ``secret`` is new
    with every epoch; anyone who can read it can read the whole database anyway."""

    __tablename__ = "routing_lease"
    id: int = Field(primary_key=True)
    holder: str = Field(max_length=200)
    address: str = Field(default="", max_length=500)  # where the others relay requests to it
    secret: str = Field(default="", max_length=64)  # proves a relayed request is one of ours
    epoch: int = Field(sa_type=sa.BigInteger)
    expires_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
