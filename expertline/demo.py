"""The demo pool: a realistic, deterministic UK public-services pool for ``serve --demo``.

``build_demo_pool(seed, experts)`` is pure: the same seed gives the same pool, as an import
document (``skills.transfer``'s JSON form). The static part (taxonomy, organisations, names)
lives in ``expertline.demo_data``; experts are drawn here. Each expert comes from its own random
stream (``"{seed}:expert:{n}"``), so a smaller pool is a prefix of a larger one, and a new kind of
generated data (shift patterns, say) can take a stream of its own without changing the rest.

``seed_if_empty`` and ``seed_demo`` write it with bulk inserts in one transaction and one audit
record (actor ``demo-seed``); a database that already holds a pool is left as it is.
"""

from __future__ import annotations

import logging
import random
import time
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Any, TypeVar

from sqlalchemy import func
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from base import audit
from base.config import Config
from base.db import Database
from expertline.demo_data import (
    AGREEMENTS,
    COMMUNITY_LANGUAGE,
    LEVELS,
    NAMES,
    ORGANISATIONS,
    RELATED,
    SKILL_COUNTS,
    SKILLS,
    TIME_ZONES,
    OrgSeed,
    SkillSeed,
)
from expertline.demo_desk import PUBLIC_ROLES
from expertline.demo_shifts import seed_shifts
from expertline.schema import database
from skills import transfer
from skills.models import Expert, Organisation, Skill

log = logging.getLogger("expertline.demo")

ACTOR = "demo-seed"
# Accreditation expiry dates are drawn relative to this fixed day, so the pool never depends on
# when it is generated (and some are expired on it: the demo shows lapsed DBS checks).
REFERENCE_DATE = date(2026, 11, 1)
AREA_SKILLS = frozenset({"health-and-care", "social-care", "safeguarding", "housing-and-money"})
PARENT = {s.id: s.broader for s in SKILLS}
DBS_LIKELY = frozenset(
    {
        "safeguarding-adults",
        "domestic-abuse",
        "young-carers",
        "learning-disability",
        "adult-social-care-assessment",
        "autism",
    }
)
PHONE_SLOTS = 999  # +447700900001 .. +447700900999: Ofcom's drama range

T = TypeVar("T")


# -- the pure pool ------------------------------------------------------------------------------


def build_demo_pool(seed: int, experts: int, *, reference: date = REFERENCE_DATE) -> dict[str, Any]:
    """The demo pool as an import document; deterministic in ``seed``."""
    people = [demo_expert(seed, n, reference) for n in range(1, experts + 1)]
    return {
        "version": transfer.VERSION,
        "organisations": [_organisation(o) for o in sorted(ORGANISATIONS, key=lambda o: o.id)],
        "skills": [_skill(s) for s in sorted(SKILLS, key=lambda s: s.id)],
        "experts": _unique_emails(people),
        "sharing_agreements": [_agreement(*a) for a in sorted(AGREEMENTS)],
    }


def _organisation(o: OrgSeed) -> dict[str, Any]:
    fields = {"id": o.id, "name": o.name, "kind": o.kind, "nation": o.nation, "region": o.region}
    return transfer.canonical("organisations", fields)


def _skill(seed: SkillSeed) -> dict[str, Any]:
    related = {b: cost for a, b, cost in RELATED if a == seed.id}
    fields = {"id": seed.id, "name": seed.name, "description": seed.description}
    return transfer.canonical(
        "skills",
        {
            **fields,
            "broader": seed.broader,
            "related": related,
            "synonyms": seed.synonyms,
            "keywords": seed.keywords,
        },
    )


def _agreement(
    org_a: str, org_b: str, purpose: str, starts: str, ends: str | None
) -> dict[str, Any]:
    fields = {"org_a": org_a, "org_b": org_b, "purpose": purpose}
    return transfer.canonical(
        "sharing_agreements", {**fields, "starts_on": starts, "ends_on": ends}
    )


def _weighted(rng: random.Random, weights: Mapping[T, float]) -> T:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def demo_expert(seed: int, n: int, reference: date) -> dict[str, Any]:
    """Expert number ``n`` (from 1), from its own random stream."""
    rng = random.Random(f"{seed}:expert:{n}")
    org = rng.choices(ORGANISATIONS, weights=[o.share for o in ORGANISATIONS])[0]
    heritage = _weighted(rng, org.people)
    given, family = (rng.choice(names) for names in NAMES[heritage])
    skills = draw_skills(rng, org)
    languages = draw_languages(rng, org, heritage, skills)
    return transfer.canonical(
        "experts",
        {
            "id": f"exp-{n:04d}",
            "name": f"{given} {family}",
            "organisation": org.id,
            "email": f"{_ascii(given)}.{_ascii(family)}@{org.domain}",
            **_contact(rng, n),
            "timezone": _weighted(rng, dict(TIME_ZONES)),
            "active": rng.random() > 0.02,
            "languages": languages,
            "skills": skills,
            "accreditations": draw_accreditations(rng, org, skills, languages, reference),
        },
    )


NOT_DECOMPOSED = str.maketrans({"ł": "l", "Ł": "L", "ø": "o", "æ": "ae", "ß": "ss"})


def _ascii(name: str) -> str:
    """``Michał`` -> ``michal``, ``Siân`` -> ``sian``, ``O'Neill`` -> ``oneill`` (for e-mail)."""
    plain = unicodedata.normalize("NFKD", name.translate(NOT_DECOMPOSED))
    plain = plain.encode("ascii", "ignore").decode()
    return "".join(c for c in plain.lower() if c.isalnum() or c == "-")


def _contact(rng: random.Random, n: int) -> dict[str, str]:
    """A phone in the drama range, a browser softphone identity, or both."""
    roll = rng.random()
    phone = f"+447700900{n:03d}" if n <= PHONE_SLOTS and roll < 0.8 else ""
    identity = f"desk-exp-{n:04d}" if not phone or roll > 0.7 else ""
    return {"phone": phone, "client_identity": identity, "sip_address": ""}


def draw_skills(rng: random.Random, org: OrgSeed) -> dict[str, int]:
    """1..6 skills from the organisation's focus, levels mostly 2..4; often the parent too."""
    weights = dict(org.focus)
    count = min(_weighted(rng, SKILL_COUNTS), len(weights))
    chosen: list[str] = []
    while len(chosen) < count:
        skill = _weighted(rng, weights)
        chosen.append(skill)
        del weights[skill]
    parent = PARENT.get(chosen[-1])
    if (
        parent
        and parent not in AREA_SKILLS
        and parent not in chosen
        and len(chosen) < 6
        and rng.random() < 0.5
    ):
        chosen.append(parent)
    levels = {skill: _weighted(rng, LEVELS) for skill in chosen}
    if rng.random() < 0.4:  # the skill they were hired for is usually their strongest
        levels[chosen[0]] = min(5, levels[chosen[0]] + 1)
    return levels


def draw_languages(
    rng: random.Random, org: OrgSeed, heritage: str, skills: Mapping[str, int]
) -> list[str]:
    sensory = bool({"deaf-and-hard-of-hearing", "sensory-loss"} & set(skills))
    languages = set()
    if rng.random() < (0.3 if sensory else 0.012):
        languages.add("bsl")
    if "bsl" not in languages or rng.random() < 0.6:  # some Deaf experts are BSL-first
        languages.add("en")
    if rng.random() < min(0.95, org.welsh * (1.4 if heritage == "welsh" else 0.5)):
        languages.add("cy")
    for language, chance in COMMUNITY_LANGUAGE.get(heritage, ()):
        if rng.random() < chance:
            languages.add(language)
    return sorted(languages)


def draw_accreditations(
    rng: random.Random,
    org: OrgSeed,
    skills: Mapping[str, int],
    languages: Sequence[str],
    reference: date,
) -> list[dict[str, Any]]:
    """IG training for most, enhanced DBS for safeguarding work; some lapsed on ``reference``."""

    def until(lo: int, hi: int) -> str:
        return (reference + timedelta(days=rng.randint(lo, hi))).isoformat()

    found = []
    if rng.random() < 0.93:
        found.append(_held("ig-training", until(-120, 365), f"IG-{rng.randint(100000, 999999)}"))
    dbs = 1.0 if "safeguarding-children" in skills else 0.6 if DBS_LIKELY & set(skills) else 0.15
    if rng.random() < dbs:
        expires = until(-200, 1095)
        found.append(_held("enhanced-dbs", expires, f"00{rng.randint(10**9, 10**10 - 1)}"))
    if org.kind == "nhs-trust" and rng.random() < 0.45:
        expires = until(-30, 365)
        number = f"{rng.randint(10, 99)}A{rng.randint(1000, 9999)}E"
        found.append(_held("nmc-registration", expires, number))
    if "bsl" in languages:
        found.append(_held("bsl-level-6", None, ""))
    return found


def _held(name: str, expires_on: str | None, reference: str) -> dict[str, Any]:
    return {"name": name, "expires_on": expires_on, "reference": reference}


def _unique_emails(experts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Namesakes in one organisation get ``name2@``, ``name3@``… in order of id."""
    seen: Counter[str] = Counter()
    for expert in experts:
        seen[expert["email"]] += 1
        if seen[expert["email"]] > 1:
            local, _, domain = expert["email"].partition("@")
            expert["email"] = f"{local}{seen[expert['email']]}@{domain}"
    return experts


# -- the summary --------------------------------------------------------------------------------


def describe(pool: Mapping[str, Any], *, reference: date = REFERENCE_DATE) -> str:
    """A paragraph of counts: what a person wants to know about the pool they just got."""
    skills, experts = pool["skills"], pool["experts"]
    broader = sum(1 for s in skills if s["broader"])
    related = sum(len(s["related"]) for s in skills)
    terms = sum(len(s["synonyms"]) + len(s["keywords"]) for s in skills)
    langs = Counter(lang for e in experts for lang in e["languages"])
    accreditations = [a for e in experts for a in e["accreditations"]]
    expired = sum(1 for a in accreditations if a["expires_on"] and a["expires_on"] < str(reference))
    abroad = sum(1 for e in experts if e["timezone"] != "Europe/London")
    nations = len({o["nation"] for o in pool["organisations"]})
    return (
        f"{len(pool['organisations'])} organisations in {nations} nations, "
        f"{len(skills)} skills ({broader} broader and {related} related "
        f"edges, {terms} synonyms and keywords), {len(experts)} experts with "
        f"{sum(len(e['skills']) for e in experts)} proficiencies ({abroad} working from abroad; "
        f"languages {', '.join(f'{k} {v}' for k, v in langs.most_common())}), "
        f"{len(accreditations)} accreditations ({expired} expired by {reference}) and "
        f"{len(pool['sharing_agreements'])} data-sharing agreements"
    )


# -- seeding ------------------------------------------------------------------------------------


async def pool_counts(session: AsyncSession) -> dict[str, int]:
    counts = {}
    for name, model in (("organisations", Organisation), ("skills", Skill), ("experts", Expert)):
        counts[name] = (await session.exec(select(func.count()).select_from(model))).one()
    return counts


async def _seed(db: Database, config: Config) -> dict[str, Any] | None:
    """Seed in one transaction; None (and nothing written) when a pool is already there."""
    try:
        async with db.transaction() as session:
            if any((await pool_counts(session)).values()):
                return None
            pool = build_demo_pool(config.demo.seed, config.demo.experts)
            plan = await transfer.plan_import(session, pool)
            if not plan.valid:
                raise RuntimeError(f"the demo pool is invalid: {plan.problems[:3]}")
            await transfer.apply_import(session, plan, actor=ACTOR, audited=False)
            await seed_shifts(session, pool, config.demo.seed)
            await show_to_citizens(session)
            audit.record(
                session,
                actor=ACTOR,
                action="seed",
                entity="pool",
                entity_id=f"demo:{config.demo.seed}",
                after={s: len(pool[s]) for s in transfer.ENTITY},
            )
    except IntegrityError:  # another process seeded it at the same moment
        log.info("the demo pool was seeded concurrently; leaving it")
        return None
    return pool


async def show_to_citizens(session: AsyncSession) -> None:
    """The experts left for a person agree to be shown to citizens: first name, role and
    organisation (every other demo expert is "an expert", the default)."""
    experts = await session.exec(select(Expert).where(col(Expert.id).in_(PUBLIC_ROLES)))
    for expert in experts:
        expert.public_name = expert.name.split()[0]
        expert.public_role = PUBLIC_ROLES[expert.id]
        expert.show_organisation = True
        session.add(expert)


async def seed_if_empty(db: Database, config: Config) -> bool:
    """Seed the demo pool when the database holds no pool; True when it did."""
    started = time.perf_counter()
    pool = await _seed(db, config)
    if pool is not None:
        log.info(
            "seeded the demo pool in %.2f s: %s", time.perf_counter() - started, describe(pool)
        )
    return pool is not None


async def seed_demo(config: Config) -> str:
    """Open the configured database, seed it if empty, and say what happened."""
    where = make_url(config.database_url).render_as_string(hide_password=True)
    started = time.perf_counter()
    async with database(config.database_url, echo=config.database.echo) as db:
        pool = await _seed(db, config)
        if pool is None:
            async with db.session() as session:
                counts = await pool_counts(session)
            held = ", ".join(f"{n} {name}" for name, n in counts.items())
            return f"{where} already holds a pool ({held}); nothing was changed."
    return (
        f"Seeded the demo pool (seed {config.demo.seed}) into {where} in "
        f"{time.perf_counter() - started:.2f} s: {describe(pool)}."
    )
