"""The channels' own tables: who asked for no more messages, web chats' resume tokens, and
the phone bridges in progress.

An opt-out (STOP) must outlive a restart and be seen by every process, so it lives in the
database, not in memory. Only a keyed hash of the address is kept (``telephony.optouts``):
enough to recognise the number when it writes again or when a message is about to go to it,
without storing it in clear or in a form that could be worked back without the key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from base.clock import now_utc


class ChatResumeRow(SQLModel, table=True):
    """A web chat's resume token (hashed): a citizen whose page reloaded or whose connection
    dropped takes their chat back with it until ``expires_at`` (epoch seconds)."""

    __tablename__ = "chat_resume"
    token_hash: str = Field(primary_key=True, max_length=64)
    contact_id: str = Field(index=True, max_length=40)
    expires_at: float


class OptOutRow(SQLModel, table=True):
    __tablename__ = "messaging_opt_out"
    address_hash: str = Field(primary_key=True, max_length=64)
    created_at: datetime = Field(default_factory=now_utc, sa_type=sa.DateTime(timezone=True))


class CallBridgeRow(SQLModel, table=True):
    """A phone bridge being set up or in progress (``telephony.bridge_store``), so that the
    process that takes over after a restart or failover carries it on. ``state`` and
    ``context`` are ``BridgeState`` and the connector's ``Context`` as JSON; ``retry_at``
    (epoch seconds) is when a callback waiting to call the citizen again is due. The row goes
    when the bridge is done."""

    __tablename__ = "call_bridge"
    contact_id: str = Field(primary_key=True, max_length=40)
    state: dict[str, Any] = Field(sa_type=sa.JSON)
    context: dict[str, Any] = Field(sa_type=sa.JSON)
    retry_at: float | None = None
    updated_at: float
