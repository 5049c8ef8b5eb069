"""Subject access and erasure for one citizen's number (issue 18), through the admin API and the
command line, on a real database: every record of the number is found whatever form it is typed
in; erasure leaves no table holding its digits (the audit log names it by reference only);
non-admins get 403; bad bodies get a 4xx and change nothing; an open contact refuses erasure.
Opt-outs are found and erased whether stored keyed (HMAC under the key of references) or, from
before that, as a bare SHA-256."""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient

from base import audit
from base.config import RetentionConfig
from base.db import Database
from expertline.app import DATABASE
from expertline.cli import main
from expertline.governance.store import key_source, pseudonym_key
from expertline.governance.tables import PseudonymKeyRow
from expertline.schema import database
from expertline.tables import metadata
from router.context import engine_of
from router.tables import ContactRow, MessageRow
from scheduler.tables import ScheduledCallbackRow
from skills.watch import EVERYTHING
from telephony.optouts import keyed_hash
from telephony.tables import CallBridgeRow, OptOutRow
from tests.conftest import TokenFactory
from tests.engine_support import T0, seed_pool
from tests.test_retention import snapshot

NUMBER = "+447700900123"
DIGITS = "7700900123"  # the number's national digits: in no table after erasure
OTHER = "+447700900456"


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


async def database_key(db: Database) -> bytes:
    async with db.transaction() as session:
        return await pseudonym_key(session, RetentionConfig())


async def seed_citizen(db: Database) -> None:
    """Their call, their WhatsApp chat, a callback to them, a stale bridge, their opt-outs (SMS
    keyed, WhatsApp from before opt-outs were keyed); and another citizen's call and legacy
    opt-out that must stay as they are."""
    key = await database_key(db)
    async with db.transaction() as session:
        session.add_all([
            ContactRow(id="c-call", seq=1, external_ref="CA-1", channel="voice", medium="phone",
                       skill="dementia", state="completed", arrived_at=T0, ended_at=T0 + 300,
                       address=NUMBER, first_words="my dad has dementia"),
            ContactRow(id="c-chat", seq=2, external_ref="SM-1", channel="chat",
                       medium="whatsapp", skill="carers-support", state="abandoned",
                       arrived_at=T0 + 10, ended_at=T0 + 90, address=f"whatsapp:{NUMBER}",
                       first_words="I am my mum's carer"),
            ContactRow(id="c-back", seq=3, external_ref="CA-2", channel="voice", medium="phone",
                       skill="dementia", state="completed", arrived_at=T0 + 20,
                       ended_at=T0 + 900, address="anonymous", callback_number=NUMBER),
            ContactRow(id="c-other", seq=4, external_ref="CA-3", channel="voice",
                       medium="phone", skill="dementia", state="completed", arrived_at=T0,
                       ended_at=T0 + 60, address=OTHER, first_words="someone else"),
        ])
        await session.flush()
        session.add_all([
            MessageRow(contact_id="c-chat", at=T0 + 11, sender="citizen",
                       text="call me on 07700900123"),
            MessageRow(contact_id="c-chat", at=T0 + 12, sender="expert", text="will do"),
            MessageRow(contact_id="c-other", at=T0 + 12, sender="citizen", text="hello"),
            ScheduledCallbackRow(id="scb-done", number=NUMBER, skill="dementia", due_at=T0,
                                 state="submitted", contact_id="c-back", submitted_at=T0),
            ScheduledCallbackRow(id="scb-other", number=OTHER, skill="dementia",
                                 due_at=T0 + 9e6, state="pending"),
            CallBridgeRow(contact_id="c-back", updated_at=T0,
                          state={"contact_id": "c-back", "phase": "retry_wait",
                                 "callback_number": NUMBER},
                          context={"lang": "en"}),
            OptOutRow(address_hash=_sha(f"whatsapp:{NUMBER}"),
                      created_at=datetime(2025, 3, 1, tzinfo=UTC)),
            OptOutRow(address_hash=keyed_hash(key, NUMBER)),
            OptOutRow(address_hash=_sha(OTHER)),
        ])


async def holding(db: Database, needle: str) -> list[str]:
    """Every table.column whose text (JSON as text) holds ``needle``."""
    found = []
    async with db.engine.connect() as conn:
        for table in metadata().sorted_tables:
            for row in (await conn.execute(sa.select(table))).mappings():
                for column, value in row.items():
                    text = value if isinstance(value, str) else json.dumps(value, default=str)
                    if needle in text:
                        found.append(f"{table.name}.{column}")
    return found


@pytest.fixture
async def people(client: TestClient, auth: TokenFactory) -> dict[str, Any]:
    db = client.app[DATABASE]
    await seed_pool(db)
    await engine_of(client.app)._reload_pool(EVERYTHING)
    await seed_citizen(db)
    return {"admin": await auth("admin"), "nhs": await auth("supervisor", orgs={"nhs-a"}),
            "ann": await auth("expert", expert="e-ann")}


async def test_subject_access_finds_every_record_in_any_form_and_is_audited(
        client: TestClient, people: dict[str, Any]) -> None:
    # a callback through the API: its audit record masks the number
    due = (datetime.now(UTC) + timedelta(days=10)).isoformat()
    made = await client.post("/api/v1/callbacks", headers=people["admin"], json={
        "number": NUMBER, "skill": "dementia", "due_at": due})
    assert made.status == 201, await made.text()
    resp = await client.post("/api/v1/subject-access", headers=people["admin"],
                             json={"number": "07700 900123"})
    assert resp.status == 200, await resp.text()
    found = await resp.json()
    assert found["number"] == NUMBER and len(found["reference"]) == 12
    assert [c["id"] for c in found["contacts"]] == ["c-call", "c-chat", "c-back"]
    chat = found["contacts"][1]
    assert chat["first_words"] == "I am my mum's carer" and chat["skill"] == "carers-support"
    assert [m["text"] for m in chat["messages"]] == ["call me on 07700900123", "will do"]
    assert chat["state"] == "abandoned" and chat["ended_at"].startswith("2026-")
    assert {c["state"] for c in found["callbacks"]} == {"submitted", "pending"}
    assert [o["address"] for o in found["opt_outs"]] == [f"whatsapp:{NUMBER}", NUMBER]
    assert found["opt_outs"][0]["since"].startswith("2025-03-01")
    assert found["bridges"] == [{"contact_id": "c-back", "phase": "retry_wait"}]
    async with client.app[DATABASE].session() as session:
        (entry,) = await audit.list_entries(session, entity="citizen")
    assert (entry.action, entry.entity_id) == ("subject_access", found["reference"])
    assert entry.after == {"counts": found["counts"]}
    assert DIGITS not in json.dumps([e.to_json() for e in await _trail(client)])


async def _trail(client: TestClient) -> list[audit.AuditEntry]:
    async with client.app[DATABASE].session() as session:
        return await audit.list_entries(session, limit=1000)


async def test_erasure_leaves_no_trace_of_the_number_anywhere(
        client: TestClient, people: dict[str, Any]) -> None:
    db = client.app[DATABASE]
    assert set(await holding(db, DIGITS)) >= {"contact.address", "contact.callback_number",
                                              "contact_message.text", "scheduled_callback.number",
                                              "call_bridge.state"}
    resp = await client.post("/api/v1/erasure", headers=people["admin"],
                             json={"number": "+44 7700 900123"})
    assert resp.status == 200, await resp.text()
    done = await resp.json()
    assert done == {"reference": done["reference"], "contacts_anonymised": 3,
                    "first_words_blanked": 2, "messages_deleted": 2, "callbacks_cancelled": 0,
                    "callbacks_anonymised": 1, "bridges_deleted": 1, "opt_outs_deleted": 2}
    assert await holding(db, DIGITS) == []
    assert await holding(db, _sha(f"whatsapp:{NUMBER}")) == []  # the legacy opt-out's hash
    assert await holding(db, keyed_hash(await database_key(db), NUMBER)) == []  # the keyed one
    assert await holding(db, _sha(OTHER)) == ["messaging_opt_out.address_hash"]
    # only the audit names the erasure, by its reference
    (entry,) = [e for e in await _trail(client) if e.action == "erase"]
    assert (entry.entity, entry.entity_id) == ("citizen", done["reference"])
    async with db.session() as session:
        other = await session.get(ContactRow, "c-other")
        call = await session.get(ContactRow, "c-call")
    assert other is not None and other.address == OTHER and other.first_words == "someone else"
    assert call is not None and call.address == "anon:" + done["reference"]
    assert set(await holding(db, OTHER.removeprefix("+44"))) == {
        "contact.address", "scheduled_callback.number"}
    # asked again, the number is found only as anonymised contacts, without words
    again = await (await client.post("/api/v1/subject-access", headers=people["admin"],
                                     json={"number": NUMBER})).json()
    assert [c["anonymised"] for c in again["contacts"]] == [True, True, True]
    assert again["counts"]["messages"] == again["counts"]["opt_outs"] == 0


async def test_a_stop_texted_to_the_application_is_keyed_found_and_erased(
        client: TestClient, people: dict[str, Any]) -> None:
    """The application's opt-outs use the database's key of references: subject access and
    erasure, which compute the hash from the number, find the row the webhook wrote."""
    db = client.app[DATABASE]
    resp = await client.post("/twilio/messaging", data={
        "MessageSid": "SM" + "7" * 32, "From": OTHER, "To": "+443000000000", "Body": "STOP"})
    assert resp.status == 200, await resp.text()
    keyed = keyed_hash(await database_key(db), OTHER)
    assert await holding(db, keyed) == ["messaging_opt_out.address_hash"]
    # the citizen's other (legacy) row went when the STOP was checked: keyed only now
    assert await holding(db, _sha(OTHER)) == []
    found = await (await client.post("/api/v1/subject-access", headers=people["admin"],
                                     json={"number": OTHER})).json()
    assert [o["address"] for o in found["opt_outs"]] == [OTHER]
    resp = await client.post("/api/v1/erasure", headers=people["admin"], json={"number": OTHER})
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["opt_outs_deleted"] == 1
    assert await holding(db, keyed) == []


async def test_every_process_gets_the_same_key_even_when_two_make_it_at_once(
        db_url: str) -> None:
    """Migration 0008 makes the database's key; were it missing, two processes (here two
    engines) that make it at the same moment still end up with one key, the same for both."""
    async with database(db_url) as db:
        made = await database_key(db)
        assert len(made) == 64
        async with db.transaction() as session:
            await session.delete(await session.get(PseudonymKeyRow, 1))
        async with database(db_url) as other:
            keys = await asyncio.gather(key_source(db.session, RetentionConfig())(),
                                        key_source(other.session, RetentionConfig())())
        assert keys[0] == keys[1] == await database_key(db) != made
        given = RetentionConfig(pseudonym_key="from the environment")
        assert await key_source(db.session, given)() == b"from the environment"


async def test_an_open_contact_refuses_erasure_and_nothing_changes(
        client: TestClient, people: dict[str, Any]) -> None:
    db = client.app[DATABASE]
    async with db.transaction() as session:
        session.add(ContactRow(id="c-live", seq=9, external_ref="CA-live", channel="voice",
                               medium="phone", skill="dementia", state="queued",
                               arrived_at=T0 + 5000, address=NUMBER))
    before = await snapshot(db)
    resp = await client.post("/api/v1/erasure", headers=people["admin"], json={"number": NUMBER})
    assert resp.status == 409
    assert (await resp.json())["error"]["code"] == "contact_open"
    assert await snapshot(db) == before


async def test_only_admins_may_ask_and_bad_bodies_change_nothing(
        client: TestClient, people: dict[str, Any]) -> None:
    db = client.app[DATABASE]
    before = await snapshot(db)
    for path in ("/api/v1/subject-access", "/api/v1/erasure"):
        for who in ("nhs", "ann"):
            resp = await client.post(path, headers=people[who], json={"number": NUMBER})
            assert resp.status == 403, (path, who)
        assert (await client.post(path, json={"number": NUMBER})).status == 401
        for body, status in [
            (b"{not json", 400), (b"[]", 400), (b'{"number": 447700900123}', 422),
            (b"{}", 422), (b'{"number": "call me"}', 422), (b'{"number": "123"}', 422),
            (b'{"number": "+447700900123", "name": "x"}', 422),
        ]:
            resp = await client.post(path, data=body, headers={
                **people["admin"], "Content-Type": "application/json"})
            assert resp.status == status, (path, body, await resp.text())
            error = (await resp.json())["error"]
            assert error["message"] and DIGITS not in error["message"]
        text = await client.post(path, data=NUMBER, headers=people["admin"])
        assert text.status == 400  # not application/json
    assert await snapshot(db) == before


# --- the command line -------------------------------------------------------------------------

async def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = await asyncio.to_thread(main, list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


async def test_the_command_line_finds_and_erases_a_number(
        db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("EXPERTLINE_DATABASE_URL", db_url)
    async with database(db_url) as db:
        await seed_citizen(db)
    code, out, _ = await cli(capsys, "subject-access", "07700900123", "--json")
    assert code == 0 and [c["id"] for c in json.loads(out)["contacts"]] == [
        "c-call", "c-chat", "c-back"]
    code, out, _ = await cli(capsys, "subject-access", "07700900123")
    assert code == 0 and "I am my mum's carer" in out and "contact c-back" in out
    code, out, err = await cli(capsys, "subject-access", "not a number")
    assert code == 2 and "'number' must be a phone number" in err

    monkeypatch.setattr("builtins.input", lambda _prompt: "no")
    code, out, _ = await cli(capsys, "erase", NUMBER)
    assert code == 1 and "nothing erased" in out and "3 contacts" in out
    async with database(db_url) as db:
        assert "contact.address" in await holding(db, DIGITS)
    code, out, _ = await cli(capsys, "erase", NUMBER, "--yes", "--json")
    assert code == 0 and json.loads(out)["contacts_anonymised"] == 3
    async with database(db_url) as db:
        assert await holding(db, DIGITS) == []
        async with db.session() as session:
            actors = {(e.actor, e.action) for e in await audit.list_entries(session)}
    assert {("cli", "subject_access"), ("cli", "erase")} <= actors
