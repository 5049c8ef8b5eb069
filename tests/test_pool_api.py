"""The supervisor API over a small, realistic pool, on SQLite and PostgreSQL.

Every route for each role, bad input on every write route (the database unchanged afterwards),
the ``?skill=`` filter with and without narrower skills, pagination, the audit trail and the
change feed.
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient

from base.config import load_config
from expertline.app import DATABASE, create_app
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
from skills.watch import EVERYTHING, PoolChange
from skills.wiring import pool_watch

TODAY = date.today()
ROLES = ("none", "expert", "sup_out", "sup_in", "admin")  # the order requests are made in
TABLES = ("organisation", "skill", "skill_edge", "skill_term", "expert", "proficiency",
          "expert_language", "accreditation", "sharing_agreement", "audit_entry")


# -- the pool -----------------------------------------------------------------------------------

ORGS = [
    Organisation(id="nhs-leeds", name="Leeds Teaching Hospitals NHS Trust", kind="nhs-trust",
                 region="yorkshire"),
    Organisation(id="cardiff-council", name="Cardiff Council", kind="council", nation="wales"),
    Organisation(id="age-uk", name="Age UK", kind="charity", region="national"),
    Organisation(id="fife-council", name="Fife Council", kind="council", nation="scotland"),
    Organisation(id="powys-council", name="Powys County Council", kind="council",
                 nation="wales"),
]
SKILLS = {  # id: (name, broader, related, synonyms, keywords)
    "health-care": ("Health care", None, {}, [], []),
    "dementia": ("Dementia", "health-care", {}, ["dementia", "memory loss"],
                 ["forgetting", "getting lost", "confused"]),
    "dementia-early-onset": ("Young-onset dementia", "dementia", {}, ["young onset dementia"], []),
    "dementia-carers": ("Supporting carers of people with dementia", "dementia",
                        {"carers-support": 0.5}, [], []),
    "carers-support": ("Carers' support", None, {}, ["carer", "caring for"], []),
    "mental-health-crisis": ("Mental health crisis", "health-care",
                             {"safeguarding-adults": 1.0}, ["crisis", "suicidal"], []),
    "safeguarding": ("Safeguarding", None, {}, [], []),
    "safeguarding-adults": ("Safeguarding adults", "safeguarding", {}, ["adult abuse"], []),
    "housing": ("Housing and homelessness", None, {}, ["homeless", "eviction"], ["rent"]),
    "benefits": ("Benefits and council tax", None, {}, ["universal credit"], []),
}
EXPERTS = {  # id: (org, skills, languages, active)
    "ann": ("nhs-leeds", {"dementia": 5, "dementia-carers": 3}, ["en"], True),
    "bryn": ("cardiff-council", {"dementia-early-onset": 4}, ["cy", "en"], True),
    "cara": ("age-uk", {"carers-support": 4, "dementia-carers": 2}, ["en", "pl"], True),
    "dev": ("nhs-leeds", {"safeguarding-adults": 5, "mental-health-crisis": 4},
            ["en", "pa", "ur"], True),
    "eve": ("fife-council", {"housing": 3}, ["en"], False),
}


@dataclass
class Pool:
    client: TestClient
    headers: Mapping[str, dict[str, str]]
    ids: Mapping[str, int]  # accreditation and agreement ids

    async def call(self, role: str, method: str, path: str, body: Any = None,
                   **kw: Any) -> tuple[int, Any]:
        headers = dict(self.headers[role], **kw.pop("headers", {}))
        resp = await self.client.request(method, "/api/v1" + path, json=body, headers=headers,
                                         **kw)
        if resp.content_type == "application/json":
            return resp.status, await resp.json()
        return resp.status, await resp.text()

    async def dump(self) -> dict[str, list[tuple]]:
        """Every row of every pool table and the audit log: "nothing changed" compares these."""
        async with self.client.app[DATABASE].engine.connect() as conn:
            return {t: sorted(map(tuple, (await conn.execute(sa.text(f"SELECT * FROM {t}"))).all()),
                              key=repr) for t in TABLES}


def _batches() -> list[list[Any]]:
    """The pool's rows, parents before children (no ORM relationships order them for us)."""
    skills, links, experts, details = [], [], [], []
    for sid, (name, broader, related, synonyms, keywords) in SKILLS.items():
        skills.append(Skill(id=sid, name=name))
        links += [SkillTerm(skill_id=sid, term=t, kind="synonym") for t in synonyms]
        links += [SkillTerm(skill_id=sid, term=t, kind="keyword") for t in keywords]
        links += [SkillEdge(source_id=sid, target_id=broader, kind="broader")] if broader else []
        links += [SkillEdge(source_id=sid, target_id=o, kind="related", cost=c)
                  for o, c in related.items()]
    for n, (eid, (org, levels, languages, active)) in enumerate(EXPERTS.items()):
        experts.append(Expert(id=eid, name=eid.title(), org_id=org, active=active,
                              phone=f"+44770090010{n}", email=f"{eid}@example.org"))
        details += [Proficiency(expert_id=eid, skill_id=s, level=lv) for s, lv in levels.items()]
        details += [ExpertLanguage(expert_id=eid, language=lang) for lang in languages]
    return [[Organisation(**o.model_dump()) for o in ORGS], skills, links, experts, details]


@pytest.fixture
async def pool(client: TestClient, auth: Any) -> Pool:
    async with client.app[DATABASE].transaction() as session:
        for batch in _batches():
            session.add_all(batch)
            await session.flush()
        dbs = Accreditation(expert_id="ann", name="enhanced-dbs", reference="DBS-001",
                            expires_on=TODAY + timedelta(days=200))
        old_ig = Accreditation(expert_id="ann", name="ig-training", expires_on=date(2020, 3, 31))
        bryn_dbs = Accreditation(expert_id="bryn", name="enhanced-dbs", expires_on=None)
        shared = SharingAgreement(org_a="age-uk", org_b="nhs-leeds", purpose="dementia pathway")
        session.add_all([dbs, old_ig, bryn_dbs, shared])
        await session.flush()
        ids = {"ann_dbs": dbs.id, "ann_ig": old_ig.id, "bryn_dbs": bryn_dbs.id,
               "agreement": shared.id}
    headers = {
        "none": {},
        "expert": await auth("expert", expert="ann"),
        "sup_out": await auth("supervisor", orgs={"cardiff-council"}),
        "sup_in": await auth("supervisor", orgs={"nhs-leeds"}),
        "admin": await auth("admin"),
    }
    return Pool(client, headers, ids)  # type: ignore[arg-type]


# -- every route, each role ----------------------------------------------------------------------

READS = [
    ("GET", "/skills", "401 403 200 200 200"),
    ("GET", "/skills/dementia", "401 403 200 200 200"),
    ("GET", "/experts", "401 403 200 200 200"),
    ("GET", "/experts/ann", "401 200 404 200 200"),  # another organisation's: as if unknown
    ("GET", "/experts/dev", "401 403 404 200 200"),
    ("GET", "/experts/nobody", "401 403 404 404 404"),
    ("GET", "/organisations", "401 403 200 200 200"),
    ("GET", "/organisations/nhs-leeds", "401 403 200 200 200"),
    ("GET", "/sharing-agreements", "401 403 200 200 200"),
    ("GET", "/sharing-agreements/{agreement}", "401 403 200 200 200"),
    ("GET", "/graph", "401 403 200 200 200"),
    ("GET", "/graph?format=graphml", "401 403 200 200 200"),
    ("GET", "/graph/coverage", "401 403 200 200 200"),
    ("GET", "/triage?text=forgetting", "401 403 200 200 200"),
    ("GET", "/audit", "401 403 403 403 200"),
]
ADMIN_WRITES = [
    ("POST", "/skills", {"id": "autism", "name": "Autism"}, "401 403 403 403 201"),
    ("PATCH", "/skills/housing", {"description": "tenancy"}, "401 403 403 403 200"),
    ("DELETE", "/skills/benefits", None, "401 403 403 403 204"),
    ("POST", "/organisations", {"id": "hull-council", "name": "Hull City Council"},
     "401 403 403 403 201"),
    ("PATCH", "/organisations/age-uk", {"region": "england"}, "401 403 403 403 200"),
    ("DELETE", "/organisations/powys-council", None, "401 403 403 403 204"),
    ("POST", "/sharing-agreements", {"org_a": "nhs-leeds", "org_b": "cardiff-council"},
     "401 403 403 403 201"),
    ("DELETE", "/sharing-agreements/{agreement}", None, "401 403 403 403 204"),
]
EXPERT_WRITES = [  # sup_in edits nhs-leeds (ann, dev); sup_out edits cardiff-council (bryn)
    ("POST", "/experts", {"id": "fay", "name": "Fay", "organisation": "nhs-leeds"},
     "401 403 403 201 409"),
    ("POST", "/experts", {"id": "gwen", "name": "Gwen", "organisation": "cardiff-council"},
     "401 403 201 403 409"),
    ("PATCH", "/experts/ann", {"name": "Ann Jones"}, "401 403 403 200 200"),
    ("PATCH", "/experts/bryn", {"active": False}, "401 403 200 403 200"),
    ("PATCH", "/experts/dev", {"organisation": "cardiff-council"}, "401 403 403 403 200"),
    ("PUT", "/experts/ann/skills/housing", {"level": 2}, "401 403 403 200 200"),
    ("DELETE", "/experts/ann/skills/dementia-carers", None, "401 403 403 204 404"),
    ("POST", "/experts/ann/accreditations", {"name": "ig-training", "expires_on": "2030-03-31"},
     "401 403 403 201 409"),  # the same accreditation twice: a form sent again
    ("DELETE", "/experts/ann/accreditations/{ann_ig}", None, "401 403 403 204 404"),
    ("DELETE", "/experts/bryn/accreditations/{bryn_dbs}", None, "401 403 204 403 404"),
    ("DELETE", "/experts/cara", None, "401 403 403 403 204"),
    ("DELETE", "/experts/ann", None, "401 403 403 204 404"),
]


@pytest.mark.parametrize("table", [READS, ADMIN_WRITES, EXPERT_WRITES],
                         ids=["reads", "admin-writes", "expert-writes"])
async def test_each_role_gets_what_it_may(pool: Pool, table: list[tuple]) -> None:
    """Roles ask in the order none, expert (ann), supervisor of another org, supervisor of the
    expert's org, admin; a later 404/409 shows the earlier allowed write really happened."""
    seen = []
    for method, path, *body, _ in table:
        for role in ROLES:
            status, _ = await pool.call(role, method, path.format(**pool.ids), *body)
            seen.append((method, path, role, status))
    wanted = [(m, p, role, int(s)) for m, p, *_, e in table for role, s in zip(ROLES, e.split(),
                                                                             strict=True)]
    assert seen == wanted


async def test_a_supervisor_lists_only_their_own_organisations_experts(pool: Pool) -> None:
    """The pool is shared for routing, not for reading: another organisation's experts are not
    in a supervisor's list, even when asked for by organisation."""
    lists = {}
    for role in ("sup_in", "sup_out", "admin"):
        status, found = await pool.call(role, "GET", "/experts?limit=500")
        assert status == 200
        lists[role] = {e["organisation"] for e in found["items"]}
    assert lists["sup_in"] == {"nhs-leeds"} and lists["sup_out"] == {"cardiff-council"}
    assert lists["admin"] > lists["sup_in"] | lists["sup_out"]
    _, asked = await pool.call("sup_out", "GET", "/experts?org=nhs-leeds")
    assert (asked["items"], asked["total"]) == ([], 0)


# -- bad input changes nothing -------------------------------------------------------------------

BIG = json.dumps({"id": "big", "name": "x" * 1_100_000, "organisation": "nhs-leeds"}).encode()
BAD_INPUT = [  # role, method, path, body (bytes = raw JSON), status, error code
    ("admin", "POST", "/skills", b'{"id": "x", ', 400, "malformed_json"),
    ("admin", "POST", "/skills", b"[1, 2]", 400, "malformed_json"),
    ("admin", "POST", "/skills", {"name": "No id"}, 422, "invalid"),
    ("admin", "POST", "/skills", {"id": "Bad Id", "name": "X"}, 422, "invalid"),
    ("admin", "POST", "/skills", {"id": "a" * 65, "name": "X"}, 422, "invalid"),
    ("admin", "POST", "/skills", {"id": "x", "name": "X", "colour": "red"}, 422, "invalid"),
    ("admin", "POST", "/skills", {"id": "x", "name": 5}, 422, "invalid"),
    ("admin", "POST", "/skills", {"id": "x", "name": "X", "broader": "nope"}, 422, "invalid"),
    ("admin", "POST", "/skills", {"id": "x", "name": "X", "related": {"nope": 1}}, 422,
     "invalid"),
    ("admin", "POST", "/skills", {"id": "x", "name": "X", "related": {"dementia": 0}}, 422,
     "invalid"),
    ("admin", "POST", "/skills", {"id": "x", "name": "X", "related": {"dementia": -1}}, 422,
     "invalid"),
    ("admin", "POST", "/skills", {"id": "x", "name": "X", "related": {"dementia": "low"}}, 422,
     "invalid"),
    # NaN is not JSON (RFC 8259): refused while parsing
    ("admin", "POST", "/skills", b'{"id": "x", "name": "X", "related": {"dementia": NaN}}', 400,
     "malformed_json"),
    ("admin", "POST", "/skills", {"id": "x", "name": "X", "related": {"x": 1}}, 422, "invalid"),
    ("admin", "POST", "/skills", {"id": "x", "name": "X", "synonyms": "memory"}, 422, "invalid"),
    ("admin", "POST", "/skills", {"id": "x", "name": "X", "synonyms": ["a|b"]}, 422, "invalid"),
    ("admin", "POST", "/skills", {"id": "x", "name": "X", "synonyms": ["rent"],
                                  "keywords": ["rent"]}, 422, "invalid"),
    ("admin", "POST", "/skills", {"id": "dementia", "name": "Dementia"}, 409, "conflict"),
    ("admin", "PATCH", "/skills/dementia", {"broader": "dementia-early-onset"}, 422, "cycle"),
    ("admin", "PATCH", "/skills/health-care", {"broader": "dementia-carers"}, 422, "cycle"),
    ("admin", "PATCH", "/skills/dementia", {"broader": "dementia"}, 422, "cycle"),
    ("admin", "PATCH", "/skills/dementia", {"id": "dementia-2"}, 422, "invalid"),
    ("admin", "PATCH", "/skills/dementia", {"name": ""}, 422, "invalid"),
    # 1e400 is sent as Infinity, which is not JSON either
    ("admin", "PATCH", "/skills/dementia", {"related": {"housing": 1e400}}, 400,
     "malformed_json"),
    ("admin", "PATCH", "/skills/nope", {"name": "Nope"}, 404, "not_found"),
    ("admin", "DELETE", "/skills/housing", None, 409, "conflict"),
    ("admin", "DELETE", "/skills/health-care?force=true", None, 409, "conflict"),
    ("admin", "DELETE", "/skills/benefits?force=maybe", None, 400, "bad_request"),
    ("admin", "POST", "/experts", {"id": "fay", "name": "Fay"}, 422, "invalid"),
    ("admin", "POST", "/experts", {"id": "fay", "name": "Fay", "organisation": "nope"}, 422,
     "invalid"),
    ("admin", "POST", "/experts", {"id": "fay", "name": "Fay", "organisation": "nhs-leeds",
                                   "skills": {"nope": 3}}, 422, "invalid"),
    *[("admin", "POST", "/experts", {"id": "fay", "name": "Fay", "organisation": "nhs-leeds",
                                     "skills": {"dementia": level}}, 422, "invalid")
      for level in (0, 6, "5", True, 2.5, None)],
    ("admin", "POST", "/experts", {"id": "fay", "name": "Fay", "organisation": "nhs-leeds",
                                   "languages": "en"}, 422, "invalid"),
    ("admin", "POST", "/experts", {"id": "fay", "name": "Fay", "organisation": "nhs-leeds",
                                   "languages": ["English"]}, 422, "invalid"),
    ("admin", "POST", "/experts", {"id": "fay", "name": "Fay", "organisation": "nhs-leeds",
                                   "timezone": "Mars/Olympus_Mons"}, 422, "invalid"),
    ("admin", "POST", "/experts", {"id": "fay", "name": "Fay", "organisation": "nhs-leeds",
                                   "contact": {"phone": "0113 496 0000"}}, 422, "invalid"),
    ("admin", "POST", "/experts", {"id": "fay", "name": "Fay", "organisation": "nhs-leeds",
                                   "contact": {"fax": "0113"}}, 422, "invalid"),
    ("admin", "POST", "/experts", {"id": "fay", "name": "Fay", "organisation": "nhs-leeds",
                                   "contact": "fay@example.org"}, 422, "invalid"),
    ("admin", "POST", "/experts", {"id": "fay", "name": "Fay", "organisation": "nhs-leeds",
                                   "active": "yes"}, 422, "invalid"),
    ("admin", "POST", "/experts", {"id": "fay", "name": "F" * 201, "organisation": "nhs-leeds"},
     422, "invalid"),
    ("admin", "POST", "/experts", {"id": "fay smith", "name": "Fay", "organisation": "nhs-leeds"},
     422, "invalid"),
    ("admin", "POST", "/experts", {"id": "ann", "name": "Ann", "organisation": "nhs-leeds"}, 409,
     "conflict"),
    ("admin", "POST", "/experts", BIG, 413, "too_large"),
    ("sup_in", "POST", "/experts", {"id": "fay", "name": "Fay",
                                    "organisation": "cardiff-council"}, 403, "forbidden"),
    ("admin", "PATCH", "/experts/ann", {"organisation": "nope"}, 422, "invalid"),
    ("admin", "PATCH", "/experts/ann", {"skills": {"dementia": 9}}, 422, "invalid"),
    ("admin", "PATCH", "/experts/ann", {"name": "Ann", "skills": {"nope": 1}}, 422, "invalid"),
    ("admin", "PATCH", "/experts/ann", {"id": "anne"}, 422, "invalid"),
    ("admin", "PATCH", "/experts/nope", {"name": "Nope"}, 404, "not_found"),
    ("sup_in", "PATCH", "/experts/ann", {"organisation": "age-uk"}, 403, "forbidden"),
    ("admin", "PUT", "/experts/ann/skills/dementia", {"level": 6}, 422, "invalid"),
    ("admin", "PUT", "/experts/ann/skills/dementia", {"level": "3"}, 422, "invalid"),
    ("admin", "PUT", "/experts/ann/skills/dementia", {}, 422, "invalid"),
    ("admin", "PUT", "/experts/ann/skills/dementia", {"level": 3, "note": "x"}, 422, "invalid"),
    ("admin", "PUT", "/experts/ann/skills/nope", {"level": 3}, 404, "not_found"),
    ("admin", "PUT", "/experts/nope/skills/dementia", {"level": 3}, 404, "not_found"),
    ("admin", "DELETE", "/experts/ann/skills/housing", None, 404, "not_found"),
    ("admin", "POST", "/experts/ann/accreditations", {"name": "enhanced-dbs",
                                                      "expires_on": "31/12/2030"}, 422, "invalid"),
    ("admin", "POST", "/experts/ann/accreditations", {"name": "enhanced-dbs",
                                                      "expires_on": "2030-02-30"}, 422, "invalid"),
    ("admin", "POST", "/experts/ann/accreditations", {"reference": "X1"}, 422, "invalid"),
    ("admin", "POST", "/experts/ann/accreditations", {"name": "Enhanced DBS"}, 422, "invalid"),
    ("admin", "DELETE", "/experts/ann/accreditations/{bryn_dbs}", None, 404, "not_found"),
    ("admin", "DELETE", "/experts/ann/accreditations/first", None, 404, "not_found"),
    ("admin", "POST", "/organisations", "id=hull", 400, "unsupported_media_type"),
    ("admin", "POST", "/organisations", {"id": "hull"}, 422, "invalid"),
    ("admin", "POST", "/organisations", {"id": "Hull!", "name": "Hull"}, 422, "invalid"),
    ("admin", "POST", "/organisations", {"id": "hull", "name": "Hull", "kind": "City Council"},
     422, "invalid"),
    ("admin", "POST", "/organisations", {"id": "age-uk", "name": "Age UK"}, 409, "conflict"),
    ("admin", "PATCH", "/organisations/age-uk", {"id": "age-cymru"}, 422, "invalid"),
    ("admin", "PATCH", "/organisations/nope", {"name": "Nope"}, 404, "not_found"),
    ("admin", "DELETE", "/organisations/nhs-leeds", None, 409, "conflict"),
    ("admin", "POST", "/sharing-agreements", {"org_a": "age-uk", "org_b": "age-uk"}, 422,
     "invalid"),
    ("admin", "POST", "/sharing-agreements", {"org_a": "age-uk", "org_b": "nope"}, 422,
     "invalid"),
    ("admin", "POST", "/sharing-agreements", {"org_a": "nhs-leeds", "org_b": "age-uk"}, 409,
     "conflict"),
    ("admin", "POST", "/sharing-agreements", {"org_a": "nhs-leeds", "org_b": "fife-council",
                                              "starts_on": "2026-05-01",
                                              "ends_on": "2026-04-01"}, 422, "invalid"),
    ("admin", "POST", "/sharing-agreements", {"org_a": "nhs-leeds"}, 422, "invalid"),
    ("admin", "DELETE", "/sharing-agreements/999999", None, 404, "not_found"),
]


@pytest.mark.parametrize("experts", [False, True], ids=["taxonomy-orgs-sharing", "experts"])
async def test_bad_input_is_a_4xx_and_changes_nothing(pool: Pool, experts: bool) -> None:
    before = await pool.dump()
    cases = [c for c in BAD_INPUT if c[2].startswith("/experts") == experts]
    seen = []
    for role, method, template, body, _, _ in cases:
        path = template.format(**pool.ids)
        if isinstance(body, bytes):
            status, answer = await pool.call(role, method, path, data=io.BytesIO(body),
                                             headers={"Content-Type": "application/json"})
        elif isinstance(body, str):  # a form, not JSON
            status, answer = await pool.call(role, method, path, data=body, headers={
                "Content-Type": "application/x-www-form-urlencoded"})
        else:
            status, answer = await pool.call(role, method, path, body)
        seen.append((method, path, status, answer["error"]["code"]))
        assert await pool.dump() == before, (method, path, body)
    assert seen == [(m, p.format(**pool.ids), s, c) for _, m, p, _, s, c in cases]


# -- reading the pool ----------------------------------------------------------------------------

FILTERS = [
    ("skill=dementia", ["ann", "bryn", "cara"]),
    ("skill=dementia&exact=true", ["ann"]),
    ("skill=dementia&min_level=4", ["ann", "bryn"]),
    ("skill=health-care", ["ann", "bryn", "cara", "dev"]),
    ("skill=health-care&exact=true", []),
    ("skill=dementia&org=nhs-leeds", ["ann"]),
    ("skill=dementia&language=pl", ["cara"]),
    ("language=cy", ["bryn"]),
    ("org=fife-council", ["eve"]),
    ("", ["ann", "bryn", "cara", "dev", "eve"]),
    ("skill=nope", 422),
    ("min_level=3", 400),
    ("skill=dementia&min_level=9", 400),
    ("skill=dementia&exact=perhaps", 400),
]


async def test_expert_filters_include_narrower_skills_unless_exact(pool: Pool) -> None:
    seen = []
    for query, _ in FILTERS:
        status, answer = await pool.call("admin", "GET", "/experts?" + query)
        seen.append((query, [e["id"] for e in answer["items"]] if status == 200 else status))
    assert seen == FILTERS


async def test_experts_and_skills_read_as_the_contract_says(pool: Pool) -> None:
    status, ann = await pool.call("expert", "GET", "/experts/ann")
    assert status == 200
    assert ann == {
        "id": "ann", "name": "Ann", "organisation": "nhs-leeds",
        "skills": {"dementia": 5, "dementia-carers": 3}, "languages": ["en"],
        "accreditations": [
            {"id": pool.ids["ann_dbs"], "name": "enhanced-dbs", "reference": "DBS-001",
             "expires_on": (TODAY + timedelta(days=200)).isoformat(), "valid": True},
            {"id": pool.ids["ann_ig"], "name": "ig-training", "reference": "",
             "expires_on": "2020-03-31", "valid": False},
        ],
        "timezone": "Europe/London", "active": True,
        "contact": {"email": "ann@example.org", "phone": ann["contact"]["phone"],
                    "client_identity": "", "sip_address": ""},
        "public_name": "", "public_role": "", "show_organisation": False,
    }
    _, dementia = await pool.call("sup_in", "GET", "/skills/dementia")
    _, carers = await pool.call("sup_in", "GET", "/skills/carers-support")
    assert dementia == {
        "id": "dementia", "name": "Dementia", "description": "", "broader": "health-care",
        "related": {}, "synonyms": ["dementia", "memory loss"],
        "keywords": ["confused", "forgetting", "getting lost"],
        "narrower": ["dementia-carers", "dementia-early-onset"],
    }
    assert carers["related"] == {"dementia-carers": 0.5}  # related is symmetric


async def test_lists_page_through_everything_once(pool: Pool) -> None:
    for path, total in (("/experts", 5), ("/skills", 10), ("/organisations", 5)):
        ids, offset, pages = [], 0, 0
        while offset is not None:
            status, page = await pool.call("admin", "GET", f"{path}?limit=2&offset={offset}")
            assert status == 200 and page["total"] == total and page["limit"] == 2
            ids += [item["id"] for item in page["items"]]
            offset, pages = page["next_offset"], pages + 1
        assert ids == sorted(ids) and len(set(ids)) == total and pages == (total + 1) // 2
        for bad in ("limit=0", "limit=501", "offset=-1", "limit=ten"):
            assert (await pool.call("admin", "GET", f"{path}?{bad}"))[0] == 400


async def test_graph_exports_coverage_and_triage(pool: Pool) -> None:
    _, graph = await pool.call("sup_in", "GET", "/graph")
    assert sorted(n["id"] for n in graph["nodes"]) == sorted(SKILLS)
    resp = await pool.client.get("/api/v1/graph?format=graphml", headers=pool.headers["sup_in"])
    assert resp.content_type == "application/xml" and "<graphml" in await resp.text()
    assert (await pool.call("sup_in", "GET", "/graph?format=png"))[0] == 400
    _, coverage = await pool.call("sup_in", "GET", "/graph/coverage")
    assert {"benefits", "health-care", "housing"} <= set(coverage["uncovered"])  # eve inactive
    fragile = {f["skill_id"] for f in coverage["fragile"]}
    assert "dementia-early-onset" in fragile and "dementia-carers" in fragile
    _, triage = await pool.call("sup_in", "GET", "/triage?text=my+mum+keeps+forgetting+things"
                                                 "+and+getting+lost")
    assert triage["matches"][0]["skill"] == "dementia"
    assert (await pool.call("sup_in", "GET", "/triage?text=+"))[0] == 400


# -- changes: audit and the change feed -----------------------------------------------------------

async def test_every_change_is_audited_with_before_and_after(pool: Pool) -> None:
    await pool.call("sup_in", "PATCH", "/experts/ann", {"name": "Ann Jones", "languages": ["cy"]})
    await pool.call("admin", "PUT", "/experts/ann/skills/housing", {"level": 2})
    await pool.call("admin", "PATCH", "/experts/ann", {"active": True})  # no change: no record
    await pool.call("admin", "PATCH", "/skills/dementia", {"name": "Dementia"})
    await pool.call("admin", "DELETE", "/skills/housing?force=true")
    _, page = await pool.call("admin", "GET", "/audit?entity=expert&entity_id=ann")
    assert [e["action"] for e in page["items"]] == ["set-skill", "update"]
    set_skill, update = page["items"]
    assert update["actor"].startswith("supervisor:")
    assert (update["before"]["name"], update["after"]["name"]) == ("Ann", "Ann Jones")
    assert (update["before"]["languages"], update["after"]["languages"]) == (["en"], ["cy"])
    assert set_skill["after"]["skills"]["housing"] == 2
    _, skills = await pool.call("admin", "GET", "/audit?entity=skill")
    deleted = skills["items"][0]
    assert (deleted["action"], deleted["after"]) == ("delete", None)
    assert deleted["before"]["held_by"] == {"ann": 2, "eve": 3}
    _, ann = await pool.call("admin", "GET", "/experts/ann")
    assert "housing" not in ann["skills"]
    _, everything = await pool.call("admin", "GET", "/audit?limit=1")
    assert everything["total"] == 3 and everything["next_offset"] == 1


async def test_committed_changes_reach_subscribers_and_refresh_the_graph(pool: Pool) -> None:
    heard: list[PoolChange] = []
    pool_watch(pool.client.app).subscribe(heard.append)
    assert (await pool.call("admin", "GET", "/triage?text=rough+sleeping"))[1]["matches"] == []
    await pool.call("sup_in", "PUT", "/experts/dev/skills/housing", {"level": 4})
    await pool.call("admin", "PATCH", "/skills/housing", {"synonyms": ["rough sleeping"]})
    await pool.call("admin", "POST", "/sharing-agreements", {"org_a": "nhs-leeds",
                                                             "org_b": "fife-council"})
    await pool.call("admin", "PATCH", "/skills/dementia", {"broader": "dementia"})  # refused
    assert heard == [PoolChange(experts=frozenset({"dev"})), PoolChange(graph=True),
                     PoolChange(sharing=True)]
    _, triage = await pool.call("admin", "GET", "/triage?text=rough+sleeping")
    assert [m["skill"] for m in triage["matches"]] == ["housing"]


async def test_a_skill_move_keeps_the_taxonomy_a_forest(pool: Pool) -> None:
    status, moved = await pool.call("admin", "PATCH", "/skills/carers-support",
                                    {"broader": "health-care", "related": {}})
    assert status == 200 and moved["broader"] == "health-care" and moved["related"] == {}
    _, carers = await pool.call("admin", "GET", "/skills/dementia-carers")
    assert carers["related"] == {}  # the pair went with it
    _, found = await pool.call("admin", "GET", "/experts?skill=health-care")
    assert [e["id"] for e in found["items"]] == ["ann", "bryn", "cara", "dev"]


def test_pool_watch_says_how_to_fix_a_missing_setup() -> None:
    from aiohttp import web

    with pytest.raises(RuntimeError, match=r"call skills\.wiring\.setup"):
        pool_watch(web.Application())


def test_the_app_registers_the_pool_watch() -> None:
    app = create_app(load_config(None, {}))
    assert "PoolWatch open" in repr(pool_watch(app))


async def test_an_import_tells_subscribers_everything_may_have_changed(pool: Pool) -> None:
    pytest.importorskip("skills.transfer_api")
    heard: list[PoolChange] = []
    pool_watch(pool.client.app).subscribe(heard.append)
    assert (await pool.call("admin", "GET", "/triage?text=autistic"))[1]["matches"] == []
    document = {"version": 1, "skills": [{"id": "autism", "name": "Autism",
                                          "synonyms": ["autistic"]}]}
    status, _ = await pool.call("admin", "POST", "/import", document)
    assert status == 200 and heard == [EVERYTHING]
    _, triage = await pool.call("admin", "GET", "/triage?text=autistic")
    assert [m["skill"] for m in triage["matches"]] == ["autism"]


async def test_concurrent_moves_cannot_close_a_cycle(pool: Pool) -> None:
    answers = await asyncio.gather(
        pool.call("admin", "PATCH", "/skills/housing", {"broader": "benefits"}),
        pool.call("admin", "PATCH", "/skills/benefits", {"broader": "housing"}),
    )
    assert sorted(status for status, _ in answers) == [200, 422]
    _, graph = await pool.call("admin", "GET", "/graph")
    assert len(graph["nodes"]) == len(SKILLS)  # the cached graph is the committed, acyclic one


async def test_a_skill_contacts_wait_for_is_not_deleted_until_they_are_moved(pool: Pool) -> None:
    """Not even with ``?force=true``: the contacts would wait for a skill nobody can hold.
    The refusal changes nothing; once the contact is moved, the delete goes through."""
    from router.context import engine_of

    await engine_of(pool.client.app)._reload_pool(EVERYTHING)
    status, made = await pool.call("admin", "POST", "/contacts",
                                   {"skill": "housing", "external_ref": "CA-housing"})
    assert status == 201 and made["state"] == "queued", made  # eve, who holds it, is inactive
    before = await pool.dump()
    for path in ("/skills/housing", "/skills/housing?force=true"):
        status, refused = await pool.call("admin", "DELETE", path)
        assert status == 409, refused
        error = refused["error"]
        assert error["code"] == "skill_in_use"
        assert error["message"] == ("1 contact is waiting for this skill: move it to another "
                                    "skill first")
        assert error["details"] == {"skill": "housing", "contacts": {"queued": 1}}
    assert await pool.dump() == before
    _, graph = await pool.call("admin", "GET", "/graph")
    assert "housing" in {node["id"] for node in graph["nodes"]}
    status, moved = await pool.call("admin", "POST", f"/contacts/{made['id']}/move",
                                    {"skill": "benefits", "why": "housing is being retired"})
    assert status == 200 and moved["skill"] == "benefits", moved
    status, _ = await pool.call("admin", "DELETE", "/skills/housing?force=true")
    assert status == 204
    assert (await pool.call("admin", "GET", "/skills/housing"))[0] == 404
    status, refused = await pool.call("admin", "DELETE", "/skills/benefits")
    assert status == 409 and refused["error"]["code"] == "skill_in_use"  # the contact's now
