"""Validation of a pool document (a JSON import, or CSV rows turned into one): pure, no I/O.

``check_document`` reports every problem with its JSON path (``experts[12].skills.dementia:
level 7 is not 1..5``) and returns the records that passed, normalised: ids checked, lists
deduplicated, a sharing agreement's pair put in order. References are checked against the ids
the document brings plus those already in the database (``Existing``), and the taxonomy
(broader edges) must stay acyclic once merged with what the database holds.
"""

from __future__ import annotations

import math
import re
import zoneinfo
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any

import networkx as nx

from skills.models import PROFICIENCY_MAX, PROFICIENCY_MIN

VERSION = 1
SECTIONS = ("organisations", "skills", "experts", "sharing_agreements")
SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
EXPERT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
LANGUAGE = re.compile(r"^[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$")
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
MAX_COST = 100.0
RECORD_PATH = re.compile(r"^(\w+)\[(\d+)\]")


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with the input: where (a JSON path or ``line N, column``) and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class Report:
    """Collects problems; checks call ``add`` and carry on, so every problem is reported."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))


BAD = object()  # a check's answer when it has reported the value as a problem
Check = Callable[[Any, str, Report], Any]


@dataclass(frozen=True, slots=True)
class Spec:
    check: Check
    required: bool = False


# -- value checks: each returns the normalised value, or BAD after reporting ----------------------


def text(
    max_len: int, *, pattern: re.Pattern[str] | None = None, what: str = "", empty_ok: bool = True
) -> Check:
    def check(value: Any, path: str, report: Report) -> Any:
        if not isinstance(value, str):
            report.add(path, f"must be a string, got {_kind(value)}")
            return BAD
        value = value.strip()
        if not value and not empty_ok:
            report.add(path, "must not be empty")
            return BAD
        if len(value) > max_len:
            report.add(path, f"is longer than {max_len} characters")
            return BAD
        if value and pattern is not None and not pattern.match(value):
            report.add(path, f"{value!r} is not {what}")
            return BAD
        return value

    return check


SLUG_HINT = "a slug (lower-case letters, digits and single hyphens)"
slug = text(64, pattern=SLUG, what=SLUG_HINT, empty_ok=False)
name = text(200, empty_ok=False)
term = text(200, pattern=re.compile(r"^[^|]*$"), what="a phrase without '|'", empty_ok=False)


def optional(check: Check) -> Check:
    """``check``, or null."""

    def inner(value: Any, path: str, report: Report) -> Any:
        return None if value is None else check(value, path, report)

    return inner


def boolean(value: Any, path: str, report: Report) -> Any:
    if not isinstance(value, bool):
        report.add(path, f"must be true or false, got {_kind(value)}")
        return BAD
    return value


def iso_date(value: Any, path: str, report: Report) -> Any:
    """A date ``YYYY-MM-DD`` (kept as that string) or null."""
    if value is None:
        return None
    if isinstance(value, str) and ISO_DATE.match(value.strip()):
        try:
            return date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            pass
    report.add(path, f"{value!r} is not a date YYYY-MM-DD")
    return BAD


@lru_cache(maxsize=1024)
def known_zone(key: str) -> bool:
    try:
        zoneinfo.ZoneInfo(key)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def time_zone(value: Any, path: str, report: Report) -> Any:
    value = text(64, empty_ok=False)(value, path, report)
    if value is not BAD and not known_zone(value):
        report.add(path, f"{value!r} is not an IANA time zone (e.g. Europe/London)")
        return BAD
    return value


def str_list(item: Check) -> Check:
    """A list of strings (deduplicated, sorted)."""

    def check(value: Any, path: str, report: Report) -> Any:
        if not isinstance(value, list):
            report.add(path, f"must be a list, got {_kind(value)}")
            return BAD
        items = [item(v, f"{path}[{i}]", report) for i, v in enumerate(value)]
        return BAD if any(v is BAD for v in items) else sorted(set(items))

    return check


def _mapping(value: Any, path: str, report: Report) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        report.add(path, f"must be an object, got {_kind(value)}")
        return None
    return value


def levels(value: Any, path: str, report: Report) -> Any:
    """``{skill: level}`` with levels 1..5."""
    found = _mapping(value, path, report)
    if found is None:
        return BAD
    ok = True
    for skill, level in found.items():
        at = f"{path}.{skill}"
        if not SLUG.match(skill):
            report.add(at, f"{skill!r} is not a skill id ({SLUG_HINT})")
            ok = False
        elif not isinstance(level, int) or isinstance(level, bool):
            report.add(at, f"level must be a whole number 1..5, got {level!r}")
            ok = False
        elif not PROFICIENCY_MIN <= level <= PROFICIENCY_MAX:
            report.add(at, f"level {level} is not {PROFICIENCY_MIN}..{PROFICIENCY_MAX}")
            ok = False
    return dict(sorted(found.items())) if ok else BAD


def costs(value: Any, path: str, report: Report) -> Any:
    """``{skill: substitution cost}`` with costs in (0, 100]."""
    found = _mapping(value, path, report)
    if found is None:
        return BAD
    ok = True
    for skill, cost in found.items():
        at = f"{path}.{skill}"
        if not SLUG.match(skill):
            report.add(at, f"{skill!r} is not a skill id ({SLUG_HINT})")
            ok = False
        elif not _positive_number(cost):
            report.add(at, f"cost must be a number above 0 and at most {MAX_COST:g}, got {cost!r}")
            ok = False
    return {k: float(v) for k, v in sorted(found.items())} if ok else BAD


def _positive_number(value: Any) -> bool:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    return math.isfinite(value) and 0 < value <= MAX_COST


ACCREDITATION = {
    "name": Spec(slug, required=True),
    "expires_on": Spec(iso_date),
    "reference": Spec(text(128)),
}


def accreditations(value: Any, path: str, report: Report) -> Any:
    if not isinstance(value, list):
        report.add(path, f"must be a list, got {_kind(value)}")
        return BAD
    found = [record(v, f"{path}[{i}]", ACCREDITATION, report) for i, v in enumerate(value)]
    return BAD if any(a is None for a in found) else found


def _kind(value: Any) -> str:
    names = {
        type(None): "null",
        bool: "true/false",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "an object",
    }
    return names.get(type(value), type(value).__name__)


# -- records ------------------------------------------------------------------------------------

SPECS: Mapping[str, Mapping[str, Spec]] = {
    "organisations": {
        "id": Spec(slug, required=True),
        "name": Spec(name, required=True),
        "kind": Spec(text(32, pattern=SLUG, what=SLUG_HINT, empty_ok=False)),
        "nation": Spec(text(32, pattern=SLUG, what=SLUG_HINT, empty_ok=False)),
        "region": Spec(text(64)),
    },
    "skills": {
        "id": Spec(slug, required=True),
        "name": Spec(name, required=True),
        "description": Spec(text(2000)),
        "broader": Spec(optional(slug)),
        "related": Spec(costs),
        "synonyms": Spec(str_list(term)),
        "keywords": Spec(str_list(term)),
    },
    "experts": {
        "id": Spec(text(64, pattern=EXPERT_ID, what="an expert id", empty_ok=False), required=True),
        "name": Spec(name, required=True),
        "organisation": Spec(slug, required=True),
        "email": Spec(text(254, pattern=EMAIL, what="an email address")),
        "phone": Spec(text(32, pattern=E164, what="an E.164 phone number (+447700900123)")),
        "client_identity": Spec(text(128)),
        "sip_address": Spec(text(254)),
        "timezone": Spec(time_zone),
        "active": Spec(boolean),
        "languages": Spec(
            str_list(
                text(16, pattern=LANGUAGE, what="a language code (en, cy, bsl)", empty_ok=False)
            )
        ),
        "skills": Spec(levels),
        "accreditations": Spec(accreditations),
    },
    "sharing_agreements": {
        "org_a": Spec(slug, required=True),
        "org_b": Spec(slug, required=True),
        "purpose": Spec(text(500)),
        "starts_on": Spec(iso_date),
        "ends_on": Spec(iso_date),
    },
}


def record(
    raw: Any, path: str, spec: Mapping[str, Spec], report: Report
) -> dict[str, Any] | None:
    """The fields of one object that ``spec`` names, checked; None when anything is wrong."""
    if not isinstance(raw, dict):
        report.add(path, f"must be an object, got {_kind(raw)}")
        return None
    ok = True
    for key in sorted(set(raw) - set(spec)):
        report.add(f"{path}.{key}", f"unknown field (expected one of {', '.join(spec)})")
        ok = False
    out: dict[str, Any] = {}
    for key, field_spec in spec.items():
        if raw.get(key) is None and (field_spec.required or key not in raw):
            if field_spec.required:
                report.add(f"{path}.{key}", "required")
                ok = False
            continue
        value = field_spec.check(raw[key], f"{path}.{key}", report)
        ok = ok and value is not BAD
        out[key] = value
    return out if ok else None


def key_of(section: str, rec: Mapping[str, Any]) -> str:
    """The identity of a record: its id, or ``org_a/org_b`` for a sharing agreement."""
    if section == "sharing_agreements":
        return f"{rec['org_a']}/{rec['org_b']}"
    return str(rec["id"])


# -- the document -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Existing:
    """What the database already holds, as far as checking references needs."""

    ids: Mapping[str, frozenset[str]] = field(default_factory=dict)  # section -> keys
    broader: Mapping[str, str | None] = field(default_factory=dict)  # skill -> its broader
    related: Mapping[str, Mapping[str, float]] = field(default_factory=dict)  # skill -> costs


@dataclass(frozen=True, slots=True)
class Checked:
    """The outcome: every problem, and per section the records that passed (index, record)."""

    problems: tuple[Problem, ...]
    records: Mapping[str, tuple[tuple[int, dict[str, Any]], ...]]

    @property
    def sections(self) -> tuple[str, ...]:
        return tuple(s for s in SECTIONS if s in self.records)


def check_document(data: Any, existing: Existing = Existing(), *, replace: bool = False) -> Checked:
    """Check a whole pool document; ``replace`` means its sections replace the database's."""
    report = Report()
    if not isinstance(data, dict):
        report.add("", f"the document must be a JSON object, got {_kind(data)}")
        return Checked(tuple(report.problems), {})
    _check_root(data, report)
    sections = [s for s in SECTIONS if s in data]
    raw = {s: _section_list(data[s], s, report) for s in sections}
    records = {s: _records(s, raw[s], report) for s in sections}
    known = _known_ids(raw, existing, replace)
    _check_references(records, known, report)
    if "skills" in records:
        _check_taxonomy(records["skills"], existing, replace, report)
        _check_related_pairs(records["skills"], existing, replace, report)
    bad = {m.groups() for p in report.problems if (m := RECORD_PATH.match(p.path))}
    passed = {s: tuple((i, r) for i, r in records[s] if (s, str(i)) not in bad) for s in sections}
    return Checked(tuple(report.problems), passed)


def _check_root(data: Mapping[str, Any], report: Report) -> None:
    if "version" not in data:
        report.add("version", f"required (this reader understands version {VERSION})")
    elif type(data["version"]) is not int or data["version"] != VERSION:
        report.add(
            "version", f"{data['version']!r} is not a version this reader understands ({VERSION})"
        )
    for key in sorted(set(data) - {"version", *SECTIONS}):
        report.add(key, f"unknown section (expected {', '.join(SECTIONS)})")


def _section_list(value: Any, section: str, report: Report) -> list[Any]:
    if isinstance(value, list):
        return value
    report.add(section, f"must be a list, got {_kind(value)}")
    return []


def _records(section: str, raw: list[Any], report: Report) -> list[tuple[int, dict[str, Any]]]:
    """Check each record, normalise agreements, and refuse duplicate keys."""
    seen: dict[str, int] = {}
    out = []
    for i, item in enumerate(raw):
        rec = record(item, f"{section}[{i}]", SPECS[section], report)
        if rec is None:
            continue
        if section == "sharing_agreements" and not _pair_ok(rec, i, report):
            continue
        key = key_of(section, rec)
        if key in seen:
            what = "id" if section != "sharing_agreements" else "org_b"
            report.add(
                f"{section}[{i}].{what}", f"duplicate {key!r} (first at {section}[{seen[key]}])"
            )
            continue
        seen[key] = i
        out.append((i, rec))
    return out


def _pair_ok(rec: dict[str, Any], i: int, report: Report) -> bool:
    """An agreement joins two different organisations; stored with org_a < org_b."""
    path = f"sharing_agreements[{i}]"
    if rec["org_a"] == rec["org_b"]:
        report.add(f"{path}.org_b", "an organisation needs no agreement with itself")
        return False
    if rec["org_a"] > rec["org_b"]:
        rec["org_a"], rec["org_b"] = rec["org_b"], rec["org_a"]
    starts, ends = rec.get("starts_on"), rec.get("ends_on")
    if starts and ends and ends < starts:
        report.add(f"{path}.ends_on", f"{ends} is before starts_on {starts}")
        return False
    return True


def _known_ids(
    raw: Mapping[str, list[Any]], existing: Existing, replace: bool
) -> dict[str, frozenset[str]]:
    """Ids a reference may name: the document's own, plus the database's unless replaced."""
    known = {}
    for section in ("organisations", "skills"):
        brought = {
            r["id"]
            for r in raw.get(section, ())
            if isinstance(r, dict) and isinstance(r.get("id"), str)
        }
        keep = frozenset() if replace and section in raw else existing.ids.get(section, frozenset())
        known[section] = frozenset(brought) | keep
    return known


def _check_references(
    records: Mapping[str, list[tuple[int, dict[str, Any]]]],
    known: Mapping[str, frozenset[str]],
    report: Report,
) -> None:
    skills, orgs = known["skills"], known["organisations"]
    for i, rec in records.get("skills", ()):
        _check_skill_refs(rec, f"skills[{i}]", skills, report)
    for i, rec in records.get("experts", ()):
        path = f"experts[{i}]"
        if rec["organisation"] not in orgs:
            report.add(f"{path}.organisation", f"unknown organisation {rec['organisation']!r}")
        for skill in rec.get("skills", {}):
            if skill not in skills:
                report.add(f"{path}.skills.{skill}", f"unknown skill {skill!r}")
    for i, rec in records.get("sharing_agreements", ()):
        for side in ("org_a", "org_b"):
            if rec[side] not in orgs:
                report.add(f"sharing_agreements[{i}].{side}", f"unknown organisation {rec[side]!r}")


def _check_skill_refs(
    rec: Mapping[str, Any], path: str, skills: frozenset[str], report: Report
) -> None:
    target = rec.get("broader")
    if target == rec["id"]:
        report.add(f"{path}.broader", "a skill cannot be broader than itself")
    elif target is not None and target not in skills:
        report.add(f"{path}.broader", f"unknown skill {target!r}")
    for target in rec.get("related", {}):
        if target == rec["id"]:
            report.add(f"{path}.related.{target}", "a skill cannot be related to itself")
        elif target not in skills:
            report.add(f"{path}.related.{target}", f"unknown skill {target!r}")
    both = set(rec.get("synonyms", ())) & set(rec.get("keywords", ()))
    for term in sorted(both):
        report.add(f"{path}.keywords", f"{term!r} is already a synonym of this skill")


def _merged_skills(
    records: Iterable[tuple[int, dict[str, Any]]], existing: Existing, replace: bool, key: str
) -> dict[str, tuple[int | None, Any]]:
    """Per skill, where it is in the document (or None) and its ``key`` field once imported."""
    merged: dict[str, tuple[int | None, Any]] = {}
    if not replace:
        merged = {sid: (None, value) for sid, value in getattr(existing, key).items()}
    for i, rec in records:
        if key in rec or rec["id"] not in merged:
            merged[rec["id"]] = (i, rec.get(key))
        else:
            merged[rec["id"]] = (i, merged[rec["id"]][1])
    return merged


def _check_taxonomy(
    records: Iterable[tuple[int, dict[str, Any]]], existing: Existing, replace: bool, report: Report
) -> None:
    """Broader links, merged with the database's, must form no cycle; report each one found."""
    merged = _merged_skills(records, existing, replace, "broader")
    graph = nx.DiGraph(
        (sid, parent) for sid, (_i, parent) in merged.items() if parent and parent != sid
    )  # a self-loop is reported on its own
    while True:
        try:
            cycle = nx.find_cycle(graph)
        except nx.NetworkXNoCycle:
            return
        loop = " > ".join([*(s for s, _ in cycle), cycle[0][0]])
        at = next((merged[s][0] for s, _ in cycle if merged[s][0] is not None), None)
        report.add(
            f"skills[{at}].broader" if at is not None else "skills",
            f"the taxonomy would have a cycle: {loop}",
        )
        graph.remove_edges_from(cycle)


def _check_related_pairs(
    records: Iterable[tuple[int, dict[str, Any]]], existing: Existing, replace: bool, report: Report
) -> None:
    """A related pair is symmetric: declared on both sides, its costs must agree."""
    merged = _merged_skills(records, existing, replace, "related")
    for sid, (at, costs_of) in sorted(merged.items()):
        for other, cost in (costs_of or {}).items():
            back = (merged.get(other, (None, None))[1] or {}).get(sid)
            if at is not None and back is not None and back != cost and sid < other:
                report.add(
                    f"skills[{at}].related.{other}",
                    f"{sid} <-> {other} is also declared by {other} with cost {back:g}; "
                    "declare a pair once, or with one cost",
                )
