"""The database: migrations build exactly the models' schema; the audit log is append-only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from base import audit
from base.access import Role
from base.clock import utc
from base.errors import Conflict, InvalidInput, NotFound, Unauthorized
from expertline.auth import ApiToken, issue_token, resolve_token, revoke_token
from expertline.schema import database
from expertline.tables import metadata


def _diff(connection: sa.Connection) -> list:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return compare_metadata(context, metadata())


async def test_migrations_match_models(db_url: str) -> None:
    async with database(db_url) as db, db.engine.connect() as conn:
        assert await conn.run_sync(_diff) == []


async def test_migrating_twice_is_harmless(db_url: str) -> None:
    async with database(db_url) as db:
        await db.migrate()
        async with db.engine.connect() as conn:
            version = (await conn.execute(sa.text("select version_num from alembic_version"))).all()
    assert len(version) == 1


async def test_sqlite_runs_in_wal_mode(sqlite_url: str) -> None:
    async with database(sqlite_url) as db, db.engine.connect() as conn:
        mode = (await conn.execute(sa.text("PRAGMA journal_mode"))).scalar()
    assert mode == "wal"


async def test_audit_log_refuses_update_and_delete(db_url: str) -> None:
    async with database(db_url) as db:
        async with db.transaction() as session:
            audit.record(session, actor="tester", action="create", entity="skill",
                         entity_id="dementia", after={"name": "Dementia"})
        for statement in ("UPDATE audit_entry SET actor = 'x'", "DELETE FROM audit_entry"):
            with pytest.raises(sa.exc.DBAPIError, match="append-only"):
                async with db.transaction() as session:
                    await session.exec(sa.text(statement))  # type: ignore[call-overload]
        async with db.session() as session:
            entries = await audit.list_entries(session)
    assert [(e.actor, e.entity_id, e.after) for e in entries] == [
        ("tester", "dementia", {"name": "Dementia"})]


async def test_tokens_are_stored_hashed_and_resolve(db_url: str) -> None:
    async with database(db_url) as db:
        async with db.transaction() as session:
            token, _row = await issue_token(session, role=Role.SUPERVISOR,
                                           orgs=frozenset({"nhs-a", "council-b"}))
        async with db.session() as session:
            stored = (await session.exec(sa.select(ApiToken.token_hash))).scalars().all()  # type: ignore[call-overload]
            assert token not in stored and len(stored) == 1
            who = await resolve_token(session, token)
            assert who.role is Role.SUPERVISOR and who.orgs == {"nhs-a", "council-b"}
            with pytest.raises(Unauthorized):
                await resolve_token(session, token + "x")


@pytest.mark.parametrize(("role", "orgs", "expert"), [
    (Role.SUPERVISOR, frozenset(), None),
    (Role.EXPERT, frozenset(), None),
    (Role.ADMIN, frozenset({"x"}), None),
])
async def test_token_scope_is_checked(sqlite_url: str, role: Role, orgs: frozenset[str],
                                      expert: str | None) -> None:
    async with database(sqlite_url) as db, db.transaction() as session:
        with pytest.raises(InvalidInput):
            await issue_token(session, role=role, orgs=orgs, expert_id=expert)


async def test_an_expired_token_is_refused(db_url: str) -> None:
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    async with database(db_url) as db:
        async with db.transaction() as session:
            token, _ = await issue_token(session, role=Role.ADMIN,
                                         expires_at=now + timedelta(days=1))
        async with db.session() as session:
            assert (await resolve_token(session, token, now=now)).role is Role.ADMIN
        async with db.session() as session:
            with pytest.raises(Unauthorized, match=r"^expired token$"):
                await resolve_token(session, token, now=now + timedelta(days=1))


async def test_a_revoked_token_is_refused(db_url: str) -> None:
    async with database(db_url) as db:
        async with db.transaction() as session:
            token, row = await issue_token(session, role=Role.ADMIN)
        async with db.transaction() as session:
            assert row.id is not None
            await revoke_token(session, row.id)
        async with db.session() as session:
            with pytest.raises(Unauthorized, match="revoked"):
                await resolve_token(session, token)
        async with db.transaction() as session:
            with pytest.raises(NotFound):
                await revoke_token(session, row.id + 1)
            with pytest.raises(Conflict, match="already revoked"):
                await revoke_token(session, row.id)


async def test_last_use_is_written_at_most_once_a_minute(db_url: str) -> None:
    """A busy desk resolves its token on every request: one write a minute, not one each."""
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    async with database(db_url) as db:
        async with db.transaction() as session:
            token, row = await issue_token(session, role=Role.EXPERT, expert_id="e-ann")
        updates: list[str] = []

        def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            if statement.lstrip().upper().startswith("UPDATE API_TOKEN"):
                updates.append(statement)

        sa.event.listen(db.engine.sync_engine, "before_cursor_execute", count)

        async def last_used_after(seconds: float) -> datetime | None:
            async with db.session() as session:
                await resolve_token(session, token, now=start + timedelta(seconds=seconds))
            async with db.session() as session:
                stored = await session.get(ApiToken, row.id)
                assert stored is not None
                return utc(stored.last_used_at)

        assert await last_used_after(0) == start
        for second in range(1, 60):
            assert await last_used_after(second) == start
        assert len(updates) == 1
        assert await last_used_after(60) == start + timedelta(seconds=60)
        assert len(updates) == 2
