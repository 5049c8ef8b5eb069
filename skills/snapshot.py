"""The pool as frozen plain data, loaded in a few bulk selects: what the routing engine indexes.

``load_snapshot(session, today=…)`` reads experts, proficiencies, languages, accreditations and
sharing agreements with one Core select each (plain row tuples, no ORM layer, the cyclic GC paused
meanwhile), and the taxonomy into a ``SkillGraph``. 100,000 experts with five skills each load in
a few seconds (``python -m bench.pool_load``). ``load_experts(session, ids, today=…)`` reads just
a few experts the same way, for a change that touched only them.

Accreditations in an ``ExpertRecord`` are only those valid on ``today`` (no expiry date, or
expiring on or after it), mapped to their expiry date (None = never expires); when an expert holds
the same accreditation twice, the later expiry wins. Sharing agreements are those in force on
``today``. A long-lived snapshot should be reloaded daily, or checked against the expiry dates.
"""

from __future__ import annotations

import gc
from collections import defaultdict
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from itertools import groupby
from operator import itemgetter
from types import MappingProxyType
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from skills.graph import Holder, SkillGraph, SkillSpec
from skills.models import (
    Accreditation,
    Expert,
    ExpertLanguage,
    Organisation,
    Proficiency,
    SharingAgreement,
    Skill,
    SkillEdge,
    SkillTerm,
)

_EMPTY: Mapping[Any, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class ExpertRecord:
    """One expert as routing sees them: skills with levels, languages, valid accreditations;
    their name (for their own desk) and what a citizen may be told about them
    (``public_organisation`` is the organisation's name only when they chose to show it)."""

    id: str
    org: str
    skills: Mapping[str, int]
    languages: frozenset[str]
    accreditations: Mapping[str, date | None]
    active: bool = True
    timezone: str = "Europe/London"
    phone: str = ""
    client_identity: str = ""
    sip_address: str = ""
    name: str = ""
    public_name: str = ""
    public_role: str = ""
    public_organisation: str = ""


@dataclass(frozen=True, slots=True)
class PoolSnapshot:
    """The whole pool at one moment. ``sharing`` holds (org_a, org_b) pairs with org_a < org_b."""

    today: date
    graph: SkillGraph
    experts: Mapping[str, ExpertRecord]
    sharing: frozenset[tuple[str, str]] = field(default_factory=frozenset)

    def __repr__(self) -> str:
        return (
            f"<PoolSnapshot {self.today} experts={len(self.experts)} skills={len(self.graph)}"
            f" sharing={len(self.sharing)}>"
        )

    def may_share(self, org_a: str, org_b: str) -> bool:
        """May a contact of ``org_a`` be routed to an expert of ``org_b`` (or the reverse)?"""
        return org_a == org_b or (min(org_a, org_b), max(org_a, org_b)) in self.sharing

    def by_skill(self, *, active_only: bool = True) -> dict[str, tuple[tuple[str, int], ...]]:
        """Skill -> ((expert_id, level), …), best level first then by id."""
        found: dict[str, list[tuple[int, str]]] = defaultdict(list)
        for expert in self.experts.values():
            if expert.active or not active_only:
                for skill_id, level in expert.skills.items():
                    found[skill_id].append((-level, expert.id))
        return {s: tuple((e, -lv) for lv, e in sorted(rows)) for s, rows in found.items()}

    def holders(self, *, active_only: bool = True) -> dict[str, list[Holder]]:
        """Skill -> the experts holding it with their organisation (for coverage analysis)."""
        found: dict[str, list[Holder]] = defaultdict(list)
        for expert in self.experts.values():
            if expert.active or not active_only:
                holder = Holder(expert.id, expert.org)
                for skill_id in expert.skills:
                    found[skill_id].append(holder)
        return dict(found)


async def _rows(session: AsyncSession, statement: Any) -> list[Any]:
    return list((await session.exec(statement)).all())


async def _core(
    session: AsyncSession, *columns: Any, where: Any = None, order_by: Any = None
) -> Sequence[Any]:
    """Plain rows through Core (no ORM layer): the bulk path for hundreds of thousands."""
    statement = sa.select(*columns)
    if where is not None:
        statement = statement.where(where)
    if order_by is not None:
        statement = statement.order_by(order_by)
    connection = await session.connection()
    return (await connection.execute(statement)).all()


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while a load builds a million small objects (none of them cyclic):
    otherwise each generation-0 pass rescans the growing heap, tripling the load time."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


async def load_specs(session: AsyncSession) -> list[SkillSpec]:
    """Every skill as a ``SkillSpec`` (three selects). A second broader edge is ignored."""
    skills = await _rows(session, select(Skill.id, Skill.name).order_by(col(Skill.id)))
    broader: dict[str, str] = {}
    related: dict[str, dict[str, float]] = defaultdict(dict)
    edges = select(SkillEdge.source_id, SkillEdge.target_id, SkillEdge.kind, SkillEdge.cost)
    for source, target, kind, cost in await _rows(
        session, edges.order_by(col(SkillEdge.source_id), col(SkillEdge.target_id))
    ):
        if kind == "broader":
            broader.setdefault(source, target)
        else:
            related[source][target] = cost
    terms: dict[tuple[str, str], list[str]] = defaultdict(list)
    query = select(SkillTerm.skill_id, SkillTerm.kind, SkillTerm.term)
    for skill_id, kind, term in await _rows(session, query.order_by(col(SkillTerm.term))):
        terms[skill_id, kind].append(term)
    return [
        SkillSpec(
            id=sid,
            name=name,
            broader=broader.get(sid),
            related=related.get(sid, {}),
            synonyms=tuple(terms.get((sid, "synonym"), ())),
            keywords=tuple(terms.get((sid, "keyword"), ())),
        )
        for sid, name in skills
    ]


async def load_graph(session: AsyncSession, *, taxonomy_cost: float = 0.5) -> SkillGraph:
    return SkillGraph.build(await load_specs(session), taxonomy_cost=taxonomy_cost)


async def load_snapshot(
    session: AsyncSession,
    *,
    today: date,
    graph: SkillGraph | None = None,
    taxonomy_cost: float = 0.5,
) -> PoolSnapshot:
    """The pool as plain frozen data; pass ``graph`` to reuse an already built one."""
    if graph is None:
        graph = await load_graph(session, taxonomy_cost=taxonomy_cost)
    with _gc_paused():
        experts = await _experts(session, today, {sid: sid for sid in graph})
    sharing = await _sharing(session, today)
    return PoolSnapshot(
        today=today, graph=graph, experts=MappingProxyType(experts), sharing=sharing
    )


async def load_experts(
    session: AsyncSession, ids: Collection[str], *, today: date
) -> dict[str, ExpertRecord]:
    """Only the experts ``ids`` (those that exist), as ``load_snapshot`` reads them: what the
    routing engine reloads when a change touched a few experts and not the taxonomy."""
    return await _experts(session, today, {}, ids=tuple(ids)) if ids else {}


async def _experts(
    session: AsyncSession,
    today: date,
    skill_ids: Mapping[str, str],
    ids: tuple[str, ...] | None = None,
) -> dict[str, ExpertRecord]:
    """Expert records, all of them or only ``ids``, in six selects."""
    skills = await _skill_levels(session, skill_ids, ids)
    languages = await _languages(session, ids)
    accreditations = await _accreditations(session, today, ids)
    o = sa.inspect(Organisation).local_table.c
    org_names = dict(await _core(session, o.id, o.name))
    # the mapped table's columns (``Expert.__table__.c``, which SQLModel leaves untyped)
    e = sa.inspect(Expert).local_table.c
    rows = await _core(
        session, e.id, e.org_id, e.active, e.timezone, e.phone, e.client_identity, e.sip_address,
        e.name, e.public_name, e.public_role, e.show_organisation,
        where=None if ids is None else e.id.in_(ids),
    )
    return {
        eid: ExpertRecord(
            id=eid,
            org=org,
            skills=skills.get(eid, _EMPTY),
            languages=languages.get(eid, frozenset()),
            accreditations=accreditations.get(eid, _EMPTY),
            active=active,
            timezone=tz,
            phone=phone,
            client_identity=client,
            sip_address=sip,
            name=name,
            public_name=public_name,
            public_role=public_role,
            public_organisation=org_names.get(org, "") if shown else "",
        )
        for eid, org, active, tz, phone, client, sip, name, public_name, public_role, shown
        in rows
    }


def _among(column: Any, ids: tuple[str, ...] | None, where: Any = None) -> Any:
    """``where`` limited to rows whose ``column`` is in ``ids`` (None = every row)."""
    if ids is None:
        return where
    among = column.in_(ids)
    return among if where is None else sa.and_(where, among)


async def _skill_levels(
    session: AsyncSession, skill_ids: Mapping[str, str], ids: tuple[str, ...] | None = None
) -> dict[str, Mapping[str, int]]:
    """Expert -> {skill: level}; skill ids are the graph's own string objects (shared)."""
    p = sa.inspect(Proficiency).local_table.c
    rows = await _core(session, p.expert_id, p.skill_id, p.level, order_by=p.expert_id,
                       where=_among(p.expert_id, ids))
    return {
        expert_id: MappingProxyType({skill_ids.get(s, s): level for _, s, level in group})
        for expert_id, group in groupby(rows, key=itemgetter(0))
    }


async def _languages(
    session: AsyncSession, ids: tuple[str, ...] | None = None
) -> dict[str, frozenset[str]]:
    found: dict[str, set[str]] = defaultdict(set)
    interned: dict[str, str] = {}
    c = sa.inspect(ExpertLanguage).local_table.c
    for expert_id, language in await _core(session, c.expert_id, c.language,
                                           where=_among(c.expert_id, ids)):
        found[expert_id].add(interned.setdefault(language, language))
    return {eid: frozenset(langs) for eid, langs in found.items()}


async def _accreditations(
    session: AsyncSession, today: date, ids: tuple[str, ...] | None = None
) -> dict[str, Mapping[str, date | None]]:
    found: dict[str, dict[str, date | None]] = defaultdict(dict)
    a = sa.inspect(Accreditation).local_table.c
    valid = or_(a.expires_on.is_(None), a.expires_on >= today)
    for expert_id, name, expires_on in await _core(
        session, a.expert_id, a.name, a.expires_on, where=_among(a.expert_id, ids, valid)
    ):
        held = found[expert_id]
        if name not in held or _later(expires_on, held[name]):
            held[name] = expires_on
    return {eid: MappingProxyType(accs) for eid, accs in found.items()}


def _later(a: date | None, b: date | None) -> bool:
    return a is None or (b is not None and a > b)


async def _sharing(session: AsyncSession, today: date) -> frozenset[tuple[str, str]]:
    starts, ends = col(SharingAgreement.starts_on), col(SharingAgreement.ends_on)
    query = select(SharingAgreement.org_a, SharingAgreement.org_b).where(
        or_(starts.is_(None), starts <= today), or_(ends.is_(None), ends >= today)
    )
    return frozenset(_pair(a, b) for a, b in await _rows(session, query))


def _pair(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a < b else (b, a)
