"""The scheduler API on the real app and database: shift CRUD, roles, bad input, the WTR
override flow, the rota, scheduled callbacks; audited; a refused request changes nothing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

import scheduler.wiring
from base.access import Role
from base.audit import list_entries
from base.config import Config
from expertline.app import DATABASE, create_app, sessions_of
from expertline.auth import issue_token
from router.tables import ContactRow
from skills.models import Expert, Organisation, Skill
from tests.telephony_support import FakeRouting

NOW = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
WEEKDAYS = {"kind": "weekly", "days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00",
            "end": "17:00", "breaks": [{"at": "12:30", "minutes": 30}]}
NO_BREAK = {"kind": "weekly", "days": ["sat"], "start": "08:00", "end": "16:00"}


@pytest.fixture
async def app_client(aiohttp_client: Callable[..., Awaitable[TestClient]],
                     config: Config) -> TestClient:
    app = create_app(config)
    routing = FakeRouting()
    scheduler.wiring.setup(app, sessions=sessions_of(app), config=config, availability=lambda: None,
                    routing=lambda: routing, clock=lambda: NOW)
    client = await aiohttp_client(app)
    async with client.app[DATABASE].transaction() as session:
        session.add_all([Organisation(id="nhs-a", name="A"), Organisation(id="nhs-b", name="B"),
                         Skill(id="dementia", name="Dementia")])
        await session.flush()
        session.add_all([Expert(id="ann", name="Ann", org_id="nhs-a"),
                         Expert(id="bob", name="Bob", org_id="nhs-b",
                                timezone="Europe/Madrid")])
    return client


async def _headers(client: TestClient, role: str, **scope: object) -> dict[str, str]:
    async with client.app[DATABASE].transaction() as session:
        token, _ = await issue_token(session, role=Role(role), **scope)  # type: ignore[arg-type]
    return {"Authorization": f"Bearer {token}"}


async def test_shift_crud_roles_and_audit(app_client: TestClient) -> None:
    admin = await _headers(app_client, "admin")
    sup_a = await _headers(app_client, "supervisor", orgs=frozenset({"nhs-a"}))
    ann = await _headers(app_client, "expert", expert_id="ann")
    url = "/api/v1/experts/ann/shifts"
    assert (await app_client.post(url, json=WEEKDAYS, headers=ann)).status == 403
    assert (await app_client.post("/api/v1/experts/bob/shifts", json=WEEKDAYS,
                                  headers=sup_a)).status == 403
    created = await app_client.post(url, json=WEEKDAYS, headers=sup_a)
    assert created.status == 201
    shift = await created.json()
    assert shift["pattern"]["tz"] == "Europe/London" and shift["pattern"]["start"] == "09:00"
    listed = await (await app_client.get(url, headers=ann)).json()
    assert [s["id"] for s in listed["items"]] == [shift["id"]]
    assert (await app_client.get("/api/v1/experts/bob/shifts", headers=ann)).status == 403
    assert (await app_client.get("/api/v1/experts/bob/shifts", headers=sup_a)).status == 404
    patched = await app_client.patch(f"/api/v1/shifts/{shift['id']}", json={"end": "16:00"},
                                     headers=sup_a)
    assert patched.status == 200 and (await patched.json())["pattern"]["end"] == "16:00"
    rota = await (await app_client.get(url.replace("shifts", "rota") +
                                       "?from=2026-12-07&to=2026-12-13", headers=ann)).json()
    assert len(rota["shifts"]) == 5 and rota["shifts"][0]["start"] == "2026-12-07T09:00:00+00:00"
    assert (await app_client.delete(f"/api/v1/shifts/{shift['id']}", headers=admin)).status == 204
    async with app_client.app[DATABASE].session() as session:
        actions = [(e.action, e.entity) for e in await list_entries(session)]
    assert actions[:3] == [("delete", "shift_pattern"), ("update", "shift_pattern"),
                           ("create", "shift_pattern")]


async def test_a_supervisor_reads_only_their_organisations_experts_shifts_and_rota(
        app_client: TestClient) -> None:
    """Another organisation's expert's shifts and rota are a 404, as the expert is (and as an
    unknown one is); an expert reads only their own (another's: 403); an admin reads all."""
    admin = await _headers(app_client, "admin")
    for expert in ("ann", "bob"):
        made = await app_client.post(f"/api/v1/experts/{expert}/shifts", json=WEEKDAYS,
                                     headers=admin)
        assert made.status == 201
    who = {"admin": admin,
           "sup_a": await _headers(app_client, "supervisor", orgs=frozenset({"nhs-a"})),
           "sup_b": await _headers(app_client, "supervisor", orgs=frozenset({"nhs-b"})),
           "sup_ab": await _headers(app_client, "supervisor",
                                    orgs=frozenset({"nhs-a", "nhs-b"})),
           "ann": await _headers(app_client, "expert", expert_id="ann")}
    expected = {  # caller: (ann's, bob's, nobody's)
        "admin": (200, 200, 404), "sup_a": (200, 404, 404), "sup_b": (404, 200, 404),
        "sup_ab": (200, 200, 404), "ann": (200, 403, 403)}
    for caller, statuses in expected.items():
        for expert, status in zip(("ann", "bob", "nobody"), statuses, strict=True):
            for url in (f"/api/v1/experts/{expert}/shifts",
                        f"/api/v1/experts/{expert}/rota?from=2026-12-07&to=2026-12-13"):
                resp = await app_client.get(url, headers=who[caller])
                body = await resp.json()
                assert resp.status == status, (caller, url, body)
                if status == 200:
                    assert body.get("items", body.get("shifts"))  # the shifts themselves
                else:
                    assert "items" not in body and "shifts" not in body
    hidden = await (await app_client.get("/api/v1/experts/bob/shifts",
                                         headers=who["sup_a"])).json()
    assert hidden["error"]["message"] == "no expert 'bob'"  # as an unknown one: nothing told
    seen = await app_client.get("/api/v1/experts/bob", headers=who["sup_a"])
    assert seen.status == 404  # the expert's profile agrees


async def test_a_supervisor_lists_the_national_lines_and_their_own_lines_callbacks(
        app_client: TestClient) -> None:
    sched = scheduler.wiring.scheduler_of(app_client.app)
    due = datetime(2026, 12, 7, 9, 0, tzinfo=UTC).timestamp()
    ids = {org: await sched.book_callback(number="+447700900123", skill="dementia",
                                          language="en", due_at=due, org=org, ref=f"CA-{org}")
           for org in ("nhs-a", "nhs-b", None)}
    for caller, seen in ((await _headers(app_client, "admin"), {"nhs-a", "nhs-b", None}),
                         (await _headers(app_client, "supervisor", orgs=frozenset({"nhs-a"})),
                          {"nhs-a", None}),
                         (await _headers(app_client, "supervisor", orgs=frozenset({"nhs-b"})),
                          {"nhs-b", None})):
        listed = await (await app_client.get("/api/v1/callbacks", headers=caller)).json()
        assert {c["id"] for c in listed["items"]} == {ids[org] for org in seen}


@pytest.mark.parametrize("body", [
    {"kind": "weekly", "days": ["mon"], "start": "09:00"},
    {"kind": "weekly", "days": ["funday"], "start": "09:00", "end": "17:00"},
    {"kind": "fortnightly"},
    {**WEEKDAYS, "colour": "blue"},
    {"kind": "cycle", "preset": "5-on-1-off", "anchor": "2026-12-01", "times": {}},
])
async def test_bad_patterns_are_refused_and_change_nothing(app_client: TestClient,
                                                           body: dict) -> None:
    admin = await _headers(app_client, "admin")
    response = await app_client.post("/api/v1/experts/ann/shifts", json=body, headers=admin)
    assert response.status == 422 and "error" in await response.json()
    listed = await (await app_client.get("/api/v1/experts/ann/shifts", headers=admin)).json()
    assert listed["items"] == []


async def test_a_violating_rota_needs_an_audited_override(app_client: TestClient) -> None:
    admin = await _headers(app_client, "admin")
    url = "/api/v1/experts/ann/shifts"
    refused = await app_client.post(url, json=NO_BREAK, headers=admin)
    body = await refused.json()
    assert refused.status == 409 and body["error"]["code"] == "wtr_violation"
    (rule,) = {v["rule"] for v in body["error"]["details"]["violations"]}
    assert rule == "rest_break" and body["error"]["details"]["violations"][0]["shifts"]
    assert (await app_client.post(url, json={**NO_BREAK, "override": True},
                                  headers=admin)).status == 422
    saved = await app_client.post(url, json={**NO_BREAK, "override": True,
                                             "override_reason": "agreed with staff rep"},
                                  headers=admin)
    assert saved.status == 201 and (await saved.json())["wtr_override"] is True
    async with app_client.app[DATABASE].session() as session:
        (entry,) = await list_entries(session, entity="shift_pattern")
    assert entry.after is not None and entry.after["waived"] == ["rest_break"]


async def test_scheduled_callbacks_are_created_listed_and_submitted(
        app_client: TestClient) -> None:
    sup = await _headers(app_client, "supervisor", orgs=frozenset({"nhs-a"}))
    ann = await _headers(app_client, "expert", expert_id="ann")
    body = {"number": "+447700900123", "skill": "dementia", "due_at": "2026-12-07T08:30:00Z"}
    assert (await app_client.post("/api/v1/callbacks", json=body, headers=ann)).status == 403
    for bad in ({**body, "number": "0113 496 0000"}, {**body, "skill": "nope"},
                {**body, "due_at": "2026-12-06T08:00:00Z"}, {**body, "due_at": "tomorrow"}):
        assert (await app_client.post("/api/v1/callbacks", json=bad, headers=sup)).status == 422
    created = await app_client.post("/api/v1/callbacks", json=body, headers=sup)
    assert created.status == 201
    listed = await (await app_client.get("/api/v1/callbacks", headers=sup)).json()
    assert [c["state"] for c in listed["items"]] == ["pending"]
    async with app_client.app[DATABASE].session() as session:
        (entry,) = await list_entries(session, entity="scheduled_callback")
    assert entry.after is not None and "900123" not in entry.after["number"]


def test_scheduler_of_an_app_without_setup_says_how_to_fix_it() -> None:
    with pytest.raises(RuntimeError, match=r"scheduler\.wiring\.setup"):
        scheduler.wiring.scheduler_of(web.Application())


async def test_coverage_route_refuses_bad_input_and_answers_cells(app_client: TestClient) -> None:
    sup = await _headers(app_client, "supervisor", orgs=frozenset({"nhs-a"}))
    ann = await _headers(app_client, "expert", expert_id="ann")
    url = "/api/v1/coverage?from=2026-12-08&to=2026-12-08"
    assert (await app_client.get(url, headers=ann)).status == 403
    assert (await app_client.get(url + "&skill=nope", headers=sup)).status == 422
    assert (await app_client.get("/api/v1/coverage?from=x&to=y", headers=sup)).status == 400
    assert (await app_client.get("/api/v1/coverage?from=2026-12-08&to=2026-12-01",
                                 headers=sup)).status == 422
    body = await (await app_client.get(url, headers=sup)).json()
    assert len(body["cells"]) == 48 and body["by_skill"]["dementia"]["contacts"] == 0


async def test_daily_report_summarises_yesterday_and_is_served(app_client: TestClient) -> None:
    sup = await _headers(app_client, "supervisor", orgs=frozenset({"nhs-a"}))
    base = datetime(2026, 12, 6, 10, tzinfo=UTC).timestamp()  # yesterday on the injected clock
    rows = [("completed", 5.0), ("completed", 40.0), ("abandoned", 90.0), ("completed", 10.0)]
    async with app_client.app[DATABASE].transaction() as session:
        for i, (state, waited) in enumerate(rows):
            session.add(ContactRow(id=f"c{i}", seq=i, external_ref=f"r{i}", channel="voice",
                                   medium="phone", skill="dementia", state=state,
                                   arrived_at=base + i, waited_s=waited))
    sched = scheduler.wiring.scheduler_of(app_client.app)
    assert (await sched.run_daily_report())["offered"] == 4
    await sched.run_daily_report()  # twice: one row, the same figures
    body = await (await app_client.get("/api/v1/reports/daily?date=2026-12-06",
                                       headers=sup)).json()
    assert (body["offered"], body["answered"], body["abandoned"]) == (4, 3, 1)
    assert body["service_level"] == 0.5 and body["asa_s"] == pytest.approx(55 / 3)
    assert (await app_client.get("/api/v1/reports/daily?date=2026-12-05",
                                 headers=sup)).status == 404


def test_the_daily_report_measures_a_skill_against_its_own_promise() -> None:
    from scheduler.report import summarise

    rows = [("benefits", "completed", 40.0), ("benefits", "completed", 70.0),
            ("dementia", "completed", 10.0), ("dementia", "completed", 40.0)]
    found = summarise(rows, target_s=20.0, service_level_target=0.8,
                      promises={"benefits": (60.0, 0.8)})
    benefits, dementia = found["by_skill"]["benefits"], found["by_skill"]["dementia"]
    assert (benefits["service_level"], benefits["target_s"]) == (0.5, 60.0)  # 40 s in, 70 s out
    assert (dementia["service_level"], dementia["target_s"]) == (0.5, 20.0)
    assert found["service_level"] == 0.5  # each against its own target: 2 of 4 in time
