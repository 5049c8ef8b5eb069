"""Import and export of the pool: round trips, plans, every problem with its path or line."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from base import audit
from base.config import Config
from base.db import Database
from base.errors import InvalidInput
from expertline.app import DATABASE, create_app, sessions_of
from expertline.cli import main
from expertline.demo import build_demo_pool
from expertline.schema import database
from skills import transfer, transfer_api
from skills.transfer_check import Existing, check_document
from skills.transfer_csv import COLUMNS, experts_csv, parse_experts_csv
from skills.wiring import pool_watch
from tests.conftest import make_config

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def example_pool() -> dict[str, Any]:
    return json.loads((EXAMPLES / "pool.json").read_text(encoding="utf-8"))


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    async with database(db_url) as db:
        yield db


@pytest.fixture
async def sqlite_db(sqlite_url: str) -> AsyncIterator[Database]:
    async with database(sqlite_url) as db:
        yield db


async def load(db: Database, data: Any, *, replace: bool = False) -> transfer.ImportPlan:
    async with db.transaction() as session:
        plan = await transfer.plan_import(session, data, replace=replace)
        await transfer.apply_import(session, plan, actor="tester")
    return plan


async def exported(db: Database) -> dict[str, Any]:
    async with db.session() as session:
        return await transfer.export_pool(session)


async def audit_entries(db: Database) -> list[audit.AuditEntry]:
    async with db.session() as session:
        return await audit.list_entries(session, limit=10_000)


# -- round trips --------------------------------------------------------------------------------


@pytest.mark.parametrize("source", ["example", "demo"])
async def test_an_export_imported_into_an_empty_database_exports_identically(
    db: Database, source: str
) -> None:
    pool = example_pool() if source == "example" else build_demo_pool(3, 60)
    plan = await load(db, pool)
    assert plan.valid and all(c.action == "create" for c in plan.changes)
    assert await exported(db) == pool
    async with db.session() as session:
        again = await transfer.plan_import(session, await transfer.export_pool(session))
    assert again.valid and again.changes == ()
    assert sum(len(keys) for keys in again.unchanged.values()) == sum(
        len(pool[s]) for s in transfer.ENTITY
    )


async def test_a_plan_lists_creates_updates_and_unchanged_and_audits_each_change(
    sqlite_db: Database,
) -> None:
    await load(sqlite_db, example_pool())
    changed = example_pool()
    changed["experts"][0]["skills"]["dementia"] = 3
    changed["experts"].append(
        {
            "id": "pilot-0009",
            "name": "Nia Rees",
            "organisation": "bi-eryri-dyfi",
            "skills": {"dementia": 2},
        }
    )
    changed["organisations"][1]["name"] = "Royal Borough of Kingsmere"
    async with sqlite_db.transaction() as session:
        plan = await transfer.plan_import(session, changed)
        assert plan.keys("experts", "update") == ["pilot-0001"]
        assert plan.keys("experts", "create") == ["pilot-0009"]
        assert plan.keys("experts", "unchanged") == ["pilot-0002", "pilot-0003", "pilot-0004"]
        assert plan.keys("organisations", "update") == ["kingsmere-council"]
        assert plan.keys("skills", "unchanged") == [s["id"] for s in changed["skills"]]
        assert "experts: create 1 (pilot-0009); update 1 (pilot-0001); 3 unchanged" in (
            plan.summary()
        )
        await transfer.apply_import(session, plan, actor="tester")
    entries = [e for e in await audit_entries(sqlite_db) if e.before is not None]
    assert {(e.entity, e.entity_id) for e in entries} == {
        ("expert", "pilot-0001"),
        ("organisation", "kingsmere-council"),
    }
    update = next(e for e in entries if e.entity == "expert")
    assert (update.before["skills"]["dementia"], update.after["skills"]["dementia"]) == (5, 3)
    new = next(e for e in await audit_entries(sqlite_db) if e.entity_id == "pilot-0009")
    assert new.before is None and new.after["languages"] == [] and new.actor == "tester"


async def test_an_upsert_keeps_the_fields_a_record_leaves_out(sqlite_db: Database) -> None:
    await load(sqlite_db, example_pool())
    await load(
        sqlite_db,
        {
            "version": 1,
            "experts": [
                {
                    "id": "pilot-0002",
                    "name": "Chidi Okafor",
                    "organisation": "kingsmere-council",
                    "skills": {"safeguarding-adults": 5},
                    "accreditations": [{"name": "enhanced-dbs", "expires_on": "2026-05-31"}],
                }
            ],
        },
    )
    expert = next(e for e in (await exported(sqlite_db))["experts"] if e["id"] == "pilot-0002")
    assert expert["skills"] == {"safeguarding-adults": 5}
    assert expert["client_identity"] == "desk-pilot-0002"
    assert expert["email"] == "chidi.okafor@kingsmere.gov.example"
    assert expert["accreditations"] == [
        {"name": "enhanced-dbs", "expires_on": "2026-05-31", "reference": "001234567890"}
    ]


async def test_import_deletes_only_with_replace(db: Database) -> None:
    await load(db, example_pool())
    smaller = example_pool()
    smaller["experts"] = smaller["experts"][:2]
    smaller["sharing_agreements"] = []
    plan = await load(db, smaller)
    assert plan.changes == () and len((await exported(db))["experts"]) == 4
    plan = await load(
        db, {"version": 1, "experts": smaller["experts"], "sharing_agreements": []}, replace=True
    )
    assert {(c.section, c.key) for c in plan.changes} == {
        ("experts", "pilot-0003"),
        ("experts", "pilot-0004"),
        ("sharing_agreements", "kingsmere-council/memory-lane-alliance"),
    }
    after = await exported(db)
    assert [e["id"] for e in after["experts"]] == ["pilot-0001", "pilot-0002"]
    assert after["sharing_agreements"] == [] and len(after["skills"]) == 10


async def test_replace_refuses_to_strand_what_the_document_leaves_out(sqlite_db: Database) -> None:
    await load(sqlite_db, example_pool())
    only_orgs = {"version": 1, "organisations": example_pool()["organisations"][:1]}
    async with sqlite_db.session() as session:
        plan = await transfer.plan_import(session, only_orgs, replace=True)
    assert not plan.valid
    assert [str(p) for p in plan.problems] == [
        "organisations: replace would delete 'kingsmere-council', which 1 experts still use "
        "(pilot-0002); include them in the import or keep 'kingsmere-council'",
        "organisations: replace would delete 'memory-lane-alliance', which 2 experts still use "
        "(pilot-0003, pilot-0004); include them in the import or keep 'memory-lane-alliance'",
        "organisations: replace would delete 'kingsmere-council', which 1 sharing agreements "
        "still use (kingsmere-council/memory-lane-alliance); include them in the import or keep "
        "'kingsmere-council'",
        "organisations: replace would delete 'memory-lane-alliance', which 1 sharing agreements "
        "still use (kingsmere-council/memory-lane-alliance); include them in the import or keep "
        "'memory-lane-alliance'",
    ]
    with pytest.raises(InvalidInput):
        async with sqlite_db.transaction() as session:
            await transfer.apply_import(session, plan, actor="tester")
    assert await exported(sqlite_db) == example_pool()


# -- validation ---------------------------------------------------------------------------------


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A mutation: set the value at a dotted path (``experts.0.skills.dementia``)."""
    *parents, last = path.split(".")

    def mutate(doc: dict[str, Any]) -> None:
        node: Any = doc
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return mutate


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    *parents, last = path.split(".")

    def mutate(doc: dict[str, Any]) -> None:
        node: Any = doc
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        del node[last]

    return mutate


def _append(section: str, index: int) -> Callable[[dict[str, Any]], None]:
    def mutate(doc: dict[str, Any]) -> None:
        doc[section].append(copy.deepcopy(doc[section][index]))

    return mutate


def _add(section: str, rec: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    def mutate(doc: dict[str, Any]) -> None:
        doc[section].append(rec)

    return mutate


BAD_DOCUMENTS = [
    (_set("experts.0.skills.dementia", 7), "experts[0].skills.dementia: level 7 is not 1..5"),
    (
        _set("experts.0.skills.dementia", "high"),
        "experts[0].skills.dementia: level must be a whole number 1..5, got 'high'",
    ),
    (_set("experts.1.skills.dementa", 3), "experts[1].skills.dementa: unknown skill 'dementa'"),
    (
        _set("experts.2.organisation", "nowhere"),
        "experts[2].organisation: unknown organisation 'nowhere'",
    ),
    (
        _set("experts.0.accreditations.0.expires_on", "2027-02-30"),
        "experts[0].accreditations[0].expires_on: '2027-02-30' is not a date YYYY-MM-DD",
    ),
    (
        _set("experts.0.timezone", "Europe/Cardiff"),
        "experts[0].timezone: 'Europe/Cardiff' is not an IANA time zone (e.g. Europe/London)",
    ),
    (
        _set("experts.0.phone", "07700 900123"),
        "experts[0].phone: '07700 900123' is not an E.164 phone number (+447700900123)",
    ),
    (_set("experts.0.languages", "en"), "experts[0].languages: must be a list, got a string"),
    (_set("experts.3.name", 42), "experts[3].name: must be a string, got a number"),
    (_drop("experts.3.name"), "experts[3].name: required"),
    (_set("experts.0.active", "yes"), "experts[0].active: must be true or false, got a string"),
    (
        _set("experts.0.shoe_size", 9),
        "experts[0].shoe_size: unknown field (expected one of id, "
        "name, organisation, email, phone, client_identity, sip_address, timezone, active, "
        "languages, skills, accreditations)",
    ),
    (_append("experts", 1), "experts[4].id: duplicate 'pilot-0002' (first at experts[1])"),
    (
        _add("skills", {"id": "Memory Clinic", "name": "Memory clinic"}),
        "skills[10].id: 'Memory Clinic' is not a slug (lower-case letters, digits and single "
        "hyphens)",
    ),
    (
        _set("skills.2.broader", "young-onset-dementia"),
        "skills[2].broader: the taxonomy would have a cycle: dementia > young-onset-dementia > "
        "dementia",
    ),
    (
        _set("skills.2.broader", "dementia"),
        "skills[2].broader: a skill cannot be broader than itself",
    ),
    (_set("skills.3.related.nope", 0.5), "skills[3].related.nope: unknown skill 'nope'"),
    (
        _set("skills.3.related.carers-support", 0),
        "skills[3].related.carers-support: cost must be a number above 0 and at most 100, got 0",
    ),
    (
        _set("skills.1.related.dementia", 0.4),
        "skills[1].related.dementia: carers-support <-> dementia is also declared by dementia with "
        "cost 1; declare a pair once, or with one cost",
    ),
    (
        _set("skills.3.keywords", ["memory | loss"]),
        "skills[3].keywords[0]: 'memory | loss' is not a phrase without '|'",
    ),
    (
        _set("sharing_agreements.0.org_b", "kingsmere-council"),
        "sharing_agreements[0].org_b: an organisation needs no agreement with itself",
    ),
    (
        _set("sharing_agreements.0.ends_on", "2020-01-01"),
        "sharing_agreements[0].ends_on: 2020-01-01 is before starts_on 2025-04-01",
    ),
    (_set("organisations.0.kind", ""), "organisations[0].kind: must not be empty"),
    (_drop("version"), "version: required (this reader understands version 1)"),
    (
        _set("staff", []),
        "staff: unknown section (expected organisations, skills, experts, sharing_agreements)",
    ),
    (_set("experts", {}), "experts: must be a list, got an object"),
]


@pytest.mark.parametrize(
    ("mutate", "expected"), BAD_DOCUMENTS, ids=[e.split(":")[0] for _m, e in BAD_DOCUMENTS]
)
def test_each_problem_is_reported_with_its_path(
    mutate: Callable[[dict], None], expected: str
) -> None:
    doc = example_pool()
    mutate(doc)
    assert [str(p) for p in check_document(doc).problems] == [expected]


def test_every_problem_is_reported_at_once() -> None:
    doc = example_pool()
    chosen = [BAD_DOCUMENTS[i] for i in (1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13)]
    for mutate, _expected in chosen:
        mutate(doc)
    checked = check_document(doc)
    assert sorted(str(p) for p in checked.problems) == sorted(e for _m, e in chosen)
    assert [i for i, _rec in checked.records["experts"]] == []


def test_references_may_name_what_the_database_already_holds() -> None:
    doc = {
        "version": 1,
        "experts": [
            {"id": "x-1", "name": "Ann Lee", "organisation": "org-a", "skills": {"dementia": 3}}
        ],
    }
    held = Existing(ids={"organisations": frozenset({"org-a"}), "skills": frozenset({"dementia"})})
    assert check_document(doc, held).problems == ()
    assert check_document(doc, held, replace=True).problems == ()
    assert [str(p) for p in check_document(doc).problems] == [
        "experts[0].organisation: unknown organisation 'org-a'",
        "experts[0].skills.dementia: unknown skill 'dementia'",
    ]


@settings(max_examples=60, deadline=None)
@given(level=st.integers().filter(lambda n: not 1 <= n <= 5), index=st.integers(0, 3))
def test_any_level_outside_1_to_5_is_refused_at_its_path(level: int, index: int) -> None:
    doc = example_pool()
    doc["experts"][index]["skills"]["dementia"] = level
    problems = [str(p) for p in check_document(doc).problems]
    assert problems == [f"experts[{index}].skills.dementia: level {level} is not 1..5"]


# -- CSV ----------------------------------------------------------------------------------------

HEADER = ",".join(COLUMNS)
GOOD = "e-1,Ann Lee,org-a,ann@x.example,+447700900001,Europe/London,en;cy,dementia:4,ig-training"

BAD_CSV = [
    (
        f"{HEADER}\n{GOOD}\ne-2,Bo,org-a,,,Europe/London,en,dementia:x,\n",
        ["line 3, skills: 'dementia:x': level must be a whole number 1..5"],
    ),
    (f"{HEADER}\n{GOOD}\n\ne-3,Cy,org-a,,,\n", ["line 4: expected 9 columns, found 6"]),
    (f"{HEADER}\n{GOOD}\n{GOOD}\n", ["line 3, id: duplicate id 'e-1' (first on line 2)"]),
    (
        f"{HEADER}\n{GOOD}\ne-4,Di,org-a,,,,,dementia,\n",
        ["line 3, skills: 'dementia' is not skill:level (e.g. dementia:4)"],
    ),
    (
        f"{HEADER}\n{GOOD}\ne-5,Ed,org-a,,,,,dementia:2;dementia:3,\n",
        ["line 3, skills: skill 'dementia' is listed twice"],
    ),
    (
        f'{HEADER}\n"e-6","Fay\nSmith",org-a,,,,,dementia:2,\ne-7,G,org-a,,,,,x:1,:2027-01-01\n',
        ["line 4, accreditations: ':2027-01-01' is not name:YYYY-MM-DD"],
    ),
    (
        "id,name,team\ne-1,Ann,x\n",
        [
            "line 1: unknown column 'team' (expected id, name, "
            "organisation, email, phone, timezone, languages, skills, "
            "accreditations)",
            "line 1: required column 'organisation' is missing",
        ],
    ),
    ("", ["line 1: the header is missing; expected " + HEADER]),
]


@pytest.mark.parametrize(("text", "expected"), BAD_CSV)
def test_bad_csv_rows_are_reported_with_their_line_numbers(text: str, expected: list[str]) -> None:
    _rows, problems = parse_experts_csv(text)
    assert [str(p) for p in problems] == expected


def test_csv_rows_parse_into_expert_records() -> None:
    rows, problems = parse_experts_csv((EXAMPLES / "experts.csv").read_text(encoding="utf-8"))
    assert problems == [] and [r.line for r in rows] == [2, 3, 4, 5]
    assert rows[2].expert == {
        "id": "hr-1003",
        "name": "O'Neill, Niamh",
        "organisation": "memory-lane-alliance",
        "email": "niamh.oneill@memorylane.org.example",
        "phone": "",
        "timezone": "Australia/Sydney",
        "languages": ["en"],
        "skills": {"dementia": 3},
        "accreditations": [{"name": "ig-training", "expires_on": "2026-09-30"}],
    }
    assert rows[3].expert["accreditations"] == [] and rows[3].expert["email"] == ""


def _csv_view(expert: dict[str, Any]) -> dict[str, Any]:
    """What the CSV carries of an expert."""
    keep = {k: expert[k] for k in COLUMNS}
    keep["accreditations"] = [
        {"name": a["name"], "expires_on": a["expires_on"]} for a in expert["accreditations"]
    ]
    return keep


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 40))
def test_experts_written_as_csv_read_back_the_same(seed: int, n: int) -> None:
    experts = build_demo_pool(seed, n)["experts"]
    rows, problems = parse_experts_csv(experts_csv(experts))
    assert problems == []
    assert [r.expert for r in rows] == [_csv_view(e) for e in experts]


async def test_csv_import_names_the_line_of_each_unknown_reference(sqlite_db: Database) -> None:
    await load(sqlite_db, example_pool())
    text = (
        f"{HEADER}\n"
        "e-1,Ann Lee,kingsmere-council,,,Europe/London,en,dementia:4,\n"
        "e-2,Bo Ng,kingsmere-council,,,Europe/London,en,memory:4;dementia:9,\n"
        "e-3,,kingsmere-council,,,Mars/Olympus,en,dementia:4,enhanced-dbs:2027-13-01\n"
        "e-4,Di,atlantis,,,,en,dementia:4,\n"
    )
    async with sqlite_db.session() as session:
        plan = await transfer.plan_experts_csv(session, text)
    assert [str(p) for p in plan.problems] == [
        "line 3, skills.dementia: level 9 is not 1..5",
        "line 4, name: required",
        "line 4, timezone: 'Mars/Olympus' is not an IANA time zone (e.g. Europe/London)",
        "line 4, accreditations[0].expires_on: '2027-13-01' is not a date YYYY-MM-DD",
        "line 5, organisation: unknown organisation 'atlantis'",
    ]
    assert plan.keys("experts", "create") == ["e-1"]


async def test_exported_csv_imports_as_unchanged(db: Database) -> None:
    await load(db, example_pool())
    async with db.transaction() as session:
        plan = await transfer.plan_experts_csv(
            session, (EXAMPLES / "experts.csv").read_text(encoding="utf-8")
        )
        assert plan.valid and plan.keys("experts", "create") == [
            "hr-1001",
            "hr-1002",
            "hr-1003",
            "hr-1004",
        ]
        await transfer.apply_import(session, plan, actor="tester")
    before = await exported(db)
    async with db.session() as session:
        text = await transfer.export_experts_csv(session)
        plan = await transfer.plan_experts_csv(session, text)
    assert plan.valid and plan.changes == () and len(plan.unchanged["experts"]) == 8
    assert text.splitlines()[0] == HEADER
    assert await exported(db) == before


# -- CLI ----------------------------------------------------------------------------------------


def _cli(monkeypatch: pytest.MonkeyPatch, url: str, *argv: str) -> int:
    monkeypatch.setenv("EXPERTLINE_DATABASE_URL", url)
    return main(list(argv))


def test_cli_imports_exports_and_dry_runs(
    monkeypatch: pytest.MonkeyPatch,
    sqlite_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pool = str(EXAMPLES / "pool.json")
    assert _cli(monkeypatch, sqlite_url, "import", pool, "--dry-run") == 0
    assert "Dry run, nothing was written: 18 changes" in capsys.readouterr().out
    assert _cli(monkeypatch, sqlite_url, "export", "-o", str(tmp_path / "empty.json")) == 0
    assert json.loads((tmp_path / "empty.json").read_text())["experts"] == []

    assert _cli(monkeypatch, sqlite_url, "import", pool) == 0
    assert "experts: create 4 (pilot-0001, pilot-0002, pilot-0003, pilot-0004)" in (
        capsys.readouterr().out
    )
    assert _cli(monkeypatch, sqlite_url, "export", "--output", str(tmp_path / "out.json")) == 0
    assert json.loads((tmp_path / "out.json").read_text()) == example_pool()
    assert _cli(monkeypatch, sqlite_url, "import", str(EXAMPLES / "experts.csv")) == 0
    capsys.readouterr()
    assert _cli(monkeypatch, sqlite_url, "export", "--format", "csv") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == HEADER and len(lines) == 9


def test_cli_refuses_bad_input_with_every_problem(
    monkeypatch: pytest.MonkeyPatch,
    sqlite_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(f"{HEADER}\n{GOOD}\ne-2,Bo,org-a,,,,en,dementia:7\n", encoding="utf-8")
    assert _cli(monkeypatch, sqlite_url, "import", str(bad)) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"expertline: error: {bad}: 3 problems found; nothing was changed",
        "  line 2, organisation: unknown organisation 'org-a'",
        "  line 2, skills.dementia: unknown skill 'dementia'",
        "  line 3: expected 9 columns, found 8",
    ]
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    assert _cli(monkeypatch, sqlite_url, "import", str(broken)) == 2
    assert capsys.readouterr().err.startswith(f"expertline: error: {broken} is not valid JSON")
    assert _cli(monkeypatch, sqlite_url, "import", str(tmp_path / "missing.json")) == 2
    assert "cannot read" in capsys.readouterr().err
    assert _cli(monkeypatch, sqlite_url, "export", "--format", "csv") == 0
    assert capsys.readouterr().out == HEADER + "\n"


# -- HTTP ---------------------------------------------------------------------------------------


@pytest.fixture
def config(sqlite_url: str, tmp_path: Path) -> Config:
    """The API tests run on SQLite; the round trips above cover both databases."""
    return make_config(sqlite_url, tmp_path)


@pytest.fixture
async def client(
    aiohttp_client: Callable[..., Awaitable[TestClient]], config: Config
) -> TestClient:
    """The real app; ``skills.wiring.setup`` adds the transfer routes once the pool API lands."""
    app = create_app(config)
    paths = {getattr(r.resource, "canonical", None) for r in app.router.routes()}
    if "/api/v1/import" not in paths:
        transfer_api.add_routes(app, sessions=sessions_of(app))
    test_client = await aiohttp_client(app)
    await load(app[DATABASE], example_pool())
    return test_client


async def test_api_export_by_role(client: TestClient, auth: Any) -> None:
    admin = await auth("admin")
    resp = await client.get("/api/v1/export", headers=admin)
    assert resp.status == 200 and await resp.json() == example_pool()
    resp = await client.get("/api/v1/export?format=csv", headers=admin)
    assert resp.status == 200 and resp.content_type == "text/csv"
    assert len((await resp.text()).splitlines()) == 5

    supervisor = await auth("supervisor", orgs={"memory-lane-alliance"})
    resp = await client.get("/api/v1/export?format=csv", headers=supervisor)
    rows, _ = parse_experts_csv(await resp.text())
    assert resp.status == 200 and [r.expert["id"] for r in rows] == ["pilot-0003", "pilot-0004"]
    for headers, url, status in (
        (supervisor, "/api/v1/export", 403),
        (await auth("expert", expert="pilot-0001"), "/api/v1/export?format=csv", 403),
        (admin, "/api/v1/export?format=xml", 400),
    ):
        resp = await client.get(url, headers=headers)
        assert resp.status == status, url


async def test_api_import_dry_run_writes_nothing_and_apply_writes(
    client: TestClient, auth: Any
) -> None:
    admin = await auth("admin")
    doc = example_pool()
    doc["experts"][0]["skills"]["dementia"] = 4
    entries = len(await audit_entries(client.app[DATABASE]))
    resp = await client.post("/api/v1/import?dry_run=true", json=doc, headers=admin)
    body = await resp.json()
    assert resp.status == 200 and body["dry_run"] and not body["applied"]
    assert body["changes"]["experts"]["update"] == ["pilot-0001"]
    assert await exported(client.app[DATABASE]) == example_pool()
    assert len(await audit_entries(client.app[DATABASE])) == entries

    resp = await client.post("/api/v1/import", json=doc, headers=admin)
    assert resp.status == 200 and (await resp.json())["applied"]
    assert await exported(client.app[DATABASE]) == doc
    assert len(await audit_entries(client.app[DATABASE])) == entries + 1

    graph = await client.get("/api/v1/graph", headers=admin)  # the pool API caches the graph
    assert graph.status == 200 and "memory-cafe" not in await graph.text()
    doc["skills"].append({"id": "memory-cafe", "name": "Memory cafés", "broader": "dementia"})
    resp = await client.post("/api/v1/import", json=doc, headers=admin)
    assert resp.status == 200 and (await resp.json())["changes"]["skills"]["create"] == [
        "memory-cafe"
    ]
    graph = await client.get("/api/v1/graph", headers=admin)
    assert "memory-cafe" in await graph.text()

    csv_text = (EXAMPLES / "experts.csv").read_text(encoding="utf-8")
    resp = await client.post(
        "/api/v1/import", data=csv_text.encode(), headers={**admin, "Content-Type": "text/csv"}
    )
    assert resp.status == 200
    assert (await resp.json())["changes"]["experts"]["create"] == [
        "hr-1001",
        "hr-1002",
        "hr-1003",
        "hr-1004",
    ]


async def test_an_import_queues_behind_a_skill_edit_in_progress(
    client: TestClient, auth: Any
) -> None:
    """A skill edit holds the taxonomy lock across its transaction and the publish of the
    graph it built; an import made meanwhile waits for it, so the graph cached after both
    holds the imported skill (unqueued, the edit's older graph could be cached last)."""
    admin = await auth("admin")
    lock = client.app[transfer_api.TRANSFER].lock
    assert lock is pool_watch(client.app).taxonomy_lock  # the one skill edits hold
    doc = example_pool()
    doc["skills"].append({"id": "memory-cafe", "name": "Memory cafés", "broader": "dementia"})
    async with lock:  # a skill edit in progress
        posting = asyncio.ensure_future(client.post("/api/v1/import", json=doc, headers=admin))
        done, _ = await asyncio.wait({posting}, timeout=0.5)
        assert not done  # queued: nothing written while the edit runs
        assert await exported(client.app[DATABASE]) == example_pool()
    resp = await posting
    assert resp.status == 200 and (await resp.json())["applied"]
    graph = await client.get("/api/v1/graph", headers=admin)
    assert "memory-cafe" in await graph.text()


async def test_api_import_refuses_other_roles_and_lists_every_problem(
    client: TestClient, auth: Any
) -> None:
    for headers in (
        await auth("supervisor", orgs={"kingsmere-council"}),
        await auth("expert", expert="pilot-0002"),
    ):
        resp = await client.post("/api/v1/import", json=example_pool(), headers=headers)
        assert resp.status == 403
    doc = example_pool()
    doc["experts"][1]["skills"]["dementia"] = 7
    doc["experts"][2]["organisation"] = "nowhere"
    resp = await client.post("/api/v1/import?dry_run=true", json=doc, headers=await auth("admin"))
    body = await resp.json()
    assert resp.status == 422
    assert body["error"]["message"] == "2 problems found; nothing was changed"
    assert body["error"]["details"]["problems"] == [
        "experts[1].skills.dementia: level 7 is not 1..5",
        "experts[2].organisation: unknown organisation 'nowhere'",
    ]
    resp = await client.post(
        "/api/v1/import?format=csv",
        data=b"id,name\n1,x,y\n",
        headers={**await auth("admin"), "Content-Type": "text/csv"},
    )
    assert resp.status == 422
    assert (await resp.json())["error"]["details"]["problems"] == [
        "line 1: required column 'organisation' is missing"
    ]
    assert await exported(client.app[DATABASE]) == example_pool()
