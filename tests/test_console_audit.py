"""``/console/audit`` through the real app on a real database (SQLite and PostgreSQL): records
made through the real API show up, newest first; the filters narrow them; pages of 25; a
supervisor sees their own organisations' records (phone numbers masked) and not another's; an
admin sees everything."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from base.access import Role
from base.clock import now_utc
from expertline.app import DATABASE
from pages import sessions
from router.context import engine_of
from skills.watch import EVERYTHING
from tests.conftest import TokenFactory
from tests.engine_support import seed_pool

WEEKDAYS = {"kind": "weekly", "days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00",
            "end": "17:00", "breaks": [{"at": "12:30", "minutes": 30}]}


@pytest.fixture
async def made(client: TestClient, auth: TokenFactory) -> dict[str, str]:
    """A pool (nhs-a: e-ann, e-bob; council-b: e-cat) and records made through the API."""
    await seed_pool(client.app[DATABASE])
    await engine_of(client.app)._reload_pool(EVERYTHING)
    admin = await auth("admin")

    async def call(method: str, path: str, body: Any = None) -> None:
        resp = await client.request(method, "/api/v1" + path, json=body, headers=admin)
        assert resp.status < 300, await resp.text()

    await call("PATCH", "/experts/e-ann", {"name": "Ann Jones",
                                           "contact": {"phone": "+447700900123"}})
    await call("PATCH", "/organisations/nhs-a", {"region": "wales"})
    await call("PATCH", "/experts/e-cat", {"active": False})
    await call("POST", "/experts", {"id": "e-dan", "name": "Dan", "organisation": "council-b"})
    await call("POST", "/skills", {"id": "autism", "name": "Autism"})
    await call("PATCH", "/experts/e-bob", {"organisation": "council-b"})  # moves: both see it
    await call("POST", "/experts/e-ann/shifts", WEEKDAYS)
    for name in ("enhanced-dbs", "safeguarding-level-3"):  # two long records in one list
        await call("POST", "/experts/e-bob/accreditations",
                   {"name": name, "reference": "IG-REF-0000000000001", "expires_on": "2030-01-31"})
    return admin


async def sign_in(client: TestClient, role: Role, *, orgs: frozenset[str] = frozenset(),
                  expert: str | None = None) -> None:
    async with client.app[DATABASE].transaction() as session:
        token = sessions.make_link(session, role=role, orgs=orgs, expert_id=expert,
                                   minutes=10, now=now_utc())
    resp = await client.post(f"/sign-in/{token}", allow_redirects=False)
    assert resp.status == 303


def rows_of(page: str) -> list[list[str]]:
    """The audit table's rows, each cell as text: when, who, action, entity, id, summary."""
    body = re.search(r'<table class="govuk-table expertline-audit".*?<tbody[^>]*>(.*?)</tbody>',
                     page, re.S)
    if body is None:
        return []
    return [[" ".join(html.unescape(re.sub(r"<[^>]+>", " ", cell)).split())
             for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body.group(1), re.S)]


def about(page: str) -> set[tuple[str, str, str]]:
    """(action, entity, entity id) of every row."""
    return {(r[2], r[3], r[4]) for r in rows_of(page)}


async def audit(client: TestClient, **query: str) -> tuple[int, str]:
    resp = await client.get("/console/audit", params=query)
    return resp.status, await resp.text()


async def test_an_admin_sees_every_record_newest_first(client: TestClient, made: Any) -> None:
    await sign_in(client, Role.ADMIN)
    status, page = await audit(client)
    assert status == 200
    seen = about(page)
    assert {("update", "expert", "e-ann"), ("update", "organisation", "nhs-a"),
            ("update", "expert", "e-cat"), ("create", "expert", "e-dan"),
            ("create", "skill", "autism"), ("update", "expert", "e-bob")} <= seen
    assert {("sign_in", "web_session"), ("create", "shift_pattern")} <= {
        (a, e) for a, e, _ in seen}
    rows = rows_of(page)
    assert rows[0][2:4] == ["sign_in", "web_session"]  # the newest: this admin signing in
    assert [r[0] for r in rows] == sorted((r[0] for r in rows), reverse=True)
    ann = next(r for r in rows if r[2:5] == ["update", "expert", "e-ann"])
    assert ann[1].startswith("admin:token")  # who: the API token that made it
    assert "name: Ann → Ann Jones" in ann[5]  # what changed, in words
    assert "contact.phone: +447700900001 → +447700900123" in ann[5]  # an admin sees numbers
    assert "<table" in page and "<caption" in page and "style=" not in page
    added = next(r for r in rows if r[2:5] == ["add-accreditation", "expert", "e-bob"])
    assert "accreditations: added " in added[5] and "safeguarding-level-3" in added[5]
    assert "enhanced-dbs" not in added[5]  # only what changed, not the whole list twice


async def test_the_filters_narrow_the_records(client: TestClient, made: Any) -> None:
    await sign_in(client, Role.ADMIN)
    _, page = await audit(client, entity="organisation")
    assert about(page) == {("update", "organisation", "nhs-a")}
    assert '<option value="organisation" selected>' in page
    _, page = await audit(client, entity="expert", action="create")
    assert about(page) == {("create", "expert", "e-dan")}
    _, page = await audit(client, actor="ADMIN:TOKEN", entity="skill")  # any part, any case
    assert about(page) == {("create", "skill", "autism")}
    _, page = await audit(client, actor="nobody-at-all")
    assert rows_of(page) == [] and "No records" in page
    today = now_utc().date()
    _, page = await audit(client, entity="skill", since=today.isoformat(),
                          until=today.isoformat())
    assert about(page) == {("create", "skill", "autism")}
    _, page = await audit(client, since=(today + timedelta(days=1)).isoformat())
    assert rows_of(page) == []
    _, page = await audit(client, until=f"{today - timedelta(days=1)} 23:59")
    assert rows_of(page) == []


@pytest.mark.parametrize(("query", "field"), [
    ({"since": "yesterday"}, "since"),
    ({"until": "2026-02-30"}, "until"),
    ({"since": "1999-12-31"}, "since"),
    ({"since": "2026-12-08", "until": "2026-12-07"}, "until"),
    ({"actor": "x" * 129}, "actor"),
])
async def test_a_bad_filter_gets_the_error_summary_and_400(
        client: TestClient, made: Any, query: dict[str, str], field: str) -> None:
    await sign_in(client, Role.ADMIN)
    status, page = await audit(client, **query)
    assert status == 400 and "<title>Error: Audit log" in page
    assert "There is a problem" in page and f'<a href="#{field}">' in page
    assert f'id="{field}-error"' in page and rows_of(page) == []


async def test_a_supervisor_sees_their_organisations_records_only_and_numbers_masked(
        client: TestClient, made: Any) -> None:
    await sign_in(client, Role.SUPERVISOR, orgs=frozenset({"nhs-a"}))
    status, page = await audit(client)
    assert status == 200
    seen = about(page)
    assert {("update", "expert", "e-ann"), ("update", "organisation", "nhs-a"),
            ("update", "expert", "e-bob")} <= seen  # e-bob moved away: the move is theirs too
    assert ("create", "shift_pattern") in {(a, e) for a, e, _ in seen}  # e-ann's shifts
    others = {i for _, _, i in seen}
    assert not others & {"e-cat", "e-dan", "autism", "council-b"}  # not council-b's, no skills
    assert "web_session" not in {e for _, e, _ in seen} and "sign_in" not in page
    ann = next(r for r in rows_of(page) if r[2:5] == ["update", "expert", "e-ann"])
    assert "contact.phone: ***001 → ***123" in ann[5]
    assert "+447700900123" not in page and "447700900001" not in page  # masked everywhere
    assert '<option value="skill"' not in page  # the filters offer only what they may see

    _, page = await audit(client, entity="expert", action="create")
    assert rows_of(page) == []  # e-dan is council-b's


async def test_another_organisations_supervisor_sees_theirs(client: TestClient,
                                                            made: Any) -> None:
    await sign_in(client, Role.SUPERVISOR, orgs=frozenset({"council-b"}))
    _, page = await audit(client)
    seen = about(page)
    assert {("update", "expert", "e-cat"), ("create", "expert", "e-dan"),
            ("update", "expert", "e-bob")} <= seen  # e-bob moved in
    assert not {i for _, _, i in seen} & {"e-ann", "nhs-a", "autism"}
    assert "shift_pattern" not in {e for _, e, _ in seen}


async def test_records_come_in_pages_of_25(client: TestClient, made: Any,
                                           auth: TokenFactory) -> None:
    for n in range(30):
        resp = await client.patch("/api/v1/experts/e-ann", json={"name": f"Ann {n}"},
                                  headers=made)
        assert resp.status == 200
    await sign_in(client, Role.SUPERVISOR, orgs=frozenset({"nhs-a"}))
    _, first = await audit(client, entity="expert")
    total = 30 + 2  # e-ann's 30 names, her first change and e-bob's move
    assert f"{total} records, page 1 of 2" in first and len(rows_of(first)) == 25
    assert rows_of(first)[0][5] == "Changed: name: Ann 28 → Ann 29"  # the newest first
    assert 'href="/console/audit?entity=expert&amp;page=2"' in first and 'rel="prev"' not in first
    _, second = await audit(client, entity="expert", page="2")
    assert len(rows_of(second)) == total - 25 and 'rel="next"' not in second
    assert 'href="/console/audit?entity=expert&amp;page=1"' in second
    _, past = await audit(client, entity="expert", page="99")  # past the last: the last
    assert rows_of(past) == rows_of(second)
    status, odd = await audit(client, entity="expert", page="first")  # not a number: the first
    assert status == 200 and rows_of(odd) == rows_of(first)


async def test_strangers_and_experts_are_asked_to_sign_in(client: TestClient) -> None:
    resp = await client.get("/console/audit")
    assert resp.status == 401 and "Sign in first" in await resp.text()
    await sign_in(client, Role.EXPERT, expert="e-ann")
    resp = await client.get("/console/audit")
    assert resp.status == 401 and "expertline-audit" not in await resp.text()


async def test_a_supervisor_sees_the_actions_on_the_contacts_they_may_see(
        client: TestClient, made: dict[str, str]) -> None:
    """Moves of a shared-line contact show to every supervisor, as the contact does; a move of
    a contact asked for council-b shows to council-b's supervisors only."""
    admin = made  # the admin's headers
    ids = {}
    for ref, org in (("CA-shared", None), ("CA-council", "council-b")):
        body = {"skill": "housing", "external_ref": ref, **({"org": org} if org else {})}
        resp = await client.post("/api/v1/contacts", json=body, headers=admin)
        ids[ref] = (await resp.json())["id"]
        moved = await client.post(f"/api/v1/contacts/{ids[ref]}/move", headers=admin,
                                  json={"priority": 3, "why": "urgent"})
        assert moved.status == 200
    await sign_in(client, Role.SUPERVISOR, orgs=frozenset({"nhs-a"}))
    _, page = await audit(client, action="move")
    assert about(page) == {("move", "contact", ids["CA-shared"])}
    await sign_in(client, Role.SUPERVISOR, orgs=frozenset({"council-b"}))
    _, page = await audit(client, action="move")
    assert about(page) == {("move", "contact", ids["CA-shared"]),
                           ("move", "contact", ids["CA-council"])}
