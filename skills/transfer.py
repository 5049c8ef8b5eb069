"""Import and export of the whole skills pool: JSON for everything, CSV for experts.

The JSON document (``version`` 1) holds ``organisations``, ``skills`` (with ``broader``,
``related`` costs, ``synonyms`` and ``keywords``), ``experts`` (with ``skills`` levels,
``languages`` and ``accreditations``) and ``sharing_agreements``, each in a fixed order, so an
export imported into an empty database exports again identically.

Importing is planned first, applied second:

- ``plan_import(session, data)`` reads the database and checks everything (types, slugs, dates,
  levels 1..5, duplicate ids, unknown references, taxonomy cycles), reporting every problem with
  its JSON path, and works out what would change: per section, the ids to create, update and
  leave unchanged. Nothing is written; that is the dry run.
- ``apply_import(session, plan, actor=…)`` writes a valid plan inside the caller's
  transaction, with one audit record (before/after) per changed entity.

Records are upserted by id (a sharing agreement by its pair of organisations). A field a record
leaves out keeps its current value (or the default, for a new record); a list or map it gives
replaces the old one whole. An import never deletes, unless ``replace=True``: then, in each
section the document contains, whatever the document does not name is deleted (a CSV of
experts with ``replace`` removes the experts it does not list, and nothing else).
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlmodel import col, delete, insert, update
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import Select

from base import audit
from base.access import Principal
from base.clock import now_utc
from base.errors import InvalidInput
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
from skills.transfer_check import (
    SECTIONS,
    VERSION,
    Existing,
    Problem,
    check_document,
    key_of,
)
from skills.transfer_csv import CsvRow, experts_csv, parse_experts_csv, problem_at_line

__all__ = [
    "VERSION",
    "Change",
    "CsvRow",
    "ImportPlan",
    "Problem",
    "apply_import",
    "canonical",
    "experts_csv",
    "export_experts",
    "export_experts_csv",
    "export_pool",
    "parse_experts_csv",
    "plan_experts_csv",
    "plan_import",
]

ENTITY = {
    "organisations": "organisation",
    "skills": "skill",
    "experts": "expert",
    "sharing_agreements": "sharing_agreement",
}
DEFAULTS: Mapping[str, Mapping[str, Any]] = {
    "organisations": {"kind": "other", "nation": "england", "region": ""},
    "skills": {"description": "", "broader": None, "related": {}, "synonyms": [], "keywords": []},
    "experts": {
        "email": "",
        "phone": "",
        "client_identity": "",
        "sip_address": "",
        "timezone": "Europe/London",
        "active": True,
        "languages": [],
        "skills": {},
        "accreditations": [],
    },
    "sharing_agreements": {"purpose": "", "starts_on": None, "ends_on": None},
}
FIELDS: Mapping[str, tuple[str, ...]] = {
    "organisations": ("id", "name", "kind", "nation", "region"),
    "skills": ("id", "name", "description", "broader", "related", "synonyms", "keywords"),
    "experts": (
        "id",
        "name",
        "organisation",
        "email",
        "phone",
        "client_identity",
        "sip_address",
        "timezone",
        "active",
        "languages",
        "skills",
        "accreditations",
    ),
    "sharing_agreements": ("org_a", "org_b", "purpose", "starts_on", "ends_on"),
}
CHUNK = 500



# -- canonical records --------------------------------------------------------------------------


def canonical(section: str, rec: Mapping[str, Any]) -> dict[str, Any]:
    """A record in export form: every field, in a fixed order, lists and maps sorted."""
    out = {key: rec[key] for key in FIELDS[section]}
    for key in ("synonyms", "keywords", "languages"):
        if key in out:
            out[key] = sorted(out[key])
    for key in ("related", "skills"):
        if key in out:
            out[key] = dict(sorted(out[key].items()))
    if "accreditations" in out:
        out["accreditations"] = sorted(
            (
                {
                    "name": a["name"],
                    "expires_on": a.get("expires_on"),
                    "reference": a.get("reference", ""),
                }
                for a in out["accreditations"]
            ),
            key=lambda a: (a["name"], a["expires_on"] or "", a["reference"]),
        )
    return out


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


# -- export -------------------------------------------------------------------------------------


async def export_pool(session: AsyncSession) -> dict[str, Any]:
    """The whole pool as one JSON-ready document, in a deterministic order."""
    return {
        "version": VERSION,
        "organisations": await _export_organisations(session),
        "skills": await _export_skills(session),
        "experts": await export_experts(session),
        "sharing_agreements": await _export_agreements(session),
    }


async def _rows(session: AsyncSession, model: Any, *order: str, where: Any = None) -> Sequence[Any]:
    """Plain rows of ``model``'s table (no ORM objects: an export reads every row)."""
    table = model.__table__
    # sqlmodel's Select (what sqlmodel.select builds for several columns) so that
    # ``session.exec`` accepts it; it answers plain rows, like ``sa.select(table)``.
    query: Select[*tuple[Any, ...]] = Select(table).order_by(*(table.c[name] for name in order))
    if where is not None:
        query = query.where(where)
    return (await session.exec(query)).all()


async def _export_organisations(session: AsyncSession) -> list[dict[str, Any]]:
    rows = await _rows(session, Organisation, "id")
    return [canonical("organisations", o._asdict()) for o in rows]


async def _export_skills(session: AsyncSession) -> list[dict[str, Any]]:
    out = {
        s.id: {**s._asdict(), "broader": None, "related": {}, "synonyms": [], "keywords": []}
        for s in await _rows(session, Skill, "id")
    }
    for edge in await _rows(session, SkillEdge):
        if edge.kind == "broader":
            out[edge.source_id]["broader"] = edge.target_id
        else:
            out[edge.source_id]["related"][edge.target_id] = edge.cost
    for term in await _rows(session, SkillTerm):
        kind = "keywords" if term.kind == "keyword" else "synonyms"
        out[term.skill_id][kind].append(term.term)
    return [canonical("skills", rec) for rec in out.values()]


async def export_experts(
    session: AsyncSession, *, orgs: Iterable[str] | None = None
) -> list[dict[str, Any]]:
    """Every expert (or only those of ``orgs``) in export form, ordered by id."""
    where = None if orgs is None else col(Expert.org_id).in_(sorted(orgs))
    experts = {e.id: _expert_fields(e) for e in await _rows(session, Expert, "id", where=where)}
    for p in await _rows(session, Proficiency):
        if p.expert_id in experts:
            experts[p.expert_id]["skills"][p.skill_id] = p.level
    for lang in await _rows(session, ExpertLanguage):
        if lang.expert_id in experts:
            experts[lang.expert_id]["languages"].append(lang.language)
    for a in await _rows(session, Accreditation):
        if a.expert_id in experts:
            experts[a.expert_id]["accreditations"].append(
                {"name": a.name, "expires_on": _iso(a.expires_on), "reference": a.reference}
            )
    return [canonical("experts", rec) for rec in experts.values()]


def _expert_fields(e: Any) -> dict[str, Any]:
    return {
        "id": e.id,
        "name": e.name,
        "organisation": e.org_id,
        "email": e.email,
        "phone": e.phone,
        "client_identity": e.client_identity,
        "sip_address": e.sip_address,
        "timezone": e.timezone,
        "active": e.active,
        "languages": [],
        "skills": {},
        "accreditations": [],
    }


async def _export_agreements(session: AsyncSession) -> list[dict[str, Any]]:
    return [
        canonical(
            "sharing_agreements",
            {
                "org_a": a.org_a,
                "org_b": a.org_b,
                "purpose": a.purpose,
                "starts_on": _iso(a.starts_on),
                "ends_on": _iso(a.ends_on),
            },
        )
        for a in await _rows(session, SharingAgreement, "org_a", "org_b")
    ]


async def export_experts_csv(session: AsyncSession, *, orgs: Iterable[str] | None = None) -> str:
    """Experts as the CSV an HR system exchanges (see ``skills.transfer_csv``)."""
    return experts_csv(await export_experts(session, orgs=orgs))


# -- the plan -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Change:
    """One entity the import creates (before None), updates, or deletes (after None)."""

    section: str
    key: str
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None

    @property
    def action(self) -> str:
        if self.before is None:
            return "create"
        return "delete" if self.after is None else "update"


@dataclass(frozen=True, slots=True)
class ImportPlan:
    """What an import would do: its problems, its changes, and what it leaves as it is."""

    problems: tuple[Problem, ...]
    changes: tuple[Change, ...]
    unchanged: Mapping[str, tuple[str, ...]]
    sections: tuple[str, ...]
    replace: bool = False

    @property
    def valid(self) -> bool:
        return not self.problems

    def keys(self, section: str, action: str) -> list[str]:
        if action == "unchanged":
            return list(self.unchanged.get(section, ()))
        return [c.key for c in self.changes if c.section == section and c.action == action]

    def headline(self) -> str:
        if self.problems:
            n = len(self.problems)
            return f"{n} problem{'s' if n != 1 else ''} found; nothing was changed"
        n = len(self.changes)
        return f"{n} change{'s' if n != 1 else ''}" if n else "nothing to change"

    def summary(self, *, limit: int = 10) -> str:
        """Lines a person reads: per section the counts, and the first ids of each change."""
        lines = [self.headline()]
        for section in self.sections:
            parts = []
            for action in ("create", "update", "delete"):
                keys = self.keys(section, action)
                if keys:
                    more = f" … and {len(keys) - limit} more" if len(keys) > limit else ""
                    parts.append(f"{action} {len(keys)} ({', '.join(keys[:limit])}{more})")
            parts.append(f"{len(self.unchanged.get(section, ()))} unchanged")
            lines.append(f"  {section.replace('_', ' ')}: {'; '.join(parts)}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        changes = {
            s: {a: self.keys(s, a) for a in ("create", "update", "delete", "unchanged")}
            for s in self.sections
        }
        return {
            "valid": self.valid,
            "replace": self.replace,
            "summary": self.headline(),
            "changes": changes,
            "problems": [str(p) for p in self.problems],
        }


async def plan_import(session: AsyncSession, data: Any, *, replace: bool = False) -> ImportPlan:
    """Check ``data`` against the database and work out what importing it would change."""
    current = await export_pool(session)
    existing = {s: {key_of(s, r): r for r in current[s]} for s in SECTIONS}
    facts = Existing(
        ids={s: frozenset(existing[s]) for s in SECTIONS},
        broader={r["id"]: r["broader"] for r in current["skills"]},
        related={r["id"]: r["related"] for r in current["skills"]},
    )
    checked = check_document(data, facts, replace=replace)
    changes: list[Change] = []
    unchanged: dict[str, tuple[str, ...]] = {}
    for section in checked.sections:
        incoming = [rec for _i, rec in checked.records[section]]
        found, same = _diff(section, incoming, existing[section], replace)
        changes += found
        unchanged[section] = same
    problems = checked.problems + (_stranded(checked.sections, changes, current) if replace else ())
    return ImportPlan(problems, tuple(changes), unchanged, checked.sections, replace)


def _diff(
    section: str,
    incoming: Iterable[Mapping[str, Any]],
    existing: Mapping[str, dict[str, Any]],
    replace: bool,
) -> tuple[list[Change], tuple[str, ...]]:
    changes, same, named = [], [], set()
    for rec in incoming:
        key = key_of(section, rec)
        named.add(key)
        before = existing.get(key)
        after = merge(section, rec, before)
        if after == before:
            same.append(key)
        else:
            changes.append(Change(section, key, before, after))
    if replace:
        changes += [Change(section, k, r, None) for k, r in existing.items() if k not in named]
    return changes, tuple(same)


USES: tuple[tuple[str, str, Callable[[Mapping[str, Any]], Iterable[str]]], ...] = (
    ("organisations", "experts", lambda e: [e["organisation"]]),
    ("organisations", "sharing_agreements", lambda a: [a["org_a"], a["org_b"]]),
    ("skills", "experts", lambda e: e["skills"]),
)


def _stranded(
    sections: Sequence[str], changes: Iterable[Change], current: Mapping[str, list[dict[str, Any]]]
) -> tuple[Problem, ...]:
    """``replace`` must not delete what a section the document leaves out still uses."""
    gone = defaultdict(set)
    for change in changes:
        if change.action == "delete":
            gone[change.section].add(change.key)
    problems = []
    for section, user, refs in USES:
        if user in sections or not gone[section]:
            continue
        users: dict[str, list[str]] = defaultdict(list)
        for rec in current[user]:
            for ref in set(refs(rec)) & gone[section]:
                users[ref].append(key_of(user, rec))
        for ref, keys in sorted(users.items()):
            shown = ", ".join(keys[:5]) + (" …" if len(keys) > 5 else "")
            problems.append(
                Problem(
                    section,
                    f"replace would delete {ref!r}, which "
                    f"{len(keys)} {user.replace('_', ' ')} still use ({shown}); "
                    f"include them in the import or keep {ref!r}",
                )
            )
    return tuple(problems)


def merge(
    section: str, incoming: Mapping[str, Any], before: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The record after an upsert: given fields replace, missing ones keep their value."""
    merged = {**(before or DEFAULTS[section]), **incoming}
    if section == "experts" and "accreditations" in incoming:
        merged["accreditations"] = _keep_references(
            incoming["accreditations"], (before or {}).get("accreditations", [])
        )
    return canonical(section, merged)


def _keep_references(
    incoming: Iterable[Mapping[str, Any]], before: Iterable[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """An accreditation given without a reference (as CSV gives them) keeps the one on file."""
    known = {(a["name"], a["expires_on"]): a["reference"] for a in before}
    return [
        {**a, "reference": a.get("reference", known.get((a["name"], a.get("expires_on")), ""))}
        for a in incoming
    ]


async def plan_experts_csv(
    session: AsyncSession, text: str, *, replace: bool = False
) -> ImportPlan:
    """Plan an import of experts from CSV; problems name the line (``line 14, skills``)."""
    rows, problems = parse_experts_csv(text)
    plan = await plan_import(
        session, {"version": VERSION, "experts": [r.expert for r in rows]}, replace=replace
    )
    found = [*problems, *(problem_at_line(p, rows) for p in plan.problems)]
    found.sort(key=_line_of)
    return dataclasses.replace(plan, problems=tuple(found))


def _line_of(problem: Problem) -> int:
    head = problem.path.split(",")[0]
    return int(head[5:]) if head.startswith("line ") and head[5:].isdigit() else 0


# -- apply --------------------------------------------------------------------------------------


async def apply_import(
    session: AsyncSession, plan: ImportPlan, *, actor: Principal | str, audited: bool = True
) -> None:
    """Write a valid plan in the caller's transaction, with one audit record per changed
    entity (``audited=False`` writes none: the demo seed records one summary instead). The
    plan should be made in the same transaction.
    """
    if not plan.valid:
        raise InvalidInput(plan.headline(), problems=[str(p) for p in plan.problems])
    groups: dict[tuple[str, str], list[Change]] = defaultdict(list)
    for change in plan.changes:
        groups[change.section, change.action].append(change)
    await _upsert_organisations(session, groups)
    await _upsert_skills(session, groups)
    await _upsert_experts(session, groups)
    await _upsert_agreements(session, groups)
    await _delete_all(session, groups)
    if audited:
        for change in plan.changes:
            audit.record(
                session,
                actor=actor,
                action="import",
                entity=ENTITY[change.section],
                entity_id=change.key,
                before=_plain(change.before),
                after=_plain(change.after),
            )


def _plain(rec: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return dict(rec) if rec is not None else None


Groups = Mapping[tuple[str, str], list[Change]]


async def _insert(session: AsyncSession, model: Any, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), CHUNK):
        await session.exec(insert(model), params=rows[start : start + CHUNK])


async def _update(session: AsyncSession, model: Any, rows: list[dict[str, Any]]) -> None:
    """Update rows by primary key (SQLAlchemy's bulk UPDATE by primary key)."""
    for start in range(0, len(rows), CHUNK):
        await session.exec(update(model), params=rows[start : start + CHUNK])


async def _delete_where_in(session: AsyncSession, column: Any, keys: Sequence[str]) -> None:
    for start in range(0, len(keys), CHUNK):
        await session.exec(delete(column.class_).where(column.in_(keys[start : start + CHUNK])))


def _afters(groups: Groups, section: str, action: str) -> list[Mapping[str, Any]]:
    return [c.after for c in groups.get((section, action), ()) if c.after is not None]


async def _upsert_organisations(session: AsyncSession, groups: Groups) -> None:
    def row(o: Mapping[str, Any]) -> dict[str, Any]:
        return {k: o[k] for k in FIELDS["organisations"]}

    await _insert(
        session, Organisation, [row(o) for o in _afters(groups, "organisations", "create")]
    )
    await _update(
        session, Organisation, [row(o) for o in _afters(groups, "organisations", "update")]
    )


async def _upsert_skills(session: AsyncSession, groups: Groups) -> None:
    created = _afters(groups, "skills", "create")
    updated = _afters(groups, "skills", "update")

    def row(s: Mapping[str, Any]) -> dict[str, Any]:
        return {"id": s["id"], "name": s["name"], "description": s["description"]}

    await _insert(session, Skill, [row(s) for s in created])
    await _update(session, Skill, [row(s) for s in updated])
    ids = [s["id"] for s in updated]
    await _delete_where_in(session, col(SkillEdge.source_id), ids)
    await _delete_where_in(session, col(SkillTerm.skill_id), ids)
    await _insert(session, SkillEdge, [e for s in (*created, *updated) for e in _edges(s)])
    await _insert(session, SkillTerm, [t for s in (*created, *updated) for t in _terms(s)])


def _edges(s: Mapping[str, Any]) -> list[dict[str, Any]]:
    broader = (
        [{"source_id": s["id"], "target_id": s["broader"], "kind": "broader", "cost": None}]
        if s["broader"]
        else []
    )
    related = [
        {"source_id": s["id"], "target_id": t, "kind": "related", "cost": c}
        for t, c in s["related"].items()
    ]
    return broader + related


def _terms(s: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [{"skill_id": s["id"], "term": t, "kind": "synonym"} for t in s["synonyms"]] + [
        {"skill_id": s["id"], "term": t, "kind": "keyword"} for t in s["keywords"]
    ]


EXPERT_CHILDREN = (Proficiency, ExpertLanguage, Accreditation)


async def _upsert_experts(session: AsyncSession, groups: Groups) -> None:
    created = _afters(groups, "experts", "create")
    updated = _afters(groups, "experts", "update")
    now = now_utc()
    await _insert(session, Expert, [_expert_row(e) for e in created])
    await _update(session, Expert, [{**_expert_row(e), "updated_at": now} for e in updated])
    ids = [e["id"] for e in updated]
    for child in EXPERT_CHILDREN:
        await _delete_where_in(session, col(child.expert_id), ids)
    both = (*created, *updated)
    await _insert(
        session,
        Proficiency,
        [
            {"expert_id": e["id"], "skill_id": s, "level": lvl}
            for e in both
            for s, lvl in e["skills"].items()
        ],
    )
    await _insert(
        session,
        ExpertLanguage,
        [{"expert_id": e["id"], "language": lang} for e in both for lang in e["languages"]],
    )
    await _insert(
        session,
        Accreditation,
        [_accreditation_row(e["id"], a) for e in both for a in e["accreditations"]],
    )


def _expert_row(e: Mapping[str, Any]) -> dict[str, Any]:
    row = {k: e[k] for k in FIELDS["experts"][:9] if k != "organisation"}
    return {**row, "org_id": e["organisation"]}


def _accreditation_row(expert_id: str, a: Mapping[str, Any]) -> dict[str, Any]:
    expires = date.fromisoformat(a["expires_on"]) if a["expires_on"] else None
    return {
        "expert_id": expert_id,
        "name": a["name"],
        "reference": a["reference"],
        "expires_on": expires,
    }


def _agreement_values(a: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "org_a": a["org_a"],
        "org_b": a["org_b"],
        "purpose": a["purpose"],
        "starts_on": date.fromisoformat(a["starts_on"]) if a["starts_on"] else None,
        "ends_on": date.fromisoformat(a["ends_on"]) if a["ends_on"] else None,
    }


async def _upsert_agreements(session: AsyncSession, groups: Groups) -> None:
    created = _afters(groups, "sharing_agreements", "create")
    await _insert(session, SharingAgreement, [_agreement_values(a) for a in created])
    for a in _afters(groups, "sharing_agreements", "update"):
        await session.exec(
            update(SharingAgreement)
            .where(
                col(SharingAgreement.org_a) == a["org_a"], col(SharingAgreement.org_b) == a["org_b"]
            )
            .values(**_agreement_values(a))
        )


async def _delete_all(session: AsyncSession, groups: Groups) -> None:
    """Deletions (``replace``), children before parents so no foreign key is left dangling."""
    for change in groups.get(("sharing_agreements", "delete"), ()):
        a, b = change.key.split("/")
        await session.exec(
            delete(SharingAgreement).where(
                col(SharingAgreement.org_a) == a, col(SharingAgreement.org_b) == b
            )
        )
    experts = [c.key for c in groups.get(("experts", "delete"), ())]
    for child in EXPERT_CHILDREN:
        await _delete_where_in(session, col(child.expert_id), experts)
    await _delete_where_in(session, col(Expert.id), experts)
    skills = [c.key for c in groups.get(("skills", "delete"), ())]
    for column in (
        SkillEdge.source_id,
        SkillEdge.target_id,
        SkillTerm.skill_id,
        Proficiency.skill_id,
    ):
        await _delete_where_in(session, col(column), skills)
    await _delete_where_in(session, col(Skill.id), skills)
    orgs = [c.key for c in groups.get(("organisations", "delete"), ())]
    await _delete_where_in(session, col(Organisation.id), orgs)
