"""The pool below the API: the snapshot loader, the change feed, and the body parsers.

The Hypothesis strategies are at the top of this file (for the lead to merge into
tests/strategies.py).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from base.db import Database
from base.errors import DomainError
from expertline.schema import database
from skills.api_experts import FIELDS as EXPERT_FIELDS
from skills.api_experts import parse_expert
from skills.api_orgs import AGREEMENT_FIELDS, ORG_FIELDS, parse_agreement, parse_organisation
from skills.api_skills import FIELDS as SKILL_FIELDS
from skills.api_skills import candidate, parse_skill
from skills.graph import SkillGraph, SkillSpec
from skills.models import (
    Accreditation,
    Expert,
    ExpertLanguage,
    Organisation,
    Proficiency,
    SharingAgreement,
    Skill,
    SkillEdge,
)
from skills.pool import SkillRecord
from skills.snapshot import ExpertRecord, PoolSnapshot, load_experts, load_snapshot
from skills.watch import PoolChange, PoolWatch

# -- strategies ---------------------------------------------------------------------------------

slugs = st.sampled_from(["dementia", "nhs-leeds", "s1", "en", "x"]) | st.text("ab1-", min_size=1,
                                                                           max_size=6)
json_scalars = st.none() | st.booleans() | st.integers(-10, 10) | st.floats() | st.text(max_size=8)
json_values = st.recursive(
    json_scalars | slugs,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(slugs | st.text(max_size=5),
                                                                inner, max_size=3),
    max_leaves=8,
)


def bodies(fields: frozenset[str]) -> st.SearchStrategy[dict[str, Any]]:
    """JSON objects mostly made of the fields a route knows, with any values at all."""
    keys = st.sampled_from(sorted(fields)) | st.text(max_size=6)
    return st.dictionaries(keys, json_values, max_size=len(fields) + 1)


expert_records = st.builds(
    ExpertRecord,
    id=slugs,
    org=st.sampled_from(["org-a", "org-b", "org-c"]),
    skills=st.dictionaries(st.sampled_from(["s1", "s2", "s3"]), st.integers(1, 5)),
    languages=st.frozensets(st.sampled_from(["en", "cy", "pl"])),
    accreditations=st.just({}),
    active=st.booleans(),
)


# -- parsers: any JSON body is either accepted or refused as a 4xx -------------------------------

PARSERS = [
    (SKILL_FIELDS, lambda body: parse_skill(body, None)),
    (SKILL_FIELDS, lambda body: parse_skill(body, SkillRecord(id="s1", name="One"))),
    (EXPERT_FIELDS, lambda body: parse_expert(body, new=True)),
    (EXPERT_FIELDS, lambda body: parse_expert(body, new=False)),
    (ORG_FIELDS, lambda body: parse_organisation(body, new=True)),
    (AGREEMENT_FIELDS, parse_agreement),
]


@pytest.mark.parametrize("fields,parse", PARSERS,
                         ids=["skill-new", "skill-patch", "expert-new", "expert-patch", "org",
                              "agreement"])
@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_any_json_body_is_parsed_or_refused_with_a_4xx(fields: frozenset[str], parse: Any,
                                                       data: st.DataObject) -> None:
    body = data.draw(bodies(fields))
    try:
        parse(body)
    except DomainError as exc:
        assert 400 <= exc.status < 500 and exc.message


def test_a_parsed_skill_keeps_what_the_patch_leaves_out() -> None:
    current = SkillRecord(id="dementia", name="Dementia", broader="health-care",
                          related={"carers": 0.5}, synonyms=("memory loss",))
    patched = parse_skill({"keywords": ["forgetful", "forgetful"], "broader": None}, current)
    assert patched == dataclasses.replace(current, broader=None, keywords=("forgetful",))


def test_writing_a_skills_related_map_replaces_every_pair_touching_it() -> None:
    specs = [SkillSpec("a", "A", related={"b": 1.0}), SkillSpec("b", "B"),
             SkillSpec("c", "C", related={"b": 2.0, "a": 0.5})]
    after = candidate(specs, "b", SkillRecord(id="b", name="B", related={"c": 3.0}))
    assert {s.id: dict(s.related) for s in after} == {"a": {}, "c": {"a": 0.5},
                                                      "b": {"c": 3.0}}
    assert [s.id for s in candidate(specs, "a", None)] == ["b", "c"]


# -- the snapshot -------------------------------------------------------------------------------

T = date(2026, 6, 15)


async def _seed(db: Database) -> None:
    batches = [
        [Organisation(id=o, name=o.upper()) for o in ("org-a", "org-b", "org-c")],
        [Skill(id="care", name="Care"), Skill(id="dementia", name="Dementia")],
        [SkillEdge(source_id="dementia", target_id="care", kind="broader")],
        [Expert(id="x", name="X", org_id="org-a", phone="+447700900001", timezone="Europe/Paris",
                public_name="Xan", public_role="Nurse", show_organisation=True),
         Expert(id="y", name="Y", org_id="org-b", active=False, public_name="Yas"),
         Expert(id="z", name="Z", org_id="org-c")],
        [Proficiency(expert_id="x", skill_id="care", level=3),
         Proficiency(expert_id="x", skill_id="dementia", level=5),
         Proficiency(expert_id="y", skill_id="dementia", level=1),
         ExpertLanguage(expert_id="x", language="en"),
         ExpertLanguage(expert_id="x", language="cy"),
         Accreditation(expert_id="x", name="enhanced-dbs"),
         Accreditation(expert_id="x", name="ig-training", expires_on=T - timedelta(days=1)),
         Accreditation(expert_id="x", name="ig-training", expires_on=T + timedelta(days=300)),
         Accreditation(expert_id="x", name="first-aid", expires_on=T),
         SharingAgreement(org_a="org-a", org_b="org-b"),
         SharingAgreement(org_a="org-a", org_b="org-c", ends_on=T - timedelta(days=1)),
         SharingAgreement(org_a="org-b", org_b="org-c", starts_on=T + timedelta(days=1))],
    ]
    async with db.transaction() as session:
        for batch in batches:
            session.add_all(batch)
            await session.flush()


async def test_the_snapshot_is_the_pool_as_frozen_plain_data(db_url: str) -> None:
    async with database(db_url) as db:
        await _seed(db)
        async with db.session() as session:
            snap = await load_snapshot(session, today=T)
            tomorrow = await load_snapshot(session, today=T + timedelta(days=1), graph=snap.graph)
    assert snap.experts["x"] == ExpertRecord(
        id="x", org="org-a", skills={"care": 3, "dementia": 5}, languages=frozenset({"en", "cy"}),
        accreditations={"enhanced-dbs": None, "ig-training": T + timedelta(days=300),
                        "first-aid": T},
        timezone="Europe/Paris", phone="+447700900001", name="X", public_name="Xan",
        public_role="Nurse", public_organisation="ORG-A")
    assert snap.experts["y"].active is False and snap.experts["z"].skills == {}
    assert snap.experts["y"].public_organisation == ""  # only when the expert shows it
    assert snap.graph.narrower("care") == {"care", "dementia"}
    assert snap.sharing == {("org-a", "org-b")}
    assert tomorrow.sharing == {("org-a", "org-b"), ("org-b", "org-c")}
    assert "first-aid" not in tomorrow.experts["x"].accreditations
    assert snap.may_share("org-b", "org-a") and not snap.may_share("org-a", "org-c")
    assert snap.by_skill() == {"care": (("x", 3),), "dementia": (("x", 5),)}
    assert snap.by_skill(active_only=False)["dementia"] == (("x", 5), ("y", 1))
    with pytest.raises(dataclasses.FrozenInstanceError):
        snap.experts["x"].org = "org-b"  # type: ignore[misc]
    with pytest.raises(TypeError):
        snap.experts["x"].skills["care"] = 1  # type: ignore[index]


async def test_load_experts_reads_the_named_experts_as_the_snapshot_does(db_url: str) -> None:
    async with database(db_url) as db:
        await _seed(db)
        async with db.session() as session:
            snap = await load_snapshot(session, today=T)
            some = await load_experts(session, ["x", "y", "gone"], today=T)
            none = await load_experts(session, [], today=T)
    assert some == {"x": snap.experts["x"], "y": snap.experts["y"]} and none == {}


@functools.cache
def _three_skills() -> SkillGraph:
    return SkillGraph.build([SkillSpec(s, s.upper()) for s in ("s1", "s2", "s3")])


@settings(max_examples=80, deadline=None)
@given(st.lists(expert_records, max_size=12, unique_by=lambda e: e.id))
def test_by_skill_lists_every_active_holder_once_best_first(experts: list[ExpertRecord]) -> None:
    snap = PoolSnapshot(today=T, graph=_three_skills(), experts={e.id: e for e in experts})
    index = snap.by_skill()
    pairs = sorted((s, e, lv) for s, held in index.items() for e, lv in held)
    assert pairs == sorted((s, e.id, lv) for e in experts if e.active
                           for s, lv in e.skills.items())
    for held in index.values():
        assert [lv for _, lv in held] == sorted((lv for _, lv in held), reverse=True)
    holders = snap.holders()
    assert {s: sorted(h.expert_id for h in hs) for s, hs in holders.items()} == {
        s: sorted(e for e, _ in held) for s, held in index.items()}


# -- the change feed ----------------------------------------------------------------------------

async def test_subscribers_hear_changes_in_order_even_when_one_fails(
        caplog: pytest.LogCaptureFixture) -> None:
    watch, heard = PoolWatch(), []

    def broken(change: PoolChange) -> None:
        raise RuntimeError("subscriber bug")

    async def slow(change: PoolChange) -> None:
        heard.append(("async", change))

    watch.subscribe(broken)
    watch.subscribe(slow)
    unsubscribe = watch.subscribe(lambda change: heard.append(("sync", change)))
    one, two = PoolChange(experts=frozenset({"x"})), PoolChange(sharing=True)
    with caplog.at_level(logging.ERROR, logger="skills.watch"):
        await watch.publish(one)
        unsubscribe()
        await watch.publish(PoolChange())  # nothing changed: nobody is told
        await watch.publish(two)
    assert heard == [("async", one), ("sync", one), ("async", two)]
    assert "subscriber bug" in caplog.text
    watch.close()
    watch.close()
    assert "closed subscribers=0" in repr(watch)


async def test_the_cached_graph_is_dropped_or_swapped_on_taxonomy_changes() -> None:
    loads = []

    async def specs() -> list[SkillSpec]:
        loads.append(1)
        return [SkillSpec("a", "A")]

    async with PoolWatch(taxonomy_cost=0.25) as watch:
        first = await watch.graph(specs)
        assert await watch.graph(specs) is first and len(loads) == 1
        await watch.publish(PoolChange(experts=frozenset({"x"})))
        assert await watch.graph(specs) is first
        await watch.publish(PoolChange(graph=True))
        rebuilt = await watch.graph(specs)
        assert rebuilt is not first and len(loads) == 2 and rebuilt.taxonomy_cost == 0.25
        swapped = SkillGraph.build([SkillSpec("b", "B")])
        await watch.publish(PoolChange(graph=True), graph=swapped)
        assert await watch.graph(specs) is swapped


async def test_a_graph_built_across_a_taxonomy_change_is_not_cached() -> None:
    watch = PoolWatch()

    async def specs_then_change() -> list[SkillSpec]:
        await watch.publish(PoolChange(graph=True))  # a write commits while we were reading
        return [SkillSpec("old", "Old")]

    assert "old" in await watch.graph(specs_then_change)

    async def fresh() -> list[SkillSpec]:
        return [SkillSpec("new", "New")]

    assert "new" in await watch.graph(fresh)


# -- the pool-load benchmark still runs ----------------------------------------------------------

def test_the_pool_load_benchmark_prints_its_figures(capsys: pytest.CaptureFixture[str]) -> None:
    from bench.pool_load import main

    assert main(["--experts", "300", "--skills", "40", "--skills-per-expert", "3", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert (figures["experts"], figures["skills"], figures["proficiencies"]) == (300, 40, 900)
    assert figures["load_s"] > 0 and figures["peak_rss_mib"] > 0
    assert figures["expert_reload_ms"] > 0
    assert figures["swap_s"] > 0 and figures["swap_stall_ms"] >= 0
