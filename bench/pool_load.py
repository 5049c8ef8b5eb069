"""Pool-load benchmark: a national pool loaded from the database into the graph and indexes.

``run(experts, skills_per_expert, skills)`` fills a fresh database (a temporary SQLite file, or
``url``) with a synthetic pool in bulk inserts, untimed: a taxonomy of ``skills`` skills in three
levels (each with a synonym and a related edge, mostly within its domain), 60 organisations with
sharing agreements, experts with ``skills_per_expert`` skills at realistic levels, one to three
languages and some accreditations (a few expired). It then times, in a fresh session:

* ``load_s``: ``skills.pool.load_snapshot`` (bulk selects, the SkillGraph, the frozen records);
* ``expert_reload_ms``: the median of reloading one expert alone (``load_experts``), what an
  edit to one expert costs the running engine;
* ``graph_s``: the substitutes table at the widest escalation radius (``substitutes_s``), and
  the skill -> experts index ordered by level (``index_s``), as the routing engine builds them
  after a load; ``total_s`` is both steps.

``peak_rss_mib`` is the process's peak resident set (``getrusage``), which the fill keeps small by
inserting in chunks. Run as ``python -m bench.pool_load [--experts N] [--json]``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import random
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import SQLModel

from base.db import Database
from bench.schema import migrated
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
from skills.pool import load_snapshot
from skills.snapshot import load_experts

ORGS = 60
AGREEMENTS = 150
LEVEL_WEIGHTS = (0.10, 0.20, 0.30, 0.25, 0.15)  # proficiency 1..5
LANGUAGES = ("cy", "pl", "ur", "pa", "ar", "bsl", "so")
RADIUS = 3.0  # the widest escalation step's max_cost in config.toml
CHUNK = 5_000
TODAY = date(2026, 6, 1)
EXPERT_RELOADS = 20  # single-expert reloads timed after the whole load

Row = dict[str, Any]  # one row to insert: column name -> value


def _skill_rows(skills: int, rng: random.Random) -> tuple[list[Row], list[Row], list[Row]]:
    """A three-level taxonomy (a hundredth domains, a tenth areas, the rest specific skills);
    each skill has one related edge, nine times in ten within its own domain."""
    roots, areas = max(1, skills // 100), max(1, skills // 10)
    rows = [{"id": f"skill-{i}", "name": f"Skill {i}", "description": ""} for i in range(skills)]
    domain = list(range(roots))
    edges: list[Row] = []
    for i in range(roots, skills):
        parent = rng.randrange(roots) if i < areas else rng.randrange(roots, areas)
        domain.append(domain[parent])
        edges.append(
            {
                "source_id": f"skill-{i}",
                "target_id": f"skill-{parent}",
                "kind": "broader",
                "cost": None,
            }
        )
    members: dict[int, list[int]] = {}
    for i, d in enumerate(domain):
        members.setdefault(d, []).append(i)
    pairs = set()
    for i in range(skills):
        j = rng.choice(members[domain[i]]) if rng.random() < 0.9 else rng.randrange(skills)
        if j != i and (min(i, j), max(i, j)) not in pairs:
            pairs.add((min(i, j), max(i, j)))
            edges.append(
                {
                    "source_id": f"skill-{i}",
                    "target_id": f"skill-{j}",
                    "kind": "related",
                    "cost": rng.choice((0.5, 1.0, 1.5, 2.0)),
                }
            )
    terms = [
        {"skill_id": f"skill-{i}", "term": f"need {i}", "kind": "synonym"} for i in range(skills)
    ]
    return rows, edges, terms


def _org_rows(rng: random.Random) -> tuple[list[Row], list[Row]]:
    orgs = [
        {
            "id": f"org-{i}",
            "name": f"Organisation {i}",
            "kind": "other",
            "nation": "england",
            "region": "",
        }
        for i in range(ORGS)
    ]
    pairs = {tuple(sorted(rng.sample(range(ORGS), 2))) for _ in range(AGREEMENTS)}
    agreements = [
        {
            "org_a": f"org-{a}",
            "org_b": f"org-{b}",
            "purpose": "",
            "starts_on": None,
            "ends_on": None,
        }
        for a, b in sorted(pairs)
    ]
    return orgs, agreements


def _expert_chunks(
    experts: int, per_expert: int, skills: int, rng: random.Random
) -> Iterator[dict[type[SQLModel], list[Row]]]:
    """Experts in chunks of ``CHUNK``, with their proficiencies, languages, accreditations."""
    for start in range(0, experts, CHUNK):
        chunk: dict[type[SQLModel], list[Row]] = {
            Expert: [],
            Proficiency: [],
            ExpertLanguage: [],
            Accreditation: [],
        }
        for n in range(start, min(experts, start + CHUNK)):
            eid = f"e{n:07d}"
            chunk[Expert].append(
                {
                    "id": eid,
                    "name": f"Expert {n}",
                    "org_id": f"org-{n % ORGS}",
                    "phone": f"+4477009{n:05d}"[:13],
                    "active": n % 20 != 0,
                }
            )
            levels = rng.choices(range(1, 6), LEVEL_WEIGHTS, k=per_expert)
            chunk[Proficiency] += [
                {"expert_id": eid, "skill_id": f"skill-{s}", "level": lv}
                for s, lv in zip(rng.sample(range(skills), per_expert), levels, strict=True)
            ]
            langs = {"en", *rng.sample(LANGUAGES, rng.choice((0, 0, 0, 1, 2)))}
            chunk[ExpertLanguage] += [{"expert_id": eid, "language": lang} for lang in langs]
            if n % 3 == 0:
                expiry = TODAY + timedelta(days=rng.randrange(-200, 900))
                chunk[Accreditation].append(
                    {
                        "expert_id": eid,
                        "name": "enhanced-dbs",
                        "reference": "",
                        "expires_on": expiry,
                    }
                )
        yield chunk


async def _insert(conn: AsyncConnection, model: type[SQLModel], rows: list[Row]) -> None:
    for start in range(0, len(rows), CHUNK):
        await conn.execute(insert(model), rows[start : start + CHUNK])


async def fill(
    db: Database, *, experts: int, skills_per_expert: int, skills: int, seed: int = 1
) -> None:
    """Bulk-insert the synthetic pool (one transaction per chunk of experts)."""
    rng = random.Random(seed)
    skill_rows, edges, terms = _skill_rows(skills, rng)
    orgs, agreements = _org_rows(rng)
    tables: tuple[tuple[type[SQLModel], list[Row]], ...] = (
        (Organisation, orgs),
        (Skill, skill_rows),
        (SkillEdge, edges),
        (SkillTerm, terms),
        (SharingAgreement, agreements),
    )
    async with db.engine.begin() as conn:
        for model, rows in tables:
            await _insert(conn, model, rows)
    for chunk in _expert_chunks(experts, skills_per_expert, skills, rng):
        async with db.engine.begin() as conn:
            for model, rows in chunk.items():
                await _insert(conn, model, rows)


def _peak_rss_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


async def measure(db: Database) -> dict[str, Any]:
    """Time the load and the derived tables on an already filled database."""
    gc.collect()
    started = time.perf_counter()
    async with db.session() as session:
        snapshot = await load_snapshot(session, today=TODAY)
    loaded = time.perf_counter()
    table = snapshot.graph.substitutes_table(RADIUS)
    tabled = time.perf_counter()
    index = snapshot.by_skill()
    done = time.perf_counter()
    reload_ms = await _expert_reloads(db, sorted(snapshot.experts)[::max(1, len(snapshot.experts)
                                                                       // EXPERT_RELOADS)])
    return {
        "experts": len(snapshot.experts),
        "skills": len(snapshot.graph),
        "proficiencies": sum(len(e.skills) for e in snapshot.experts.values()),
        "load_s": round(loaded - started, 3),
        "graph_s": round(done - loaded, 3),
        "substitutes_s": round(tabled - loaded, 3),
        "index_s": round(done - tabled, 3),
        "total_s": round(done - started, 3),
        "substitutes": sum(len(s) for s in table.values()),
        "indexed_skills": len(index),
        "peak_rss_mib": round(_peak_rss_mib(), 1),
        "expert_reload_ms": reload_ms,
    }


async def _expert_reloads(db: Database, expert_ids: list[str]) -> float:
    """Median milliseconds to reload one expert (``load_experts``), what the routing engine
    does after an edit that touched only that expert, against ``load_s`` for the whole pool."""
    times = []
    for expert_id in expert_ids[:EXPERT_RELOADS]:
        started = time.perf_counter()
        async with db.session() as session:
            await load_experts(session, [expert_id], today=TODAY)
        times.append(time.perf_counter() - started)
    return round(statistics.median(times) * 1000, 2) if times else 0.0


async def swap_stall(db: Database, url: str) -> dict[str, float]:
    """A running engine reloads the whole pool (as after a taxonomy change) while a probe
    sleeps 1 ms at a time: ``swap_s`` the reload, ``swap_stall_ms`` the longest the event loop
    was held (what webhooks and desks would wait)."""
    from base.config import load_config
    from router.engine import Engine
    from skills.watch import EVERYTHING

    with tempfile.TemporaryDirectory(prefix="pool-swap-") as tmp:
        config = load_config(None, {}).replace(database={"url": url}, server={"data_dir": tmp},
                                               scheduler={"enabled": False})
        engine = Engine(db, config, autotimers=False)
        await engine.start()
        try:
            lags: list[float] = []
            done = asyncio.Event()

            async def probe() -> None:
                while not done.is_set():
                    before = time.perf_counter()
                    await asyncio.sleep(0.001)
                    lags.append(time.perf_counter() - before - 0.001)

            watcher = asyncio.ensure_future(probe())
            started = time.perf_counter()
            await engine._reload_pool(EVERYTHING)
            swap_s = time.perf_counter() - started
            done.set()
            await watcher
        finally:
            await engine.close()
    return {"swap_s": round(swap_s, 3), "swap_stall_ms": round(max(lags) * 1000, 1)}


async def _run(experts: int, skills_per_expert: int, skills: int, url: str) -> dict[str, Any]:
    async with migrated(url) as db:
        started = time.perf_counter()
        await fill(db, experts=experts, skills_per_expert=skills_per_expert, skills=skills)
        fill_s = time.perf_counter() - started
        rss_before = _peak_rss_mib()
        figures = await measure(db)
        figures.update(await swap_stall(db, url))
    return {
        **figures,
        "fill_s": round(fill_s, 1),
        "rss_before_load_mib": round(rss_before, 1),
        "database": url.split(":", 1)[0],
    }


def run(
    experts: int = 100_000, skills_per_expert: int = 5, skills: int = 2000, url: str | None = None
) -> dict[str, Any]:
    """Fill a fresh database (a temporary SQLite file unless ``url``) and time the pool load."""
    if skills_per_expert > skills:
        raise ValueError("skills_per_expert cannot exceed skills")
    if url is not None:
        return asyncio.run(_run(experts, skills_per_expert, skills, url))
    with tempfile.TemporaryDirectory(prefix="pool-load-") as tmp:
        db_url = f"sqlite+aiosqlite:///{Path(tmp) / 'pool.db'}"
        return asyncio.run(_run(experts, skills_per_expert, skills, db_url))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pool_load", description=__doc__)
    parser.add_argument("--experts", type=int, default=100_000)
    parser.add_argument("--skills-per-expert", type=int, default=5)
    parser.add_argument("--skills", type=int, default=2000)
    parser.add_argument("--url", help="an empty database URL (default: a temporary SQLite file)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if args.experts < 0 or args.skills < 1 or args.skills_per_expert < 0:
        parser.error("--experts, --skills and --skills-per-expert must be positive")
    figures = run(args.experts, args.skills_per_expert, args.skills, args.url)
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key:>20}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
