"""The JSON shapes of the pool: what the API answers and what the audit log keeps.

Every function returns plain JSON-ready dicts (strings, numbers, lists, dicts; dates as ISO
strings), so the same shape serves a response body and an audit ``before``/``after``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from base.api_spec import obj
from base.clock import utc
from skills.models import Organisation, SharingAgreement
from skills.pool import ExpertProfile, SkillRecord


def _iso(value: date | datetime | None) -> str | None:
    if isinstance(value, datetime):
        value = utc(value)
    return value.isoformat() if value is not None else None


STR, INT, BOOL = {"type": "string"}, {"type": "integer"}, {"type": "boolean"}
STR_OR_NULL, DAY_OR_NULL = {"type": ["string", "null"]}, {"type": ["string", "null"]}
STRS = {"type": "array", "items": STR}

# The JSON schemas of these shapes, published in the OpenAPI document.
SKILL_SCHEMA = obj(("id", "name", "broader", "related", "synonyms", "keywords", "narrower"),
                   id=STR, name=STR, description=STR, broader=STR_OR_NULL,
                   related={"type": "object", "additionalProperties": {"type": "number"}},
                   synonyms=STRS, keywords=STRS, narrower=STRS)
ACCREDITATION_SCHEMA = obj(("id", "name", "expires_on", "valid"), id=INT, name=STR,
                           reference=STR, expires_on=DAY_OR_NULL, valid=BOOL)
EXPERT_SCHEMA = obj(("id", "name", "organisation", "skills", "languages", "accreditations",
                     "active"),
                    id=STR, name=STR, organisation=STR,
                    skills={"type": "object", "additionalProperties": INT}, languages=STRS,
                    accreditations={"type": "array", "items": ACCREDITATION_SCHEMA},
                    timezone=STR, active=BOOL, contact={"type": "object"},
                    public_name=STR, public_role=STR, show_organisation=BOOL)
ORGANISATION_SCHEMA = obj(("id", "name"), id=STR, name=STR, kind=STR, nation=STR, region=STR,
                          created_at=STR_OR_NULL)
AGREEMENT_SCHEMA = obj(("id", "org_a", "org_b"), id=INT, org_a=STR, org_b=STR, purpose=STR,
                       starts_on=DAY_OR_NULL, ends_on=DAY_OR_NULL, created_at=STR_OR_NULL,
                       in_force=BOOL)
AUDIT_SCHEMA = obj(("id", "at", "actor", "action", "entity", "entity_id"), id=INT, at=STR,
                   actor=STR, action=STR, entity=STR, entity_id=STR)


def skill_json(skill: SkillRecord) -> dict[str, Any]:
    return {
        "id": skill.id,
        "name": skill.name,
        "description": skill.description,
        "broader": skill.broader,
        "related": dict(skill.related),
        "synonyms": list(skill.synonyms),
        "keywords": list(skill.keywords),
        "narrower": list(skill.narrower),
    }


def expert_json(expert: ExpertProfile, *, today: date) -> dict[str, Any]:
    """The expert as the API shows it; ``valid`` says whether an accreditation holds on
    ``today``. ``public_name``, ``public_role`` and ``show_organisation`` are what a citizen
    may be told about them (nothing else is ever shown)."""
    return {
        "id": expert.id,
        "name": expert.name,
        "organisation": expert.org,
        "skills": dict(expert.skills),
        "languages": list(expert.languages),
        "accreditations": [
            {
                "id": a.id,
                "name": a.name,
                "reference": a.reference,
                "expires_on": _iso(a.expires_on),
                "valid": a.valid_on(today),
            }
            for a in expert.accreditations
        ],
        "timezone": expert.timezone,
        "active": expert.active,
        "contact": {
            "email": expert.email,
            "phone": expert.phone,
            "client_identity": expert.client_identity,
            "sip_address": expert.sip_address,
        },
        "public_name": expert.public_name,
        "public_role": expert.public_role,
        "show_organisation": expert.show_organisation,
    }


def organisation_json(org: Organisation) -> dict[str, Any]:
    return {
        "id": org.id,
        "name": org.name,
        "kind": org.kind,
        "nation": org.nation,
        "region": org.region,
        "created_at": _iso(org.created_at),
    }


def agreement_json(agreement: SharingAgreement, *, today: date | None = None) -> dict[str, Any]:
    """A sharing agreement; with ``today``, also whether it is ``in_force`` on that day."""
    out: dict[str, Any] = {
        "id": agreement.id,
        "org_a": agreement.org_a,
        "org_b": agreement.org_b,
        "purpose": agreement.purpose,
        "starts_on": _iso(agreement.starts_on),
        "ends_on": _iso(agreement.ends_on),
        "created_at": _iso(agreement.created_at),
    }
    if today is not None:
        started = agreement.starts_on is None or agreement.starts_on <= today
        out["in_force"] = started and (agreement.ends_on is None or agreement.ends_on >= today)
    return out


def audit_json(entry: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": entry["id"],
        "at": _iso(entry["at"]),
        "actor": entry["actor"],
        "action": entry["action"],
        "entity": entry["entity"],
        "entity_id": entry["entity_id"],
        "before": entry["before"],
        "after": entry["after"],
    }
