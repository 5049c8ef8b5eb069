"""Persistence of the routing engine: the core's commands become rows, many steps per transaction.

``Store.commit_many(batches)`` writes everything a group of engine steps produced (new
contacts, offers, sessions, decisions, state changes, audit records) in one transaction of a
few set-based statements (``router.writes``), and commits before the engine announces any of
it. ``Store.load_live()`` reads what a restart needs: live contacts in arrival order, pending
offers, active sessions. ``Store.add_message`` keeps one line of a chat's transcript (once per
``ref``). I/O lives here; what to write is decided by the engine, the core and ``router.writes``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from base.db import Database, core_table
from router import writes
from router.batch import LIVE_STATES, Batch
from router.lease import Deposed, Fence
from router.tables import (
    ContactEventRow,
    ContactRow,
    DecisionRow,
    MessageRow,
    OfferRow,
    PresenceRow,
    SessionRow,
)

_Row = TypeVar("_Row")
CONTACT, MESSAGE = core_table(ContactRow), core_table(MessageRow)
PRESENCE, SESSION = core_table(PresenceRow), core_table(SessionRow)
REFS_PER_QUERY = 500


async def live_contacts_of_skill(session: AsyncSession, skill: str) -> dict[str, int]:
    """``{state: count}`` of the contacts not yet finished that ask for ``skill`` (the skills
    API's ``LiveContacts``: the composition root passes this in, so a skill that contacts wait
    for is not deleted under them)."""
    query = (select(ContactRow.state, sa.func.count())
             .where(ContactRow.skill == skill, col(ContactRow.state).in_(LIVE_STATES))
             .group_by(col(ContactRow.state)))
    return {state: int(n) for state, n in (await session.exec(query)).all()}


class Coalesced:
    """Answers ``get(key)`` calls made at about the same time with one ``load(keys)``: the
    first call starts a query, calls made while it runs wait for the next one."""

    def __init__(self, load: Callable[[list[str]], Awaitable[dict[str, str]]]) -> None:
        self._load = load
        self._waiting: dict[str, list[asyncio.Future[str | None]]] = {}
        self._running: asyncio.Task[None] | None = None

    async def get(self, key: str) -> str | None:
        answer: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, []).append(answer)
        if self._running is None or self._running.done():
            self._running = asyncio.ensure_future(self._answer())
        return await answer

    async def _answer(self) -> None:
        while self._waiting:
            waiting, self._waiting = self._waiting, {}
            try:
                found = await self._load(list(waiting))
            except Exception as exc:
                for answers in waiting.values():
                    for answer in answers:
                        if not answer.done():
                            answer.set_exception(exc)
                continue
            for key, answers in waiting.items():
                for answer in answers:
                    if not answer.done():
                        answer.set_result(found.get(key))


async def _rows(session: AsyncSession, query: SelectOfScalar[_Row]) -> list[_Row]:
    return list((await session.exec(query)).all())


@dataclass(frozen=True, slots=True)
class Live:
    contacts: list[ContactRow]
    offers: list[OfferRow]
    sessions: list[SessionRow]
    max_seq: int


Scope = tuple[frozenset[str], frozenset[str]]  # (organisations, their experts)


class Store:
    def __init__(self, database: Database, *, fence: Fence | None = None) -> None:
        self.db = database
        self.fence = fence
        self.deposed = False  # a fenced write found a newer leader: this store writes no more
        self._refs = Coalesced(self._ids_by_refs)

    async def _fenced(self, connection: AsyncConnection) -> None:
        """Inside a routing write's transaction: raise ``Deposed`` (and remember it) when
        another process leads now (``router.lease``)."""
        if self.fence is None:
            return
        if self.deposed:
            raise Deposed("this process no longer leads routing")
        try:
            await self.fence.check(connection)
        except Deposed:
            self.deposed = True
            raise

    async def _ids_by_refs(self, refs: list[str]) -> dict[str, str]:
        c = CONTACT.c
        found: dict[str, str] = {}
        async with self.db.engine.connect() as connection:
            for start in range(0, len(refs), REFS_PER_QUERY):
                chunk = refs[start:start + REFS_PER_QUERY]
                rows = await connection.execute(
                    sa.select(c.external_ref, c.id).where(c.external_ref.in_(chunk)))
                found.update({ref: contact_id for ref, contact_id in rows.all()})
        return found

    async def commit(self, batch: Batch) -> None:
        await self.commit_many([batch])

    async def commit_many(self, batches: Sequence[Batch]) -> None:
        """Write ``batches`` as if one after another, in one transaction (nothing when none
        of them writes anything)."""
        epoch = None if self.fence is None else self.fence.epoch
        planned = writes.plan([b for b in batches if b], self.db.dialect, epoch)
        if not planned:
            return
        async with self.db.session() as session:
            connection = await session.connection()
            await self._fenced(connection)
            for write in planned:
                await connection.execute(write.statement, write.params)
            await session.commit()

    async def add_message(self, row: MessageRow) -> bool:
        """Add one line to a contact's transcript. A line whose ``ref`` is already stored is
        not added again (False): the database's unique ``ref`` makes a relayed message
        idempotent, across restarts too."""
        values = row.model_dump(exclude={"id"})
        table = MESSAGE
        dialect = postgresql if self.db.dialect == "postgresql" else sqlite
        statement = dialect.insert(table).values(**values).on_conflict_do_nothing(
            index_elements=["ref"])
        async with self.db.session() as session:
            result = await (await session.connection()).execute(statement)
            await session.commit()
        return bool(result.rowcount)

    async def all_offline(self, at: float) -> list[str]:
        """After a restart nobody is connected: every expert must reconnect. Returns who was
        available before, so their desks can take up where they were when they reconnect."""
        p = PRESENCE.c
        async with self.db.session() as session:
            connection = await session.connection()
            await self._fenced(connection)
            rows = await connection.execute(sa.select(p.expert_id).where(
                p.presence == "available"))
            available = [expert_id for (expert_id,) in rows.all()]
            await session.exec(sa.update(PresenceRow).values(
                presence="offline", state="offline", reason="restart", updated_at=at))
            await session.commit()
        return available

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

    async def id_by_ref(self, external_ref: str) -> str | None:
        """The id of the contact with this external ref, or None. Lookups made while one is
        running are answered together by the next query (one ``IN`` per up to
        ``REFS_PER_QUERY``), so a busy service does not pay a round trip per new contact."""
        return await self._refs.get(external_ref)

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

    async def contacts(self, *, states: Iterable[str] | None, limit: int, offset: int,
                       skill: str | None = None, expert_id: str | None = None,
                       search: str | None = None, scope: Scope | None = None
                       ) -> tuple[list[ContactRow], int]:
        """A page of contacts, newest first, and how many match: in ``states``, for
        ``skill``, served by ``expert_id``, whose id or channel reference is ``search``, that
        a supervisor may see (``scope``: their organisations and those organisations' experts,
        the rule of ``router.supervision.sees_contact``)."""
        where: list[sa.ColumnElement[bool]] = []
        if scope is not None:
            orgs, experts = scope
            where.append(sa.or_(col(ContactRow.org).in_(sorted(orgs)), sa.and_(
                col(ContactRow.org).is_(None),
                sa.or_(col(ContactRow.expert_id).is_(None),
                       col(ContactRow.expert_id).in_(sorted(experts))))))
        if states:
            where.append(col(ContactRow.state).in_(list(states)))
        if skill:
            where.append(col(ContactRow.skill) == skill)
        if expert_id:
            where.append(col(ContactRow.expert_id) == expert_id)
        if search:
            where.append(sa.or_(col(ContactRow.id) == search,
                                col(ContactRow.external_ref) == search))
        query = select(ContactRow).where(*where)
        count = select(sa.func.count()).select_from(ContactRow).where(*where)
        async with self.db.session() as session:
            rows = (await session.exec(query.order_by(col(ContactRow.seq).desc())
                                       .offset(offset).limit(limit))).all()
            total = (await session.exec(count)).one()
        return list(rows), int(total)

    async def since(self, start: float) -> list[
            tuple[float, str, str, float | None, str | None, str | None]]:
        """(arrived_at, skill, state, waited_s, org, expert_id) of contacts that arrived since
        ``start`` (org: the organisation asked for; expert_id: the expert on it, if any)."""
        c = CONTACT.c
        query = sa.select(c.arrived_at, c.skill, c.state, c.waited_s, c.org, c.expert_id).where(
            c.arrived_at >= start)
        async with self.db.session() as session:
            rows = await (await session.connection()).execute(query)
            return [tuple(r) for r in rows.all()]

    async def arrivals_since(self, start: float) -> list[
            tuple[str, str, float, float | None, float | None, float | None]]:
        """(skill, state, arrived_at, answered_at, ended_at, waited_s) of contacts that
        arrived since ``start``, in arrival order."""
        return [row for row, _, _ in await self.owned_arrivals_since(start)]

    async def owned_arrivals_since(self, start: float) -> list[tuple[
            tuple[str, str, float, float | None, float | None, float | None],
            str | None, str | None]]:
        """``arrivals_since``'s rows, each with the organisation the contact was asked for and
        the expert on it (what a supervisor's remit is decided by)."""
        c = CONTACT.c
        query = sa.select(c.skill, c.state, c.arrived_at, c.answered_at, c.ended_at,
                          c.waited_s, c.org, c.expert_id).where(
            c.arrived_at >= start).order_by(c.seq)
        async with self.db.session() as session:
            rows = await (await session.connection()).execute(query)
            return [((skill, state, arrived, answered, ended, waited), org, expert)
                    for skill, state, arrived, answered, ended, waited, org, expert
                    in rows.all()]

    async def sessions_since(self, expert_id: str, start: float
                             ) -> list[tuple[float, float | None]]:
        """(started_at, ended_at) of the expert's sessions started since ``start``, but those
        that failed (the expert could not be connected)."""
        s = SESSION.c
        query = sa.select(s.started_at, s.ended_at).where(
            s.expert_id == expert_id, s.started_at >= start, s.ended_by != "failed")
        async with self.db.session() as session:
            rows = await (await session.connection()).execute(query)
            return [(started, ended) for started, ended in rows.all()]

    async def handle_times(self, limit: int = 200) -> list[float]:
        """Durations (start to end) of the most recent finished sessions, newest first."""
        s = SESSION.c
        query = sa.select(s.started_at, s.ended_at).where(
            s.ended_at.is_not(None), s.ended_by != "failed").order_by(
            s.ended_at.desc()).limit(limit)
        async with self.db.session() as session:
            rows = await (await session.connection()).execute(query)
            return [end - start for start, end in rows.all()]
