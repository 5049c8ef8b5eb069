"""Phone bridges in the database, so one outlives the process that set it up.

The connector (``telephony.connect``) writes a bridge down whenever it changes, before acting on
the change, and drops it when the bridge is done; a process that starts (after a restart, or as
the new routing leader) loads the open ones and carries them on, so Twilio's later callbacks
about them still end the session, and a callback's pending retry of the citizen still happens.
One row per contact (``telephony.tables.CallBridgeRow``): the bridge and its ``Context`` as
JSON, and for a callback waiting to call the citizen again, when that is due (epoch seconds).

``to_json`` and ``from_json`` are pure and exact inverses; ``BridgeStore`` does the I/O.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from base.db import Guard, Sessions, writing
from base.errors import DomainError
from router.ports import ExpertEndpoint
from telephony.bridge import BridgeState, Phase
from telephony.tables import CallBridgeRow

log = logging.getLogger("telephony.voice")

STORE_FAILURES = (DomainError, sa.exc.SQLAlchemyError, OSError)
"""What a refused or lost database write raises: the caller logs it and carries on."""


@dataclass(frozen=True, slots=True)
class Context:
    """What the URLs of one assignment carry: language, skill, the wait, how to dial."""

    lang: str
    skill: str
    waited_s: float
    expert: ExpertEndpoint


@dataclass(frozen=True, slots=True)
class SavedBridge:
    state: BridgeState
    context: Context
    retry_at: float | None = None  # epoch seconds: when a RETRY_WAIT bridge's retry is due


Json = dict[str, Any]


def to_json(state: BridgeState, context: Context) -> tuple[Json, Json]:
    """The bridge and its context as JSON objects (the table's ``state`` and ``context``)."""
    expert = context.expert
    return ({"contact_id": state.contact_id, "conference": state.conference,
             "expert_id": state.expert_id, "phase": state.phase.value,
             "callback_number": state.callback_number, "citizen_sid": state.citizen_sid,
             "expert_sid": state.expert_sid, "attempt": state.attempt},
            {"lang": context.lang, "skill": context.skill, "waited_s": context.waited_s,
             "expert": {"expert_id": expert.expert_id, "phone": expert.phone,
                        "client_identity": expert.client_identity,
                        "sip_address": expert.sip_address}})


def from_json(state: Mapping[str, Any], context: Mapping[str, Any]) -> tuple[BridgeState, Context]:
    """The inverse of ``to_json``; KeyError, TypeError or ValueError for what it did not write."""
    bridge = BridgeState(
        str(state["contact_id"]), str(state["conference"]), str(state["expert_id"]),
        Phase(state["phase"]), callback_number=str(state["callback_number"]),
        citizen_sid=str(state["citizen_sid"]), expert_sid=str(state["expert_sid"]),
        attempt=int(state["attempt"]))
    expert = context["expert"]
    endpoint = ExpertEndpoint(str(expert["expert_id"]), phone=str(expert["phone"]),
                              client_identity=str(expert["client_identity"]),
                              sip_address=str(expert["sip_address"]))
    return bridge, Context(str(context["lang"]), str(context["skill"]),
                           float(context["waited_s"]), endpoint)


class BridgeStore:
    """The ``call_bridge`` table. ``clock`` is epoch seconds (rows outlive the process);
    ``guard`` runs first in every write's transaction (the routing leader's fence, which
    raises ``NotLeader`` once another process leads)."""

    def __init__(self, sessions: Sessions, *, clock: Callable[[], float],
                 guard: Guard | None = None) -> None:
        self._sessions = sessions
        self._clock = clock
        self._guard = guard

    async def save(self, state: BridgeState, context: Context, *,
                   retry_at: float | None = None) -> None:
        """Insert or replace the contact's bridge."""
        state_json, context_json = to_json(state, context)
        async with writing(self._sessions) as session:
            await self._guarded(session)
            await session.merge(CallBridgeRow(
                contact_id=state.contact_id, state=state_json, context=context_json,
                retry_at=retry_at, updated_at=self._clock()))

    async def drop(self, contact_id: str) -> None:
        async with writing(self._sessions) as session:
            await self._guarded(session)
            await session.exec(sa.delete(CallBridgeRow).where(
                col(CallBridgeRow.contact_id) == contact_id))

    async def _guarded(self, session: AsyncSession) -> None:
        if self._guard is not None:
            await self._guard(session)

    async def load_open(self) -> list[SavedBridge]:
        """Every bridge not yet done, oldest change first (a row it cannot read is logged and
        left out)."""
        async with self._sessions() as session:
            rows = (await session.exec(select(CallBridgeRow).order_by(
                col(CallBridgeRow.updated_at)))).all()
        found = [_decoded(row) for row in rows]
        return [saved for saved in found if saved and saved.state.phase is not Phase.DONE]

    def __repr__(self) -> str:
        return "<BridgeStore (database)>"


def _decoded(row: CallBridgeRow) -> SavedBridge | None:
    try:
        state, context = from_json(row.state, row.context)
    except (KeyError, TypeError, ValueError) as exc:
        log.warning("contact %s: a saved bridge could not be read (%r); left alone",
                    row.contact_id, exc)
        return None
    return SavedBridge(state, context, row.retry_at)
