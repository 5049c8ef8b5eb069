"""Shared fixtures: a real database (a SQLite file, and PostgreSQL when reachable), the real app.

``db_url`` is parametrised over both databases; tests that take it (or ``config``/``client``)
run twice. PostgreSQL runs get a fresh database each, dropped afterwards, and are skipped with a
clear reason when nothing listens on 127.0.0.1:5432.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from base.access import Role
from base.config import Config, load_config
from expertline.app import DATABASE, create_app
from expertline.auth import issue_token
from telephony.service import TELEPHONY
from tests.telephony_support import ManualScheduler

PG_HOST, PG_PORT = "127.0.0.1", 5432
PG_USER = os.environ.get("EXPERTLINE_TEST_PG_USER", "postgres")


def postgres_reachable() -> bool:
    try:
        with socket.create_connection((PG_HOST, PG_PORT), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def pg_ok() -> bool:
    return postgres_reachable()


async def _pg_database(pg_ok: bool) -> AsyncIterator[str]:
    if not pg_ok:
        pytest.skip(f"PostgreSQL is not reachable on {PG_HOST}:{PG_PORT}")
    name = f"xl_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database="test")
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path, pg_ok: bool) -> AsyncIterator[str]:
    """A fresh, empty database: a SQLite file, then (when reachable) a PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
        return
    async for url in _pg_database(pg_ok):
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """SQLite only, for tests whose subject does not depend on the database kind."""
    return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"


def make_config(db_url: str, tmp_path: Path, **sections: dict) -> Config:
    config = load_config(None, {})
    config = config.replace(database={"url": db_url}, server={"data_dir": str(tmp_path)},
                            scheduler={"enabled": False})
    return config.replace(**sections) if sections else config


@pytest.fixture
def config(db_url: str, tmp_path: Path) -> Config:
    return make_config(db_url, tmp_path)


@pytest.fixture
async def client(aiohttp_client: Callable[..., Awaitable[TestClient]],
                 config: Config) -> TestClient:
    """The real application, on a real database, through aiohttp's test client."""
    return await aiohttp_client(create_app(config))


TokenFactory = Callable[..., Awaitable[dict[str, str]]]


@pytest.fixture
async def scheduler(client: TestClient) -> ManualScheduler:
    """The running app's telephony works on this scheduler and its clock from now on."""
    found = ManualScheduler()
    tel = client.app[TELEPHONY]
    tel.schedule = found
    tel.wall_clock = tel.resume_tokens.clock = found.time
    return found



@pytest.fixture
def auth(client: TestClient) -> TokenFactory:
    """``await auth("supervisor", orgs={"nhs-a"})`` -> headers carrying a fresh bearer token."""

    async def make(role: str, *, orgs: frozenset[str] | set[str] = frozenset(),
                   expert: str | None = None) -> dict[str, str]:
        db = client.app[DATABASE]
        async with db.transaction() as session:
            token, _ = await issue_token(session, role=Role(role), orgs=frozenset(orgs),
                                         expert_id=expert)
        return {"Authorization": f"Bearer {token}"}

    return make


@pytest.fixture
async def site(aiohttp_server: Callable[..., Awaitable[Any]], config: Config) -> Any:
    """The real app served on loopback for a browser, its pool seeded
    (``tests.engine_support.seed_pool``) and loaded by the routing engine."""
    from router.context import engine_of
    from skills.watch import EVERYTHING
    from tests.engine_support import seed_pool

    server = await aiohttp_server(create_app(config))
    await seed_pool(server.app[DATABASE])
    await engine_of(server.app)._reload_pool(EVERYTHING)
    return server
