"""Data access for the skills pool: keyword-only functions over a session.

Readers return plain frozen records (``SkillRecord``, ``ExpertProfile``) or table rows, and
``None`` when the thing asked for is absent: the caller decides what absence means. Writers add
to the caller's session and never commit; the caller's transaction does. Lists answer
``(items, total)`` for paging. ``load_snapshot`` (the bulk loader for routing) lives in
``skills.snapshot`` and is re-exported here.

A ``related`` edge is symmetric: a skill's ``related`` map holds every pair that touches it,
whichever side declared it, and writing the map replaces all of those pairs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, delete, func, insert, or_, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from base.clock import now_utc
from base.errors import Conflict, InvalidInput
from skills.graph import Holder, SkillSpec
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
from skills.snapshot import ExpertRecord, PoolSnapshot, load_graph, load_snapshot, load_specs

__all__ = [
    "AccreditationRecord",
    "ExpertProfile",
    "ExpertRecord",
    "PoolSnapshot",
    "SkillRecord",
    "add_accreditation",
    "delete_accreditation",
    "delete_agreement",
    "delete_expert",
    "delete_organisation",
    "delete_skill",
    "existing_ids",
    "find_agreement",
    "find_experts",
    "get_accreditation",
    "get_agreement",
    "get_expert",
    "get_organisation",
    "get_profile",
    "get_skill",
    "holders_by_skill",
    "insert_agreement",
    "insert_expert",
    "insert_organisation",
    "list_agreements",
    "list_audit",
    "list_organisations",
    "list_skills",
    "load_graph",
    "load_snapshot",
    "load_specs",
    "narrower_of",
    "org_usage",
    "remove_level",
    "replace_languages",
    "replace_levels",
    "save_skill",
    "search_experts",
    "set_level",
    "shown_experts",
    "skill_holders",
    "update_expert",
    "update_organisation",
]

_AUDIT = sa.table(
    "audit_entry",
    sa.column("id", sa.Integer),
    sa.column("at", sa.DateTime(timezone=True)),
    sa.column("actor", sa.String),
    sa.column("action", sa.String),
    sa.column("entity", sa.String),
    sa.column("entity_id", sa.String),
    sa.column("before", sa.JSON),
    sa.column("after", sa.JSON),
)


@dataclass(frozen=True, slots=True)
class SkillRecord:
    """A skill with its links: ``broader`` parent, symmetric ``related`` costs, direct narrower."""

    id: str
    name: str
    description: str = ""
    broader: str | None = None
    related: Mapping[str, float] = field(default_factory=dict)
    synonyms: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    narrower: tuple[str, ...] = ()

    def spec(self) -> SkillSpec:
        return SkillSpec(
            id=self.id,
            name=self.name,
            broader=self.broader,
            related=self.related,
            synonyms=self.synonyms,
            keywords=self.keywords,
        )


@dataclass(frozen=True, slots=True)
class AccreditationRecord:
    id: int
    name: str
    reference: str
    expires_on: date | None

    def valid_on(self, today: date) -> bool:
        return self.expires_on is None or self.expires_on >= today


@dataclass(frozen=True, slots=True)
class ExpertProfile:
    """An expert with everything a supervisor sees: skills, languages, accreditations."""

    id: str
    name: str
    org: str
    email: str
    phone: str
    client_identity: str
    sip_address: str
    timezone: str
    active: bool
    skills: Mapping[str, int] = field(default_factory=dict)
    languages: tuple[str, ...] = ()
    accreditations: tuple[AccreditationRecord, ...] = ()
    public_name: str = ""  # what a citizen may be told (see ``Expert``)
    public_role: str = ""
    show_organisation: bool = False


async def _all(session: AsyncSession, statement: Any) -> list[Any]:
    return list((await session.exec(statement)).all())


async def _count(session: AsyncSession, statement: Any) -> int:
    total = (await session.exec(select(func.count()).select_from(statement.subquery()))).one()
    return int(total)


async def existing_ids(
    session: AsyncSession,
    *,
    model: type[Skill] | type[Organisation] | type[Expert],
    ids: Iterable[str],
) -> set[str]:
    """Which of ``ids`` exist as primary keys of ``model`` (Skill, Organisation or Expert)."""
    wanted = sorted(set(ids))
    if not wanted:
        return set()
    key = col(model.id)
    return set(await _all(session, select(key).where(key.in_(wanted))))


# -- skills -------------------------------------------------------------------------------------


async def get_skill(session: AsyncSession, *, skill_id: str) -> SkillRecord | None:
    row = await session.get(Skill, skill_id)
    return None if row is None else (await _skill_records(session, [row]))[0]


async def list_skills(
    session: AsyncSession, *, limit: int, offset: int
) -> tuple[list[SkillRecord], int]:
    query = select(Skill).order_by(col(Skill.id))
    rows = await _all(session, query.limit(limit).offset(offset))
    return await _skill_records(session, rows), await _count(session, select(Skill.id))


async def _skill_records(session: AsyncSession, rows: Sequence[Skill]) -> list[SkillRecord]:
    ids = [row.id for row in rows]
    broader: dict[str, str] = {}
    narrower: dict[str, list[str]] = defaultdict(list)
    related: dict[str, dict[str, float]] = defaultdict(dict)
    source, target = col(SkillEdge.source_id), col(SkillEdge.target_id)
    edges = select(SkillEdge).where(or_(source.in_(ids), target.in_(ids)))
    for edge in await _all(session, edges.order_by(source, target)):
        if edge.kind == "broader":
            broader.setdefault(edge.source_id, edge.target_id)
            narrower[edge.target_id].append(edge.source_id)
        else:
            related[edge.source_id][edge.target_id] = float(edge.cost or 0)
            related[edge.target_id][edge.source_id] = float(edge.cost or 0)
    terms: dict[tuple[str, str], list[str]] = defaultdict(list)
    query = select(SkillTerm).where(col(SkillTerm.skill_id).in_(ids)).order_by(col(SkillTerm.term))
    for term in await _all(session, query):
        terms[term.skill_id, term.kind].append(term.term)
    return [
        SkillRecord(
            id=row.id,
            name=row.name,
            description=row.description,
            broader=broader.get(row.id),
            related=MappingProxyType(dict(sorted(related[row.id].items()))),
            synonyms=tuple(terms[row.id, "synonym"]),
            keywords=tuple(terms[row.id, "keyword"]),
            narrower=tuple(sorted(narrower[row.id])),
        )
        for row in rows
    ]


async def narrower_of(session: AsyncSession, *, skill_id: str) -> list[str]:
    """Skills whose broader skill is ``skill_id`` (direct children only)."""
    query = select(SkillEdge.source_id).where(
        SkillEdge.target_id == skill_id, SkillEdge.kind == "broader"
    )
    return sorted(await _all(session, query))


async def save_skill(session: AsyncSession, *, record: SkillRecord, new: bool) -> None:
    """Insert (``new``) or update a skill, replacing its broader, related pairs and terms."""
    values = {"name": record.name, "description": record.description}
    if new:
        await session.exec(insert(Skill).values(id=record.id, created_at=now_utc(), **values))
    else:
        await session.exec(update(Skill).where(col(Skill.id) == record.id).values(**values))
    await _drop_links(session, skill_id=record.id, keep_narrower=True)
    edges = [
        {"source_id": record.id, "target_id": other, "kind": "related", "cost": cost}
        for other, cost in record.related.items()
    ]
    if record.broader is not None:
        edges.append(
            {"source_id": record.id, "target_id": record.broader, "kind": "broader", "cost": None}
        )
    terms = [{"skill_id": record.id, "term": t, "kind": "synonym"} for t in record.synonyms]
    terms += [{"skill_id": record.id, "term": t, "kind": "keyword"} for t in record.keywords]
    if edges:
        await session.exec(insert(SkillEdge), params=edges)
    if terms:
        await session.exec(insert(SkillTerm), params=terms)


async def _drop_links(session: AsyncSession, *, skill_id: str, keep_narrower: bool) -> None:
    source, target = col(SkillEdge.source_id), col(SkillEdge.target_id)
    touching = or_(source == skill_id, target == skill_id)
    if keep_narrower:  # a skill's own write leaves its children's broader links alone
        touching = or_(
            source == skill_id, sa.and_(target == skill_id, col(SkillEdge.kind) == "related")
        )
    await session.exec(delete(SkillEdge).where(touching))
    await session.exec(delete(SkillTerm).where(col(SkillTerm.skill_id) == skill_id))


async def delete_skill(session: AsyncSession, *, skill_id: str) -> None:
    """Delete a skill, its links, its terms and every proficiency in it."""
    await session.exec(delete(Proficiency).where(col(Proficiency.skill_id) == skill_id))
    await _drop_links(session, skill_id=skill_id, keep_narrower=False)
    await session.exec(delete(Skill).where(col(Skill.id) == skill_id))


async def holders_by_skill(session: AsyncSession) -> dict[str, list[Holder]]:
    """Skill -> the active experts holding it, with their organisations (for coverage)."""
    query = (
        select(Proficiency.skill_id, Expert.id, Expert.org_id)
        .join(Expert, col(Expert.id) == col(Proficiency.expert_id))
        .where(col(Expert.active))
    )
    found: dict[str, list[Holder]] = defaultdict(list)
    for skill_id, expert_id, org_id in await _all(session, query):
        found[skill_id].append(Holder(expert_id, org_id))
    return dict(found)


async def skill_holders(session: AsyncSession, *, skill_id: str) -> dict[str, int]:
    """Expert -> level for everyone holding ``skill_id``."""
    query = (
        select(Proficiency.expert_id, Proficiency.level)
        .where(Proficiency.skill_id == skill_id)
        .order_by(col(Proficiency.expert_id))
    )
    return dict(await _all(session, query))


# -- experts ------------------------------------------------------------------------------------


async def get_expert(session: AsyncSession, *, expert_id: str) -> Expert | None:
    return await session.get(Expert, expert_id)


async def get_profile(session: AsyncSession, *, expert_id: str) -> ExpertProfile | None:
    found = await _profiles(session, [expert_id])
    return found[0] if found else None


async def find_experts(
    session: AsyncSession,
    *,
    skills: Collection[str] | None = None,
    min_level: int = 1,
    org: str | None = None,
    orgs: Collection[str] | None = None,
    language: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[ExpertProfile], int]:
    """Experts holding any of ``skills`` at ``min_level`` or above, of ``org``, of any of
    ``orgs`` (a supervisor's scope), speaking ``language`` (each filter optional), ordered
    by id."""
    query = select(Expert.id)
    if skills is not None:
        holders = select(Proficiency.expert_id).where(
            col(Proficiency.skill_id).in_(sorted(skills)), Proficiency.level >= min_level
        )
        query = query.where(col(Expert.id).in_(holders))
    if org is not None:
        query = query.where(Expert.org_id == org)
    if orgs is not None:
        query = query.where(col(Expert.org_id).in_(sorted(orgs)))
    if language is not None:
        speakers = select(ExpertLanguage.expert_id).where(ExpertLanguage.language == language)
        query = query.where(col(Expert.id).in_(speakers))
    total = await _count(session, query)
    ids = await _all(session, query.order_by(col(Expert.id)).limit(limit).offset(offset))
    return await _profiles(session, ids), total


async def search_experts(
    session: AsyncSession,
    *,
    text: str | None = None,
    orgs: Collection[str] | None = None,
    skills: Collection[str] | None = None,
    language: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[ExpertProfile], int]:
    """Experts whose name or id holds ``text`` (any case), of any of ``orgs``, holding any of
    ``skills``, speaking ``language`` (each filter optional; ``orgs`` empty finds nobody),
    ordered by id: the console's search, which ``find_experts`` cannot scope to several
    organisations or search by name."""
    query = select(Expert.id)
    if text:
        needle = text.lower()
        query = query.where(
            or_(
                func.lower(col(Expert.name)).contains(needle, autoescape=True),
                func.lower(col(Expert.id)).contains(needle, autoescape=True),
            )
        )
    if orgs is not None:
        query = query.where(col(Expert.org_id).in_(sorted(orgs)))
    if skills is not None:
        holders = select(Proficiency.expert_id).where(col(Proficiency.skill_id).in_(sorted(skills)))
        query = query.where(col(Expert.id).in_(holders))
    if language is not None:
        speakers = select(ExpertLanguage.expert_id).where(ExpertLanguage.language == language)
        query = query.where(col(Expert.id).in_(speakers))
    total = await _count(session, query)
    ids = await _all(session, query.order_by(col(Expert.id)).limit(limit).offset(offset))
    return await _profiles(session, ids), total


async def _profiles(session: AsyncSession, ids: Sequence[str]) -> list[ExpertProfile]:
    if not ids:
        return []
    rows = {e.id: e for e in await _all(session, select(Expert).where(col(Expert.id).in_(ids)))}
    levels: dict[str, dict[str, int]] = defaultdict(dict)
    query = select(Proficiency).where(col(Proficiency.expert_id).in_(ids))
    for p in await _all(session, query.order_by(col(Proficiency.skill_id))):
        levels[p.expert_id][p.skill_id] = p.level
    languages: dict[str, list[str]] = defaultdict(list)
    by_language = select(ExpertLanguage).where(col(ExpertLanguage.expert_id).in_(ids))
    for lang in await _all(session, by_language.order_by(col(ExpertLanguage.language))):
        languages[lang.expert_id].append(lang.language)
    accs: dict[str, list[AccreditationRecord]] = defaultdict(list)
    by_accreditation = select(Accreditation).where(col(Accreditation.expert_id).in_(ids))
    for a in await _all(session, by_accreditation.order_by(col(Accreditation.id))):
        accs[a.expert_id].append(AccreditationRecord(a.id or 0, a.name, a.reference, a.expires_on))
    return [_profile(rows[i], levels[i], languages[i], accs[i]) for i in ids if i in rows]


def _profile(
    e: Expert,
    levels: Mapping[str, int],
    languages: Iterable[str],
    accs: Iterable[AccreditationRecord],
) -> ExpertProfile:
    return ExpertProfile(
        id=e.id,
        name=e.name,
        org=e.org_id,
        email=e.email,
        phone=e.phone,
        client_identity=e.client_identity,
        sip_address=e.sip_address,
        timezone=e.timezone,
        active=e.active,
        skills=MappingProxyType(dict(levels)),
        languages=tuple(languages),
        accreditations=tuple(accs),
        public_name=e.public_name,
        public_role=e.public_role,
        show_organisation=e.show_organisation,
    )


async def insert_expert(session: AsyncSession, *, values: Mapping[str, Any]) -> None:
    """``values``: the Expert columns (id, name, org_id, … ); timestamps are set here."""
    now = now_utc()
    await session.exec(insert(Expert).values(created_at=now, updated_at=now, **values))


async def update_expert(
    session: AsyncSession, *, expert_id: str, values: Mapping[str, Any]
) -> None:
    await session.exec(
        update(Expert).where(col(Expert.id) == expert_id).values(updated_at=now_utc(), **values)
    )


async def replace_levels(
    session: AsyncSession, *, expert_id: str, levels: Mapping[str, int]
) -> None:
    await session.exec(delete(Proficiency).where(col(Proficiency.expert_id) == expert_id))
    if levels:
        rows = [{"expert_id": expert_id, "skill_id": s, "level": lv} for s, lv in levels.items()]
        await session.exec(insert(Proficiency), params=rows)


async def replace_languages(
    session: AsyncSession, *, expert_id: str, languages: Iterable[str]
) -> None:
    await session.exec(delete(ExpertLanguage).where(col(ExpertLanguage.expert_id) == expert_id))
    rows = [{"expert_id": expert_id, "language": lang} for lang in sorted(set(languages))]
    if rows:
        await session.exec(insert(ExpertLanguage), params=rows)


async def set_level(session: AsyncSession, *, expert_id: str, skill_id: str, level: int) -> None:
    """Give ``expert_id`` the skill at ``level`` (adding it, or changing the level)."""
    row = await session.get(Proficiency, (expert_id, skill_id))
    if row is None:
        session.add(Proficiency(expert_id=expert_id, skill_id=skill_id, level=level))
    else:
        row.level = level
    await session.flush()


async def remove_level(session: AsyncSession, *, expert_id: str, skill_id: str) -> None:
    await session.exec(
        delete(Proficiency).where(
            col(Proficiency.expert_id) == expert_id, col(Proficiency.skill_id) == skill_id
        )
    )


async def add_accreditation(
    session: AsyncSession, *, expert_id: str, name: str, reference: str, expires_on: date | None
) -> Accreditation:
    same = await session.exec(select(Accreditation.id).where(
        col(Accreditation.expert_id) == expert_id, col(Accreditation.name) == name,
        col(Accreditation.reference) == reference, col(Accreditation.expires_on) == expires_on
        if expires_on is not None else col(Accreditation.expires_on).is_(None)))
    if same.first() is not None:  # a form sent twice, not a second accreditation
        raise Conflict(f"{expert_id} already holds {name} with this reference and expiry",
                       expert=expert_id, accreditation=name)
    row = Accreditation(expert_id=expert_id, name=name, reference=reference, expires_on=expires_on)
    session.add(row)
    await session.flush()
    return row


async def get_accreditation(
    session: AsyncSession, *, accreditation_id: int
) -> Accreditation | None:
    return await session.get(Accreditation, accreditation_id)


async def delete_accreditation(session: AsyncSession, *, accreditation_id: int) -> None:
    await session.exec(delete(Accreditation).where(col(Accreditation.id) == accreditation_id))


async def delete_expert(session: AsyncSession, *, expert_id: str) -> None:
    """Delete an expert with their proficiencies, languages and accreditations."""
    for model in (Proficiency, ExpertLanguage, Accreditation):
        await session.exec(delete(model).where(col(model.expert_id) == expert_id))
    await session.exec(delete(Expert).where(col(Expert.id) == expert_id))


# -- organisations and sharing agreements --------------------------------------------------------


async def get_organisation(session: AsyncSession, *, org_id: str) -> Organisation | None:
    return await session.get(Organisation, org_id)


async def list_organisations(
    session: AsyncSession, *, limit: int, offset: int
) -> tuple[list[Organisation], int]:
    query = select(Organisation).order_by(col(Organisation.id))
    rows = await _all(session, query.limit(limit).offset(offset))
    return rows, await _count(session, select(Organisation.id))


async def insert_organisation(session: AsyncSession, *, values: Mapping[str, Any]) -> None:
    await session.exec(insert(Organisation).values(created_at=now_utc(), **values))


async def update_organisation(
    session: AsyncSession, *, org_id: str, values: Mapping[str, Any]
) -> None:
    await session.exec(update(Organisation).where(col(Organisation.id) == org_id).values(**values))


async def delete_organisation(session: AsyncSession, *, org_id: str) -> None:
    await session.exec(delete(Organisation).where(col(Organisation.id) == org_id))


async def shown_experts(session: AsyncSession, *, org_id: str) -> frozenset[str]:
    """Experts of ``org_id`` who show their organisation to citizens (a rename reaches them)."""
    query = select(Expert.id).where(Expert.org_id == org_id, col(Expert.show_organisation))
    return frozenset(await _all(session, query))


async def org_usage(session: AsyncSession, *, org_id: str) -> tuple[int, int]:
    """How many experts and sharing agreements refer to ``org_id``."""
    experts = await _count(session, select(Expert.id).where(Expert.org_id == org_id))
    agreements = await _count(
        session,
        select(SharingAgreement.id).where(
            or_(SharingAgreement.org_a == org_id, SharingAgreement.org_b == org_id)
        ),
    )
    return experts, agreements


async def list_agreements(
    session: AsyncSession, *, org: str | None = None, limit: int, offset: int
) -> tuple[list[SharingAgreement], int]:
    query = select(SharingAgreement)
    if org is not None:
        query = query.where(or_(SharingAgreement.org_a == org, SharingAgreement.org_b == org))
    total = await _count(session, query)
    ordered = query.order_by(col(SharingAgreement.org_a), col(SharingAgreement.org_b))
    return await _all(session, ordered.limit(limit).offset(offset)), total


async def get_agreement(session: AsyncSession, *, agreement_id: int) -> SharingAgreement | None:
    return await session.get(SharingAgreement, agreement_id)


async def find_agreement(
    session: AsyncSession, *, org_a: str, org_b: str
) -> SharingAgreement | None:
    """The agreement between two organisations, in either order."""
    a, b = sorted((org_a, org_b))
    query = select(SharingAgreement).where(SharingAgreement.org_a == a, SharingAgreement.org_b == b)
    return (await session.exec(query)).first()


async def insert_agreement(session: AsyncSession, *, values: Mapping[str, Any]) -> SharingAgreement:
    row = SharingAgreement(**values)
    session.add(row)
    await session.flush()
    return row


async def delete_agreement(session: AsyncSession, *, agreement_id: int) -> None:
    await session.exec(delete(SharingAgreement).where(col(SharingAgreement.id) == agreement_id))


# -- the audit log (read side; entries are written through the injected ``audit``) ------------


async def list_audit(
    session: AsyncSession,
    *,
    entity: str | None = None,
    entity_id: str | None = None,
    limit: int,
    offset: int,
) -> tuple[list[Mapping[str, Any]], int]:
    """Audit entries, newest first, as plain mappings."""
    query = sa.select(_AUDIT)
    if entity is not None:
        query = query.where(_AUDIT.c.entity == entity)
    if entity_id is not None:
        query = query.where(_AUDIT.c.entity_id == entity_id)
    total = await _count(session, query)
    rows = await _all(session, query.order_by(_AUDIT.c.id.desc()).limit(limit).offset(offset))
    return [row._mapping for row in rows], total


async def check_in_pool(session: AsyncSession, orgs: Iterable[str],
                        expert_id: str | None) -> None:
    """``InvalidInput`` unless every organisation and the expert a principal names are in
    the pool (a token or a sign-in link for a mistyped id would be refused nothing and see
    nothing)."""
    wanted = sorted(set(orgs))
    if wanted:
        found = set((await session.exec(
            select(Organisation.id).where(col(Organisation.id).in_(wanted)))).all())
        missing = [o for o in wanted if o not in found]
        if missing:
            raise InvalidInput(f"no organisation {', '.join(missing)} in the pool")
    if expert_id is not None and await session.get(Expert, expert_id) is None:
        raise InvalidInput(f"no expert {expert_id} in the pool")
