"""Persistence of the routing engine: the core's commands become rows, in one transaction.

``Store.commit(batch)`` writes everything one event produced (new contacts, offers, sessions,
decisions, state changes, audit records) and commits before the engine announces any of it.
``Store.load_live()`` reads what a restart needs: live contacts in arrival order, pending
offers, active sessions. ``Store.add_message`` keeps one line of a chat's transcript (once per
``ref``). I/O lives here; what to write is decided by the engine and the core.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from base import audit
from base.db import Database
from router import commands as cmd
from router.model import Decision
from router.tables import (
    ContactEventRow,
    ContactRow,
    DecisionRow,
    MessageRow,
    OfferRow,
    PresenceRow,
    SessionRow,
)

LIVE_STATES = ("queued", "offered", "connected", "wrapup", "callback")
FINAL_STATES = ("completed", "abandoned", "failed")
_Row = TypeVar("_Row")


@dataclass(frozen=True, slots=True)
class StateChange:
    """A contact's new public state (``callback`` where the core says queued)."""

    contact_id: str
    state: str
    reason: str = ""
    expert_id: str | None = None
    waited_s: float | None = None


@dataclass
class Batch:
    """Everything one engine step writes."""

    at: float
    new_contacts: list[ContactRow] = field(default_factory=list)
    changes: list[StateChange] = field(default_factory=list)
    offers: list[cmd.MakeOffer] = field(default_factory=list)
    closed_offers: list[tuple[str, str, str | None]] = field(default_factory=list)
    connected: list[cmd.Connected] = field(default_factory=list)
    sessions_ended: list[tuple[str, str, bool]] = field(default_factory=list)
    sessions_failed: list[str] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    presence: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    updates: dict[str, dict[str, Any]] = field(default_factory=dict)
    audits: list[dict[str, Any]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return any((self.new_contacts, self.changes, self.offers, self.closed_offers,
                    self.connected, self.sessions_ended, self.sessions_failed, self.decisions,
                    self.presence, self.updates, self.audits))


def decision_row(decision: Decision) -> DecisionRow:
    return DecisionRow(contact_id=decision.contact_id, at=decision.at, step=decision.step,
                       policy=decision.policy, chosen=decision.chosen,
                       reason=decision.reason[:500],
                       candidates=[dataclasses.asdict(c) for c in decision.candidates])


async def _rows(session: AsyncSession, query: SelectOfScalar[_Row]) -> list[_Row]:
    return list((await session.exec(query)).all())


@dataclass(frozen=True, slots=True)
class Live:
    contacts: list[ContactRow]
    offers: list[OfferRow]
    sessions: list[SessionRow]
    max_seq: int


class Store:
    def __init__(self, database: Database) -> None:
        self.db = database

    async def commit(self, batch: Batch) -> None:
        if not batch:
            return
        async with self.db.session() as session:
            for row in batch.new_contacts:
                session.add(row)
            await session.flush()
            await self._contacts(session, batch)
            await self._offers(session, batch)
            await self._sessions(session, batch)
            for decision in batch.decisions:
                session.add(decision_row(decision))
            await self._presence(session, batch)
            for entry in batch.audits:
                audit.record(session, **entry)
            await session.commit()

    async def _contacts(self, session: AsyncSession, batch: Batch) -> None:
        for contact_id, update in batch.updates.items():
            await session.exec(sa.update(ContactRow).where(
                col(ContactRow.id) == contact_id).values(**update))
        for change in batch.changes:
            values: dict[str, Any] = {"state": change.state, "reason": change.reason[:200]}
            if change.expert_id is not None:
                values["expert_id"] = change.expert_id
            if change.waited_s is not None:
                values["waited_s"] = change.waited_s
            if change.state in FINAL_STATES:
                values["ended_at"] = batch.at
            await session.exec(sa.update(ContactRow).where(
                col(ContactRow.id) == change.contact_id).values(**values))
            session.add(ContactEventRow(contact_id=change.contact_id, at=batch.at,
                                        state=change.state, reason=change.reason[:200],
                                        expert_id=change.expert_id))

    async def _offers(self, session: AsyncSession, batch: Batch) -> None:
        for offer in batch.offers:
            session.add(OfferRow(id=offer.offer_id, contact_id=offer.contact_id,
                                 expert_id=offer.expert_id, channel=offer.channel.value,
                                 made_at=batch.at, expires_at=offer.expires_at,
                                 status="pending"))
            session.add(decision_row(offer.decision))
        await session.flush()
        for offer_id, status, reason in batch.closed_offers:
            await session.exec(sa.update(OfferRow).where(
                col(OfferRow.id) == offer_id, col(OfferRow.status) == "pending").values(
                status=status, closed_at=batch.at, reason=(reason or "")[:64]))

    async def _sessions(self, session: AsyncSession, batch: Batch) -> None:
        for made in batch.connected:
            session.add(SessionRow(id=made.session_id, offer_id=made.offer_id,
                                   contact_id=made.contact_id, expert_id=made.expert_id,
                                   channel=made.channel.value, started_at=batch.at))
            await session.exec(sa.update(OfferRow).where(
                col(OfferRow.id) == made.offer_id).values(
                status="accepted", closed_at=batch.at, session_id=made.session_id))
        await session.flush()
        for session_id, by, distressing in batch.sessions_ended:
            await session.exec(sa.update(SessionRow).where(
                col(SessionRow.id) == session_id, col(SessionRow.ended_at).is_(None)).values(
                ended_at=batch.at, ended_by=by[:16], distressing=distressing))
        for session_id in batch.sessions_failed:
            await session.exec(sa.update(SessionRow).where(
                col(SessionRow.id) == session_id).values(
                ended_at=batch.at, ended_by="failed", wrapup_ended_at=batch.at))

    async def _presence(self, session: AsyncSession, batch: Batch) -> None:
        for expert_id, (presence, state, reason) in batch.presence.items():
            row = await session.get(PresenceRow, expert_id)
            if row is None:
                row = PresenceRow(expert_id=expert_id, presence=presence, updated_at=batch.at)
            row.presence, row.state, row.reason = presence, state, reason[:200]
            row.updated_at = batch.at
            session.add(row)

    async def add_message(self, row: MessageRow) -> bool:
        """Add one line to a contact's transcript. A line whose ``ref`` is already stored is
        not added again (False): the database's unique ``ref`` makes a relayed message
        idempotent, across restarts too."""
        values = row.model_dump(exclude={"id"})
        table = MessageRow.metadata.tables[MessageRow.__tablename__]
        dialect = postgresql if self.db.dialect == "postgresql" else sqlite
        statement = dialect.insert(table).values(**values).on_conflict_do_nothing(
            index_elements=["ref"])
        async with self.db.session() as session:
            result = await (await session.connection()).execute(statement)
            await session.commit()
        return bool(result.rowcount)

    async def all_offline(self, at: float) -> None:
        """After a restart nobody is connected: every expert must reconnect."""
        async with self.db.session() as session:
            await session.exec(sa.update(PresenceRow).values(
                presence="offline", state="offline", reason="restart", updated_at=at))
            await session.commit()

    # -- reads --------------------------------------------------------------------------------
    async def load_live(self) -> Live:
        async with self.db.session() as session:
            contacts = list((await session.exec(
                select(ContactRow).where(col(ContactRow.state).in_(LIVE_STATES))
                .order_by(col(ContactRow.seq)))).all())
            offers = list((await session.exec(
                select(OfferRow).where(OfferRow.status == "pending"))).all())
            sessions = list((await session.exec(
                select(SessionRow).where(col(SessionRow.ended_at).is_(None)))).all())
            max_seq = (await session.exec(select(sa.func.max(ContactRow.seq)))).one()
        return Live(contacts, offers, sessions, int(max_seq or 0))

    async def contact(self, contact_id: str) -> ContactRow | None:
        async with self.db.session() as session:
            return await session.get(ContactRow, contact_id)

    async def transcript(self, contact_id: str) -> tuple[ContactRow, list[MessageRow]] | None:
        """The contact and its messages, oldest first; None for an unknown contact."""
        async with self.db.session() as session:
            contact = await session.get(ContactRow, contact_id)
            if contact is None:
                return None
            rows = (await session.exec(select(MessageRow).where(
                MessageRow.contact_id == contact_id).order_by(col(MessageRow.id)))).all()
            return contact, list(rows)

    async def by_ref(self, external_ref: str) -> ContactRow | None:
        async with self.db.session() as session:
            return (await session.exec(select(ContactRow).where(
                ContactRow.external_ref == external_ref))).first()

    async def history(self, contact_id: str) -> dict[str, list[Any]]:
        """The contact's events, offers, sessions and decisions, oldest first."""
        async with self.db.session() as session:
            found: dict[str, list[Any]] = {
                "events": await _rows(session, select(ContactEventRow).where(
                    col(ContactEventRow.contact_id) == contact_id).order_by(
                    col(ContactEventRow.id))),
                "offers": await _rows(session, select(OfferRow).where(
                    col(OfferRow.contact_id) == contact_id).order_by(col(OfferRow.made_at))),
                "sessions": await _rows(session, select(SessionRow).where(
                    col(SessionRow.contact_id) == contact_id).order_by(
                    col(SessionRow.started_at))),
                "decisions": await _rows(session, select(DecisionRow).where(
                    col(DecisionRow.contact_id) == contact_id).order_by(col(DecisionRow.id))),
            }
            return found

    async def contacts(self, *, states: Iterable[str] | None, limit: int, offset: int
                       ) -> tuple[list[ContactRow], int]:
        query = select(ContactRow)
        count = select(sa.func.count()).select_from(ContactRow)
        if states:
            query = query.where(col(ContactRow.state).in_(list(states)))
            count = count.where(col(ContactRow.state).in_(list(states)))
        async with self.db.session() as session:
            rows = (await session.exec(query.order_by(col(ContactRow.seq).desc())
                                       .offset(offset).limit(limit))).all()
            total = (await session.exec(count)).one()
        return list(rows), int(total)

    async def since(self, start: float) -> list[tuple[str, str, float | None]]:
        """(skill, state, waited_s) of contacts that arrived since ``start``."""
        c = ContactRow.metadata.tables[ContactRow.__tablename__].c  # its Core table
        query = sa.select(c.skill, c.state, c.waited_s).where(c.arrived_at >= start)
        async with self.db.session() as session:
            rows = await (await session.connection()).execute(query)
            return [tuple(r) for r in rows.all()]

    async def sessions_since(self, expert_id: str, start: float
                             ) -> list[tuple[float, float | None]]:
        """(started_at, ended_at) of the expert's sessions started since ``start``, but those
        that failed (the expert could not be connected)."""
        s = SessionRow.metadata.tables[SessionRow.__tablename__].c
        query = sa.select(s.started_at, s.ended_at).where(
            s.expert_id == expert_id, s.started_at >= start, s.ended_by != "failed")
        async with self.db.session() as session:
            rows = await (await session.connection()).execute(query)
            return [(started, ended) for started, ended in rows.all()]

    async def handle_times(self, limit: int = 200) -> list[float]:
        """Durations (start to end) of the most recent finished sessions, newest first."""
        s = SessionRow.metadata.tables[SessionRow.__tablename__].c
        query = sa.select(s.started_at, s.ended_at).where(
            s.ended_at.is_not(None), s.ended_by != "failed").order_by(
            s.ended_at.desc()).limit(limit)
        async with self.db.session() as session:
            rows = await (await session.connection()).execute(query)
            return [end - start for start, end in rows.all()]
