"""The access log (issue 18): every read of a citizen's contact, through the API or the console's
contact page, is written with who read it and how; reads that are refused write nothing; an
admin reads the log with ``expertline access-log``."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from base.access import Role
from base.access_log import list_reads
from expertline.app import DATABASE
from expertline.cli import main
from router.context import engine_of
from skills.watch import EVERYTHING
from tests.conftest import TokenFactory
from tests.engine_support import arrive, seed_pool
from tests.test_pages import link, sign_in


@pytest.fixture
async def people(client: TestClient, auth: TokenFactory) -> dict[str, Any]:
    await seed_pool(client.app[DATABASE])
    await engine_of(client.app)._reload_pool(EVERYTHING)
    return {"admin": await auth("admin"), "nhs": await auth("supervisor", orgs={"nhs-a"}),
            "ann": await auth("expert", expert="e-ann")}


async def reads(client: TestClient, contact_id: str | None = None) -> list[tuple[str, ...]]:
    async with client.app[DATABASE].session() as session:
        rows, _ = await list_reads(session, contact_id=contact_id)
    return [(r.actor, r.contact_id, r.via, r.what) for r in reversed(rows)]


async def test_reading_a_contact_through_the_api_names_the_reader(
        client: TestClient, people: dict[str, Any]) -> None:
    contact = await arrive(client.app, "CA-1", address="+447700900123")
    resp = await client.get(f"/api/v1/contacts/{contact}", headers=people["nhs"])
    assert resp.status == 200 and (await resp.json())["address"] == "***123"
    resp = await client.get(f"/api/v1/contacts/{contact}", headers=people["admin"])
    assert (await resp.json())["address"] == "+447700900123"
    assert await reads(client) == [("supervisor:token2", contact, "api", "detail"),
                                   ("admin:token1", contact, "api", "detail")]
    # refused reads write nothing: an expert, an unknown contact, another organisation's
    assert (await client.get(f"/api/v1/contacts/{contact}", headers=people["ann"])).status == 403
    assert (await client.get("/api/v1/contacts/c-nobody", headers=people["admin"])).status == 404
    council = (await (await client.post("/api/v1/contacts", headers=people["admin"], json={
        "skill": "housing", "org": "council-b", "external_ref": "CA-council"})).json())["id"]
    assert (await client.get(f"/api/v1/contacts/{council}", headers=people["nhs"])).status == 404
    assert len(await reads(client)) == 2


async def test_a_list_that_shows_numbers_in_clear_is_logged_per_contact(
        client: TestClient, people: dict[str, Any]) -> None:
    first = await arrive(client.app, "CA-1", address="+447700900123")
    second = await arrive(client.app, "CA-2", address="+447700900124")
    await client.post("/api/v1/contacts", headers=people["admin"], json={
        "skill": "dementia", "external_ref": "CA-no-number"})
    assert (await client.get("/api/v1/contacts", headers=people["nhs"])).status == 200
    assert await reads(client) == []  # masked for a supervisor: no number was read
    assert (await client.get("/api/v1/contacts", headers=people["admin"])).status == 200
    assert sorted(await reads(client)) == sorted([("admin:token1", first, "api", "list"),
                                                  ("admin:token1", second, "api", "list")])


async def test_the_console_contact_page_is_logged(client: TestClient,
                                                  people: dict[str, Any]) -> None:
    contact = await arrive(client.app, "CA-1", address="+447700900123")
    await sign_in(client, await link(client, Role.SUPERVISOR, expert=None,
                                     orgs=frozenset({"nhs-a"})))
    resp = await client.get(f"/console/contacts/{contact}")
    assert resp.status == 200
    assert await reads(client, contact) == [("supervisor:session", contact, "console", "detail")]
    assert (await client.get("/console/contacts/c-nobody")).status == 404
    assert len(await reads(client)) == 1


async def test_admins_read_the_log_from_the_command_line(
        client: TestClient, people: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    contact = await arrive(client.app, "CA-1", address="+447700900123")
    other = await arrive(client.app, "CA-2", address="+447700900124")
    for cid in (contact, other, contact):
        await client.get(f"/api/v1/contacts/{cid}", headers=people["nhs"])
    monkeypatch.setenv("EXPERTLINE_DATABASE_URL", client.app[DATABASE].url)
    capsys.readouterr()
    code = await asyncio.to_thread(main, ["access-log", "--contact", contact, "--json"])
    found = json.loads(capsys.readouterr().out)
    assert code == 0 and [(r["actor"], r["contact_id"], r["via"]) for r in found] == [
        ("supervisor:token2", contact, "api")] * 2
    code = await asyncio.to_thread(main, ["access-log"])
    lines = capsys.readouterr().out.splitlines()
    assert code == 0 and lines[0].split() == ["at", "who", "contact", "via", "what"]
    assert len(lines) == 4 and other in lines[2]  # newest first
