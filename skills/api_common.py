"""What every pool route shares: the injected dependencies, transactions, ids in paths, audit.

``PoolApi`` carries the session factory the composition root injected, the ``PoolWatch`` and
``live_contacts``: how many contacts not yet finished ask for a skill, by state (the contacts
are the routing engine's, which this package cannot import: the composition root passes the
query in; without one, none).
``writing()`` is one transaction (``base.db.writing``): the change and its audit record commit
together or not at all; a constraint the database refuses becomes a 409, never a 500.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from aiohttp import web
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from base import audit
from base.access import Principal
from base.api_spec import Path
from base.db import Sessions, writing
from base.errors import NotFound
from base.inputs import parse_id
from skills import pool
from skills.graph import SkillGraph
from skills.watch import PoolChange, PoolWatch

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
EXPERT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")  # HR ids too (E1234, jo.smith)
MAX_ID = 64
SLUG_HINT = "a slug: lower-case letters, digits and single hyphens, at most 64 characters"
TAXONOMY_LOCK_KEY = 0x5E11_5000  # pg_advisory_xact_lock key serialising taxonomy writes
SLUG_PATH = Path(SLUG, MAX_ID, doc=SLUG_HINT)  # what path_slug accepts
EXPERT_PATH = Path(EXPERT_ID, MAX_ID, doc="an expert's id")  # what path_expert accepts
NUMERIC_PATH = Path(integer=True)  # what path_int accepts


def is_slug(value: str) -> bool:
    return len(value) <= MAX_ID and SLUG.match(value) is not None


def is_expert_id(value: str) -> bool:
    return len(value) <= MAX_ID and EXPERT_ID.match(value) is not None


def path_slug(request: web.Request, what: str, key: str = "id") -> str:
    """A slug from the path; a malformed one cannot name anything, so it is a 404."""
    value = request.match_info[key]
    if not is_slug(value):
        raise NotFound(f"no {what} {value!r} (ids are {SLUG_HINT})")
    return value


def path_expert(request: web.Request) -> str:
    value = request.match_info["id"]
    if not is_expert_id(value):
        raise NotFound(f"no expert {value!r}")
    return value


def path_int(request: web.Request, what: str, key: str) -> int:
    """A numeric id from the path (ASCII digits, one the database can hold), else a 404."""
    value = request.match_info[key]
    found = parse_id(value)
    if found is None:
        raise NotFound(f"no {what} {value!r}")
    return found


# (session, skill id) -> {state: count} of the contacts not yet finished that ask for the skill
LiveContacts = Callable[[AsyncSession, str], Awaitable[Mapping[str, int]]]


async def no_live_contacts(session: AsyncSession, skill_id: str) -> Mapping[str, int]:
    """``LiveContacts`` for an app without a routing engine: no contact waits for anything."""
    return {}


@dataclass(frozen=True, slots=True)
class PoolApi:
    sessions: Sessions
    watch: PoolWatch
    live_contacts: LiveContacts = no_live_contacts

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session:
            yield session

    def writing(self) -> AbstractAsyncContextManager[AsyncSession]:
        """One transaction; integrity errors become 409, a locked database 503."""
        return writing(self.sessions)

    async def lock_taxonomy(self, session: AsyncSession) -> None:
        """See ``lock_taxonomy``; callers also hold ``watch.taxonomy_lock`` around the
        transaction and the publish."""
        await lock_taxonomy(session)

    async def graph(self, session: AsyncSession) -> SkillGraph:
        """The cached skills graph (built from ``session`` when there is none)."""
        return await self.watch.graph(lambda: pool.load_specs(session))

    def record(
        self,
        session: AsyncSession,
        who: Principal,
        *,
        action: str,
        entity: str,
        entity_id: str,
        before: Any = None,
        after: Any = None,
    ) -> None:
        """Add the audit entry to ``session``: it commits with the change it describes."""
        audit.record(
            session,
            actor=who,
            action=action,
            entity=entity,
            entity_id=entity_id,
            before=before,
            after=after,
        )

    async def changed(self, change: PoolChange, *, graph: SkillGraph | None = None) -> None:
        await self.watch.publish(change, graph=graph)


async def lock_taxonomy(session: AsyncSession) -> None:
    """On PostgreSQL, hold a transaction lock so taxonomy writes of all processes (skill
    edits, imports, the CLI's import) queue up: each checks cycles and builds its graph from
    what the one before it committed. SQLite lets one writer at a time anyway."""
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        await session.exec(select(sa.func.pg_advisory_xact_lock(TAXONOMY_LOCK_KEY)))


POOL_API = web.AppKey("skills.pool_api", PoolApi)


def api_of(request: web.Request) -> PoolApi:
    return request.app[POOL_API]
