"""Retention (issue 18, information governance): the policy in config, the pure decision of what
passed its period, and the purge on a real database on an injected clock: exactly what passed
its period goes (rows either side of each boundary), open contacts and pending callbacks stay,
a dry run changes nothing and reports what the run then does, and the run audits itself. Sign-in
records (browser sessions, sign-in links, federated sign-ins) go once over and past their period;
a live session or a valid unused link stays, however old."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp import web
from sqlmodel import select

from base import audit
from base.access_log import AccessLogEntry
from base.config import ConfigError, RetentionConfig, load_config
from base.db import Database
from expertline.cli import main
from expertline.governance import api as governance_api
from expertline.governance import refs
from expertline.governance.policy import Action, Kind, passed, plan
from expertline.governance.purge import purge
from expertline.schema import database
from expertline.tables import metadata
from pages.tables import OidcLoginRow, SignInLinkRow, WebSessionRow
from router.tables import (
    ContactEventRow,
    ContactRow,
    DecisionRow,
    MessageRow,
    OfferRow,
    SessionRow,
)
from scheduler.service import Scheduler
from scheduler.tables import ScheduledCallbackRow
from tests.conftest import make_config

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
POLICY = RetentionConfig()  # 30 days numbers, words and sign-ins, 365 history, 2190 audit
DAY = 86_400.0
SECOND = 1.0


def ago(days: float, seconds: float = 0.0) -> float:
    """Epoch seconds ``days`` (and ``seconds`` more) before NOW."""
    return NOW.timestamp() - days * DAY - seconds


# --- the policy, pure -------------------------------------------------------------------------

def test_the_policy_defaults_and_its_config_section(tmp_path: Path) -> None:
    config = load_config(None, {"EXPERTLINE_PSEUDONYM_KEY": "s3cret"})
    assert (config.retention.citizen_numbers_days, config.retention.transcripts_days,
            config.retention.contact_history_days, config.retention.audit_days,
            config.retention.sign_in_days) == (30, 30, 365, 2190, 30)
    assert config.retention.pseudonym_key == "s3cret"
    for body, message in [
        ("citizen_numbers_days = 0", "retention.citizen_numbers_days: must be at least 1"),
        ("contact_history_days = 20", "retention.contact_history_days: must be at least"),
        ("sign_in_days = 0", "retention.sign_in_days: must be at least 1 day"),
        ("sign_in_days = -30", "retention.sign_in_days: must be at least 1 day"),
        ('purge_at = "25:00"', "retention.purge_at: must be a time HH:MM"),
        ("keep_forever = true", "retention.keep_forever: unknown key"),
    ]:
        path = tmp_path / "bad.toml"
        path.write_text(f"[retention]\n{body}\n")
        with pytest.raises(ConfigError, match=message):
            load_config(path, {})


def test_a_record_passes_its_period_strictly_after_it() -> None:
    steps = {(s.kind, s.table, s.action): s for s in plan(NOW, POLICY)}
    numbers = steps[(Kind.CITIZEN_NUMBERS, "contact", Action.ANONYMISE)]
    assert numbers.before == NOW - timedelta(days=30)
    assert passed(ago(30, SECOND), numbers) and not passed(ago(30), numbers)
    assert not passed(ago(29), numbers)
    history = steps[(Kind.CONTACT_HISTORY, "contact", Action.DELETE)]
    assert passed(ago(365, SECOND), history) and not passed(ago(365), history)
    trail = steps[(Kind.AUDIT, "audit_entry", Action.DELETE)]
    assert passed(NOW - timedelta(days=2190, seconds=1), trail)
    assert not passed(NOW - timedelta(days=2190), trail)
    signed_in = steps[(Kind.SIGN_IN, "web_session", Action.DELETE)]
    assert signed_in.before == NOW - timedelta(days=30)
    assert [s.table for s in plan(NOW, POLICY) if s.kind is Kind.SIGN_IN] == [
        "web_session", "sign_in_link", "oidc_login"]
    # the longest period runs first, so what it deletes is not counted again
    assert [s.kind for s in plan(NOW, POLICY)][:2] == [Kind.CONTACT_HISTORY] * 2
    with pytest.raises(ValueError, match="aware"):
        plan(NOW.replace(tzinfo=None), POLICY)


def test_a_reference_is_the_same_for_every_form_of_a_number_and_hides_it() -> None:
    key = b"k" * 32
    forms = ["+447700900123", "07700 900123", "whatsapp:+447700900123", "0044 7700 900123",
             "+44 (0)7700 900123".replace("(0)", "")]
    assert {refs.reference(key, f) for f in forms} == {refs.reference(key, "+447700900123")}
    found = refs.reference(key, "+447700900123")
    assert len(found) == 12 and "7700900123" not in found
    assert refs.reference(b"another key", "+447700900123") != found
    assert refs.normalise("00 353 1 234 5678") == "+35312345678"
    assert refs.anonymised(key, "") == "" and refs.anonymised(key, "anon:abc") == "anon:abc"


# --- the purge, on a real database -----------------------------------------------------------

def _contact(cid: str, seq: int, *, state: str = "completed", ended: float | None,
             arrived: float | None = None, **more: Any) -> ContactRow:
    return ContactRow(id=cid, seq=seq, external_ref=f"CA-{cid}", channel="voice", medium="phone",
                      skill="dementia", state=state, arrived_at=arrived or (ended or 0) - 600,
                      ended_at=ended, **more)


async def _seed(db: Database) -> None:
    """Contacts and callbacks either side of each boundary, and open work far past them all."""
    words = {"address": "+447700900123", "callback_number": "+447700900124",
             "first_words": "my dad keeps wandering"}
    async with db.transaction() as session:
        session.add_all([
            _contact("c-gone", 1, ended=ago(365, SECOND), **words),  # past history: deleted
            _contact("c-year", 2, ended=ago(365), **words),  # on the boundary: kept, anonymised
            _contact("c-month", 3, ended=ago(30, SECOND), **words),  # anonymised and silenced
            _contact("c-fresh", 4, ended=ago(30), **words),  # on the boundary: untouched
            _contact("c-open", 5, state="queued", ended=None, arrived=ago(400), **words),
            _contact("c-cb", 6, state="callback", ended=None, arrived=ago(400), **words),
        ])
        await session.flush()
        for cid in ("c-gone", "c-month", "c-fresh", "c-open"):
            session.add(MessageRow(contact_id=cid, at=ago(31) if cid != "c-fresh" else ago(1),
                                   sender="citizen", text=f"words of {cid}"))
        session.add_all([
            ContactEventRow(contact_id="c-gone", at=ago(366), state="queued"),
            ContactEventRow(contact_id="c-gone", at=ago(365, SECOND), state="completed"),
            OfferRow(id="o-gone", contact_id="c-gone", expert_id="e-ann", channel="voice",
                     made_at=ago(366), expires_at=ago(366), status="accepted"),
            SessionRow(id="s-gone", offer_id="o-gone", contact_id="c-gone", expert_id="e-ann",
                       channel="voice", started_at=ago(366)),
            DecisionRow(contact_id="c-gone", at=ago(366), step=0, policy="graph",
                        chosen="e-ann", reason="best"),
            ContactEventRow(contact_id="c-year", at=ago(365), state="completed"),
        ])
        session.add_all([
            ScheduledCallbackRow(id="scb-old", number="+447700900125", skill="dementia",
                                 due_at=ago(400), state="failed"),
            ScheduledCallbackRow(id="scb-done", number="+447700900125", skill="dementia",
                                 due_at=ago(40), submitted_at=ago(31), state="submitted",
                                 contact_id="c-month"),
            ScheduledCallbackRow(id="scb-live", number="+447700900125", skill="dementia",
                                 due_at=ago(40), submitted_at=ago(40), state="submitted",
                                 contact_id="c-cb"),  # its contact is still open
            ScheduledCallbackRow(id="scb-pending", number="+447700900125", skill="dementia",
                                 due_at=ago(500), state="pending"),
        ])
        session.add_all([
            audit.AuditEntry(at=NOW - timedelta(days=2190, seconds=1), actor="x",
                             action="create", entity="skill", entity_id="old"),
            audit.AuditEntry(at=NOW - timedelta(days=2190), actor="x", action="create",
                             entity="skill", entity_id="kept"),
            AccessLogEntry(at=NOW - timedelta(days=2191), actor="x", contact_id="c-gone",
                           via="api", what="detail"),
            AccessLogEntry(at=NOW - timedelta(days=10), actor="x", contact_id="c-year",
                           via="api", what="detail"),
        ])


async def snapshot(db: Database) -> dict[str, list[str]]:
    """Every row of every table, as text: what "nothing changed" compares (but a token's
    last use, which every request may write)."""
    found: dict[str, list[str]] = {}
    async with db.engine.connect() as conn:
        for table in metadata().sorted_tables:
            if table.name == "api_token":
                continue
            rows = (await conn.execute(sa.select(table))).mappings().all()
            found[table.name] = sorted(json.dumps(dict(r), default=str, sort_keys=True)
                                       for r in rows)
    return found


async def test_the_purge_removes_exactly_what_passed_its_period(db_url: str) -> None:
    async with database(db_url) as db:
        await _seed(db)
        before = await snapshot(db)
        dry = await purge(db.session, now=NOW, policy=POLICY, dry_run=True, actor="tester")
        assert await snapshot(db) == before  # a dry run changes nothing, not even the audit
        done = await purge(db.session, now=NOW, policy=POLICY, actor="tester")
        assert dry.dry_run and not done.dry_run
        assert [o.rows for o in dry.outcomes] == [o.rows for o in done.outcomes]
        assert done.totals() == {"contact_history": 2, "transcripts": 3,
                                 "citizen_numbers": 3, "audit": 2, "sign_in": 0}
        rows = {(o.step.kind.value, o.step.table, o.step.action.value): o
                for o in done.outcomes}
        deleted = rows[("contact_history", "contact", "delete")]
        assert deleted.rows == 1 and deleted.oldest == datetime.fromtimestamp(ago(365, 1), UTC)
        assert deleted.related == {"contact_events": 2, "offers": 1, "sessions": 1,
                                   "decisions": 1, "messages": 1, "chat_resumes": 0,
                                   "call_bridges": 0}
        assert rows[("contact_history", "scheduled_callback", "delete")].rows == 1
        assert rows[("transcripts", "contact_message", "delete")].rows == 1  # c-month's
        assert rows[("transcripts", "contact", "blank")].rows == 2  # c-year, c-month
        assert rows[("citizen_numbers", "contact", "anonymise")].rows == 2
        assert rows[("citizen_numbers", "scheduled_callback", "anonymise")].rows == 1

        async with db.session() as session:
            contacts = {c.id: c for c in (await session.exec(select(ContactRow))).all()}
            messages = {m.contact_id for m in (await session.exec(select(MessageRow))).all()}
            events = {e.contact_id for e in (await session.exec(select(ContactEventRow))).all()}
            callbacks = {c.id: c for c in (await session.exec(select(ScheduledCallbackRow)))}
            trail = list(await audit.list_entries(session))
            reads = {r.contact_id for r in (await session.exec(select(AccessLogEntry))).all()}
        assert set(contacts) == {"c-year", "c-month", "c-fresh", "c-open", "c-cb"}
        assert events == {"c-year"} and messages == {"c-fresh", "c-open"}
        for cid in ("c-year", "c-month"):
            row = contacts[cid]
            assert row.address.startswith("anon:") and len(row.address) == 17
            assert row.callback_number.startswith("anon:") and row.first_words == ""
        assert contacts["c-year"].address == contacts["c-month"].address  # one citizen
        for cid in ("c-fresh", "c-open", "c-cb"):  # within their period, or still open
            assert contacts[cid].address == "+447700900123"
            assert contacts[cid].first_words == "my dad keeps wandering"
        assert set(callbacks) == {"scb-done", "scb-live", "scb-pending"}
        assert callbacks["scb-done"].number.startswith("anon:")
        assert callbacks["scb-live"].number == callbacks["scb-pending"].number == "+447700900125"
        assert reads == {"c-year"}
        assert [e.entity_id for e in trail if e.entity == "skill"] == ["kept"]
        (own,) = [e for e in trail if e.action == "purge"]
        assert own.actor == "tester" and own.entity == "retention"
        assert own.after is not None and own.after["totals"] == done.totals()

        again = await purge(db.session, now=NOW, policy=POLICY, actor="tester")
        assert all(o.rows == 0 for o in again.outcomes)  # nothing is purged twice


async def test_the_purge_uses_the_configured_key(sqlite_url: str) -> None:
    async with database(sqlite_url) as db:
        async with db.transaction() as session:
            session.add(_contact("c-1", 1, ended=ago(40), address="+447700900123"))
        await purge(db.session, now=NOW, policy=RetentionConfig(pseudonym_key="secret"))
        async with db.session() as session:
            row = await session.get(ContactRow, "c-1")
    assert row is not None
    assert row.address == "anon:" + refs.reference(b"secret", "+447700900123")


# --- sign-in records -------------------------------------------------------------------------

HOUR = timedelta(hours=1)


def at(days: float, seconds: float = 0.0) -> datetime:
    """The instant ``days`` (and ``seconds`` more) before NOW."""
    return NOW - timedelta(days=days, seconds=seconds)


def _web_session(key: str, *, created: datetime, expires: datetime,
                 revoked: datetime | None = None) -> WebSessionRow:
    return WebSessionRow(id_hash=key, role="expert", expert_id="e-ann", label="Ann",
                         csrf_token="c", created_at=created, last_seen_at=created,
                         expires_at=expires, revoked_at=revoked)


def _link(key: str, *, created: datetime, expires: datetime,
          used: datetime | None = None) -> SignInLinkRow:
    return SignInLinkRow(token_hash=key, role="expert", expert_id="e-ann", created_at=created,
                         expires_at=expires, used_at=used)


def _oidc(key: str, *, created: datetime, expires: datetime,
          used: datetime | None = None) -> OidcLoginRow:
    return OidcLoginRow(state_hash=key, browser_hash="b", provider="kingsmere", nonce="n",
                        code_verifier="v", created_at=created, expires_at=expires, used_at=used)


async def _seed_sign_ins(db: Database) -> None:
    """Sign-in records over and past 30 days (``-gone``), either side of the boundary, over
    but recently, and live or still valid however long ago they were made."""
    async with db.transaction() as session:
        session.add_all([
            _web_session("s-revoked-gone", created=at(31), expires=at(31) + 12 * HOUR,
                         revoked=at(31) + HOUR),
            _web_session("s-expired-gone", created=at(32), expires=at(32) + 12 * HOUR),
            _web_session("s-edge-gone", created=at(30, 12 * 3600 + 1),
                         expires=at(30, SECOND)),
            _web_session("s-edge", created=at(30, 12 * 3600), expires=at(30)),  # exactly 30 days
            _web_session("s-revoked", created=at(2), expires=at(2) + 12 * HOUR,
                         revoked=at(2) + HOUR),
            # past its end long ago but revoked yesterday: its end is the later of the two
            _web_session("s-late-sign-out", created=at(400), expires=at(400) + 12 * HOUR,
                         revoked=at(1)),
            _web_session("s-live", created=at(400), expires=NOW + HOUR),  # live, however old
        ])
        session.add_all([
            # used within minutes: its end is when it would have expired (the later)
            _link("l-used-gone", created=at(50), expires=at(50) + HOUR,
                  used=at(50) + timedelta(minutes=5)),
            _link("l-expired-gone", created=at(40), expires=at(39)),
            _link("l-used", created=at(10), expires=at(10) + HOUR,
                  used=at(10) + timedelta(minutes=1)),
            _link("l-expired", created=at(30), expires=at(29)),
            _link("l-valid", created=at(400), expires=NOW + HOUR),  # unused and valid: kept
        ])
        session.add_all([
            _oidc("o-used-gone", created=at(31), expires=at(31) + timedelta(minutes=10),
                  used=at(31) + timedelta(minutes=1)),
            _oidc("o-expired-gone", created=at(60), expires=at(60) + timedelta(minutes=10)),
            _oidc("o-used", created=at(1), expires=at(1) + timedelta(minutes=10),
                  used=at(1) + timedelta(minutes=1)),
            _oidc("o-live", created=NOW - timedelta(minutes=2),
                  expires=NOW + timedelta(minutes=8)),
        ])


async def test_the_purge_deletes_sign_in_records_over_and_past_their_period(
        db_url: str) -> None:
    async with database(db_url) as db:
        await _seed_sign_ins(db)
        before = await snapshot(db)
        dry = await purge(db.session, now=NOW, policy=POLICY, dry_run=True, actor="tester")
        assert await snapshot(db) == before  # nothing deleted, nothing audited
        done = await purge(db.session, now=NOW, policy=POLICY, actor="tester")
        assert [o.to_json() for o in dry.outcomes] == [o.to_json() for o in done.outcomes]
        assert done.totals() == {"contact_history": 0, "transcripts": 0, "citizen_numbers": 0,
                                 "audit": 0, "sign_in": 7}
        steps = {o.step.table: o for o in done.outcomes if o.step.kind is Kind.SIGN_IN}
        assert {t: (o.rows, o.step.action, o.step.before) for t, o in steps.items()} == {
            t: (n, Action.DELETE, at(30)) for t, n in
            (("web_session", 3), ("sign_in_link", 2), ("oidc_login", 2))}
        # the oldest end among them: the later of expires_at and revoked_at/used_at
        assert steps["web_session"].oldest == at(32) + 12 * HOUR
        assert steps["sign_in_link"].oldest == at(50) + HOUR
        assert steps["oidc_login"].oldest == at(60) + timedelta(minutes=10)

        async with db.session() as session:
            sessions = {r.id_hash for r in (await session.exec(select(WebSessionRow))).all()}
            links = {r.token_hash for r in (await session.exec(select(SignInLinkRow))).all()}
            logins = {r.state_hash for r in (await session.exec(select(OidcLoginRow))).all()}
            (own,) = await audit.list_entries(session, entity="retention")
        assert sessions == {"s-edge", "s-revoked", "s-late-sign-out", "s-live"}
        assert links == {"l-used", "l-expired", "l-valid"}
        assert logins == {"o-used", "o-live"}
        assert own.after is not None and own.after["totals"]["sign_in"] == 7
        assert [(s["table"], s["rows"]) for s in own.after["steps"]
                if s["kind"] == "sign_in"] == [
            ("web_session", 3), ("sign_in_link", 2), ("oidc_login", 2)]

        again = await purge(db.session, now=NOW, policy=POLICY, actor="tester")
        assert again.totals()["sign_in"] == 0  # nothing is purged twice
        # the shortest period, a little later: all that is over goes, the live session and
        # the valid link stay (and the sign-in that expired minutes ago until its day is up)
        later = await purge(db.session, now=NOW + timedelta(minutes=30),
                            policy=RetentionConfig(sign_in_days=1), dry_run=True)
        # and a period the config would refuse cannot reach what is not over either
        wrong = await purge(db.session, now=NOW, policy=RetentionConfig(sign_in_days=-1),
                            dry_run=True)
        for report in (later, wrong):
            assert {o.step.table: o.rows for o in report.outcomes
                    if o.step.kind is Kind.SIGN_IN} == {
                "web_session": 3, "sign_in_link": 2, "oidc_login": 1}


# --- by hand and every day --------------------------------------------------------------------

async def test_expertline_purge_dry_run_then_for_real(
        db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("EXPERTLINE_DATABASE_URL", db_url)
    now = datetime.now(UTC).timestamp()
    async with database(db_url) as db, db.transaction() as session:
        session.add(_contact("c-old", 1, ended=now - 400 * DAY, address="+447700900123"))
        session.add(_contact("c-new", 2, ended=now - 40 * DAY, address="+447700900123"))
        made = datetime.fromtimestamp(now - 40 * DAY, UTC)
        session.add(SignInLinkRow(token_hash="l-old", role="expert", created_at=made,
                                  expires_at=made + timedelta(hours=1),
                                  used_at=made + timedelta(minutes=5)))
    capsys.readouterr()

    async def run(*argv: str) -> tuple[int, str]:
        code = await asyncio.to_thread(main, ["purge", *argv])
        return code, capsys.readouterr().out

    code, out = await run("--dry-run", "--json")
    dry = json.loads(out)
    assert code == 0 and dry["dry_run"] and dry["totals"] == {
        "contact_history": 1, "transcripts": 0, "citizen_numbers": 1, "audit": 0, "sign_in": 1}
    oldest = {(s["kind"], s["table"]): s["oldest"] for s in dry["steps"]}
    assert oldest[("contact_history", "contact")][:10] == (
        f"{datetime.fromtimestamp(now - 400 * DAY, UTC):%Y-%m-%d}")
    code, out = await run("--dry-run")
    assert code == 0 and "(dry run: nothing changed)" in out
    assert "contact_history  contact             delete     1" in out
    assert "sign_in          sign_in_link        delete     1" in out
    async with database(db_url) as db, db.session() as session:
        assert len((await session.exec(select(ContactRow))).all()) == 2
        assert await audit.list_entries(session, entity="retention") == []
    code, out = await run("--json")
    done = json.loads(out)
    assert code == 0 and not done["dry_run"] and done["totals"] == dry["totals"]
    async with database(db_url) as db, db.session() as session:
        (left,) = (await session.exec(select(ContactRow))).all()
        (own,) = await audit.list_entries(session, entity="retention")
    assert left.id == "c-new" and left.address.startswith("anon:")
    async with database(db_url) as db, db.session() as session:
        assert (await session.exec(select(SignInLinkRow))).all() == []
    assert own.actor == "cli" and own.after is not None and own.after["totals"] == done["totals"]


async def test_the_purge_runs_daily_where_the_scheduler_runs(sqlite_url: str,
                                                            tmp_path: Path) -> None:
    config = make_config(sqlite_url, tmp_path, scheduler={"enabled": True})
    async with database(sqlite_url) as db:
        async with db.transaction() as session:
            session.add(_contact("c-old", 1, ended=ago(400)))
        sched = Scheduler(sessions=db.session, config=config, availability=lambda: None,
                          routing=lambda: None, clock=lambda: NOW)
        governance_api.setup(web.Application(), sessions=db.session,
                             retention=config.retention, scheduler=sched)
        async with sched:
            assert governance_api.PURGE_JOB in sched.job_ids
        assert sched.job_ids == []  # stopped with the scheduler
        # what the job runs: the purge on the scheduler's clock, audited as the system
        await governance_api.daily_purge(db.session, config.retention, sched.now)()
        async with db.session() as session:
            assert await session.get(ContactRow, "c-old") is None
            (own,) = await audit.list_entries(session, entity="retention")
    assert own.actor == "system:retention" and own.entity_id == "2027-03-01"
