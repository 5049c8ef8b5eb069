"""One fenced routing leader per PostgreSQL database.

Several ``expertline serve`` processes may share one PostgreSQL database; exactly one of them
runs the routing core. It holds the *lease*: the one row of ``routing_lease``, with the
holder's name, an ``epoch`` that grows by one with every new leader, and an expiry on the
database's clock (``clock_timestamp()``, never a host's own). The leader renews the lease well
before it expires; another process takes it only once it has expired, and bumps the epoch.

A lease alone cannot stop a leader that was paused (SIGSTOP, a long GC, a frozen VM) and wakes
up believing it still leads: it keeps its connections. So every routing commit is *fenced*:
the same transaction first locks the lease row ``FOR SHARE`` where ``epoch`` is still its own
(``Fence.check``). A deposed leader finds a newer epoch, raises ``Deposed``, and writes
nothing. A new leader's ``UPDATE`` of the row waits for any commit holding that share lock,
so the old leader's last commit lands before the new one reads the live state.

SQLite has no lease: one process, no fence (``Fence`` is None).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from base.db import Database

_ACQUIRE = sa.text("""
INSERT INTO routing_lease (id, holder, address, secret, epoch, expires_at)
VALUES (1, :holder, :address, :secret, 1, clock_timestamp() + make_interval(secs => :ttl))
ON CONFLICT (id) DO UPDATE
   SET holder = EXCLUDED.holder, address = EXCLUDED.address, secret = EXCLUDED.secret,
       epoch = routing_lease.epoch + 1, expires_at = EXCLUDED.expires_at
 WHERE routing_lease.expires_at < clock_timestamp()
RETURNING epoch
""")
_RENEW = sa.text("""
UPDATE routing_lease SET expires_at = clock_timestamp() + make_interval(secs => :ttl)
 WHERE id = 1 AND epoch = :epoch AND holder = :holder
RETURNING epoch
""")
_RELEASE = sa.text("""
UPDATE routing_lease SET expires_at = clock_timestamp()
 WHERE id = 1 AND epoch = :epoch AND holder = :holder
""")
_CURRENT = sa.text("""
SELECT epoch, holder, expires_at > clock_timestamp(), address, secret
  FROM routing_lease WHERE id = 1
""")
_FENCE = sa.text("SELECT epoch FROM routing_lease WHERE id = 1 AND epoch = :epoch FOR SHARE")


class Deposed(Exception):
    """Another process leads routing now (the lease's epoch moved on): write nothing more."""


@dataclass(frozen=True, slots=True)
class Holder:
    """Who holds the lease now, as the database sees it."""

    epoch: int
    holder: str
    live: bool  # not yet expired
    address: str = ""  # its base URL, for the others to relay requests to
    secret: str = field(default="", repr=False)  # sent with relayed requests


@dataclass(frozen=True, slots=True)
class Fence:
    """Checks, inside a write's own transaction, that ``epoch`` still leads."""

    epoch: int

    async def check(self, connection: AsyncConnection) -> None:
        found = (await connection.execute(_FENCE, {"epoch": self.epoch})).first()
        if found is None:
            raise Deposed(f"routing epoch {self.epoch} was deposed by a newer leader")


class Lease:
    """The routing lease of one PostgreSQL database, as seen by ``holder`` (a name that says
    which process it is, for logs and ``routing_lease.holder``)."""

    def __init__(self, database: Database, *, holder: str, ttl_s: float,
                 address: str = "") -> None:
        if database.dialect != "postgresql":
            raise ValueError("the routing lease needs PostgreSQL; SQLite runs one process")
        self.db = database
        self.holder = holder
        self.address = address
        self.ttl_s = ttl_s
        self.secret = ""  # this process's relay secret while it leads

    async def acquire(self) -> int | None:
        """The new epoch if this process now leads (with a new relay ``secret``), None while
        another's lease is live."""
        secret = secrets.token_hex(32)
        epoch = await self._scalar(_ACQUIRE, {"holder": self.holder, "ttl": self.ttl_s,
                                              "address": self.address, "secret": secret})
        if epoch is not None:
            self.secret = secret
        return epoch

    async def renew(self, epoch: int) -> bool:
        """Extend the lease by ``ttl_s`` from now; False if it is no longer ours."""
        params = {"holder": self.holder, "ttl": self.ttl_s, "epoch": epoch}
        return await self._scalar(_RENEW, params) == epoch

    async def release(self, epoch: int) -> None:
        """Let the lease expire now (a clean stop), so a follower need not wait out the TTL."""
        async with self.db.engine.begin() as connection:
            await connection.execute(_RELEASE, {"holder": self.holder, "epoch": epoch})

    async def current(self) -> Holder | None:
        async with self.db.engine.connect() as connection:
            row = (await connection.execute(_CURRENT)).first()
        if row is None:
            return None
        return Holder(int(row[0]), str(row[1]), bool(row[2]), str(row[3]), str(row[4]))

    async def _scalar(self, statement: sa.TextClause, params: dict[str, object]) -> int | None:
        async with self.db.engine.begin() as connection:
            found = (await connection.execute(statement, params)).scalar()
        return None if found is None else int(found)
