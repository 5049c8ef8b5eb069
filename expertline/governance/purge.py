"""The retention purge: ``policy.plan``'s steps applied to the database, in one transaction.

Each step first counts the rows it selects (and the oldest time among them), then, unless it is
a dry run, changes exactly those rows. The selections exclude what an earlier step of the same
run deletes, so a dry run reports the same figures as the real run would. A real run ends with
one audit record of its own (``purge`` on ``retention``): the policy and every step's figures.

- contact history: a finished contact past ``contact_history_days`` is deleted with its states,
  offers, sessions, routing decisions, messages, chat resume tokens and any stale bridge; a
  callback over (not pending, its contact finished) as long ago is deleted;
- transcripts: a finished contact's messages are deleted and its first words blanked;
- citizen numbers: a finished contact's ``address`` and ``callback_number``, and an over
  callback's ``number``, become ``anon:`` and their reference (``refs``);
- audit: audit and access-log records are deleted (the audit log lets only this purge's
  transaction delete, and only records older than its cut-off: ``governance.tables``);
- sign-in: a browser session, sign-in link or federated sign-in under way is deleted once it
  is over (revoked or used, or past its ``expires_at``) and its end (the later of
  ``expires_at`` and ``revoked_at``/``used_at``) is past ``sign_in_days``; a live session or
  an unused link still valid is never selected, whatever its age.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel.ext.asyncio.session import AsyncSession

from base import audit
from base.clock import utc
from base.config import RetentionConfig
from base.db import Sessions, writing
from expertline.governance import refs
from expertline.governance.policy import Action, Kind, Step, plan, policy_json
from expertline.governance.store import (
    AUDIT,
    AUDIT_PURGE,
    CALLBACK,
    CONTACT,
    FINISHED,
    HISTORY,
    MESSAGE,
    OIDC_LOGIN,
    READS,
    SIGN_IN_LINK,
    WEB_SESSION,
    callback_at,
    callback_is_over,
    connection,
    contact_at,
    pseudonym_key,
)

CHUNK = 500  # anonymised rows are written this many at a time


@dataclass(frozen=True, slots=True)
class Outcome:
    """One step's figures: rows selected (and changed, unless a dry run), the oldest time
    among them, and for deleted contacts the rows of their history deleted with them."""

    step: Step
    rows: int
    oldest: datetime | None
    related: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.step.kind.value, "table": self.step.table,
                "action": self.step.action.value, "rows": self.rows,
                "before": self.step.before.isoformat(),
                "oldest": self.oldest.isoformat() if self.oldest else None,
                "related": self.related}


@dataclass(frozen=True, slots=True)
class PurgeReport:
    now: datetime
    dry_run: bool
    policy: dict[str, int]
    outcomes: list[Outcome]

    def totals(self) -> dict[str, int]:
        """Rows per kind of data."""
        found = {kind.value: 0 for kind in Kind}
        for outcome in self.outcomes:
            found[outcome.step.kind.value] += outcome.rows
        return found

    def to_json(self) -> dict[str, Any]:
        return {"now": self.now.isoformat(), "dry_run": self.dry_run, "policy": self.policy,
                "totals": self.totals(), "steps": [o.to_json() for o in self.outcomes]}


@dataclass(frozen=True, slots=True)
class _Run:
    conn: AsyncConnection
    key: bytes
    apply: bool
    kept_from: float  # contacts that ended before this are deleted by the history step
    now: datetime  # the run's instant (aware UTC): what ends after it is not over yet


async def purge(sessions: Sessions, *, now: datetime, policy: RetentionConfig,
                dry_run: bool = False, actor: str = "system:retention") -> PurgeReport:
    """Apply (or, with ``dry_run``, only count) every step of the policy at ``now``."""
    if dry_run:
        async with sessions() as session:  # never committed: closing it rolls back
            return await _steps(session, now, policy, dry_run=True)
    async with writing(sessions) as session:
        report = await _steps(session, now, policy, dry_run=False)
        _audit(session, report, actor)
    return report


async def _steps(session: AsyncSession, now: datetime, policy: RetentionConfig, *,
                 dry_run: bool) -> PurgeReport:
    steps = plan(now, policy)
    history = next(s for s in steps if s.kind is Kind.CONTACT_HISTORY)
    key = await pseudonym_key(session, policy)
    run = _Run(await connection(session), key, not dry_run, history.before_s,
               now.astimezone(UTC))
    outcomes = [await STEP_RUNNERS[(s.table, s.action)](run, s) for s in steps]
    return PurgeReport(now.astimezone(UTC), dry_run, policy_json(policy), outcomes)


def _audit(session: AsyncSession, report: PurgeReport, actor: str) -> None:
    audit.record(session, actor=actor, action="purge", entity="retention",
                 entity_id=report.now.date().isoformat(),
                 after={"policy": report.policy, "totals": report.totals(),
                        "steps": [o.to_json() for o in report.outcomes]})


async def _figures(conn: AsyncConnection, where: sa.ColumnElement[bool],
                   at: sa.ColumnElement[Any], table: sa.Table) -> tuple[int, datetime | None]:
    found = (await conn.execute(sa.select(sa.func.count(), sa.func.min(at))
                                .select_from(table).where(where))).one()
    count, oldest = int(found[0]), found[1]
    if isinstance(oldest, datetime):
        return count, utc(oldest)
    return count, None if oldest is None else datetime.fromtimestamp(float(oldest), UTC)


def _finished_before(before_s: float) -> sa.ColumnElement[bool]:
    return sa.and_(CONTACT.c.state.in_(FINISHED), contact_at < before_s)


async def _delete_contacts(run: _Run, step: Step) -> Outcome:
    where = _finished_before(step.before_s)
    rows, oldest = await _figures(run.conn, where, contact_at, CONTACT)
    ids = sa.select(CONTACT.c.id).where(where)
    related = {}
    for name, table in HISTORY:
        child = table.c.contact_id.in_(ids)
        related[name] = (await _figures(run.conn, child, sa.literal(0), table))[0]
        if run.apply and related[name]:
            await run.conn.execute(sa.delete(table).where(child))
    if run.apply and rows:
        await run.conn.execute(sa.delete(CONTACT).where(where))
    return Outcome(step, rows, oldest, related)


async def _delete_callbacks(run: _Run, step: Step) -> Outcome:
    where = sa.and_(callback_is_over(), callback_at < step.before_s)
    rows, oldest = await _figures(run.conn, where, callback_at, CALLBACK)
    if run.apply and rows:
        await run.conn.execute(sa.delete(CALLBACK).where(where))
    return Outcome(step, rows, oldest)


def _kept(before_s: float, kept_from: float) -> sa.ColumnElement[bool]:
    """Finished contacts past ``before_s`` that the history step keeps."""
    return sa.and_(_finished_before(before_s), contact_at >= kept_from)


async def _delete_messages(run: _Run, step: Step) -> Outcome:
    where = MESSAGE.c.contact_id.in_(sa.select(CONTACT.c.id).where(
        _kept(step.before_s, run.kept_from)))
    rows, oldest = await _figures(run.conn, where, MESSAGE.c.at, MESSAGE)
    if run.apply and rows:
        await run.conn.execute(sa.delete(MESSAGE).where(where))
    return Outcome(step, rows, oldest)


async def _blank_words(run: _Run, step: Step) -> Outcome:
    where = sa.and_(_kept(step.before_s, run.kept_from), CONTACT.c.first_words != "")
    rows, oldest = await _figures(run.conn, where, contact_at, CONTACT)
    if run.apply and rows:
        await run.conn.execute(sa.update(CONTACT).where(where).values(first_words=""))
    return Outcome(step, rows, oldest)


def _in_clear(column: sa.ColumnElement[str]) -> sa.ColumnElement[bool]:
    return sa.and_(column != "", column.not_like(f"{refs.ANON}%"))


async def _anonymise_contacts(run: _Run, step: Step) -> Outcome:
    where = sa.and_(_kept(step.before_s, run.kept_from),
                    sa.or_(_in_clear(CONTACT.c.address), _in_clear(CONTACT.c.callback_number)))
    rows, oldest = await _figures(run.conn, where, contact_at, CONTACT)
    if run.apply and rows:
        found = (await run.conn.execute(sa.select(
            CONTACT.c.id, CONTACT.c.address, CONTACT.c.callback_number).where(where))).all()
        await anonymise_contacts(run.conn, run.key, [tuple(r) for r in found])
    return Outcome(step, rows, oldest)


async def anonymise_contacts(conn: AsyncConnection, key: bytes,
                             found: list[tuple[Any, ...]]) -> None:
    """Replace each (id, address, callback_number)'s numbers by their references."""
    statement = sa.update(CONTACT).where(CONTACT.c.id == sa.bindparam("b_id")).values(
        address=sa.bindparam("b_address"), callback_number=sa.bindparam("b_callback"))
    params = [{"b_id": cid, "b_address": refs.anonymised(key, address),
               "b_callback": refs.anonymised(key, callback)} for cid, address, callback in found]
    for start in range(0, len(params), CHUNK):
        await conn.execute(statement, params[start:start + CHUNK])


async def _anonymise_callbacks(run: _Run, step: Step) -> Outcome:
    where = sa.and_(callback_is_over(), callback_at < step.before_s,
                    callback_at >= run.kept_from, _in_clear(CALLBACK.c.number))
    rows, oldest = await _figures(run.conn, where, callback_at, CALLBACK)
    if run.apply and rows:
        found = (await run.conn.execute(sa.select(CALLBACK.c.id, CALLBACK.c.number)
                                        .where(where))).all()
        await anonymise_callbacks(run.conn, run.key, [(r[0], r[1]) for r in found])
    return Outcome(step, rows, oldest)


async def anonymise_callbacks(conn: AsyncConnection, key: bytes,
                              found: list[tuple[str, str]]) -> None:
    statement = sa.update(CALLBACK).where(CALLBACK.c.id == sa.bindparam("b_id")).values(
        number=sa.bindparam("b_number"))
    params = [{"b_id": cid, "b_number": refs.anonymised(key, number)} for cid, number in found]
    for start in range(0, len(params), CHUNK):
        await conn.execute(statement, params[start:start + CHUNK])


async def _delete_audit(run: _Run, step: Step) -> Outcome:
    where = AUDIT.c.at < step.before
    rows, oldest = await _figures(run.conn, where, AUDIT.c.at, AUDIT)
    if run.apply and rows:
        # the append-only trigger lets these through while the row is there (this transaction)
        await run.conn.execute(sa.insert(AUDIT_PURGE).values(id=1, before=step.before))
        await run.conn.execute(sa.delete(AUDIT).where(where))
        await run.conn.execute(sa.delete(AUDIT_PURGE))
    return Outcome(step, rows, oldest)


async def _delete_reads(run: _Run, step: Step) -> Outcome:
    where = READS.c.at < step.before
    rows, oldest = await _figures(run.conn, where, READS.c.at, READS)
    if run.apply and rows:
        await run.conn.execute(sa.delete(READS).where(where))
    return Outcome(step, rows, oldest)


def _sign_in_ended(table: sa.Table, ended: str, run: _Run,
                   step: Step) -> tuple[sa.ColumnElement[bool], sa.ColumnElement[Any]]:
    """Rows of a sign-in table that are over (``ended`` set, or past ``expires_at``) and whose
    end, the later of ``expires_at`` and ``ended``, is past the step's period; and that end."""
    expires, stop = table.c.expires_at, table.c[ended]
    over = sa.or_(stop.is_not(None), expires <= run.now)
    where = sa.and_(over, expires < step.before, sa.or_(stop.is_(None), stop < step.before))
    end = sa.case((stop > expires, stop), else_=expires)
    return where, end


async def _delete_sign_ins(run: _Run, step: Step, table: sa.Table, ended: str) -> Outcome:
    where, end = _sign_in_ended(table, ended, run, step)
    rows, oldest = await _figures(run.conn, where, end, table)
    if run.apply and rows:
        await run.conn.execute(sa.delete(table).where(where))
    return Outcome(step, rows, oldest)


async def _delete_web_sessions(run: _Run, step: Step) -> Outcome:
    return await _delete_sign_ins(run, step, WEB_SESSION, "revoked_at")


async def _delete_sign_in_links(run: _Run, step: Step) -> Outcome:
    return await _delete_sign_ins(run, step, SIGN_IN_LINK, "used_at")


async def _delete_oidc_logins(run: _Run, step: Step) -> Outcome:
    return await _delete_sign_ins(run, step, OIDC_LOGIN, "used_at")


STEP_RUNNERS: dict[tuple[str, Action], Callable[[_Run, Step], Awaitable[Outcome]]] = {
    ("contact", Action.DELETE): _delete_contacts,
    ("scheduled_callback", Action.DELETE): _delete_callbacks,
    ("contact_message", Action.DELETE): _delete_messages,
    ("contact", Action.BLANK): _blank_words,
    ("contact", Action.ANONYMISE): _anonymise_contacts,
    ("scheduled_callback", Action.ANONYMISE): _anonymise_callbacks,
    ("audit_entry", Action.DELETE): _delete_audit,
    ("access_log", Action.DELETE): _delete_reads,
    ("web_session", Action.DELETE): _delete_web_sessions,
    ("sign_in_link", Action.DELETE): _delete_sign_in_links,
    ("oidc_login", Action.DELETE): _delete_oidc_logins,
}
