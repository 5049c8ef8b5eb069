"""SMS/WhatsApp addresses that asked for no more messages (STOP), until they opt back in.

Kept in the database (``telephony.tables.OptOutRow``), so an opt-out survives a restart and
holds in every process. Keyed on the address exactly as Twilio gives it (``+44…`` or
``whatsapp:+44…``): SMS and WhatsApp opt out separately, as Twilio's own STOP handling does.

The address is never stored: a row holds ``keyed_hash``, an HMAC-SHA256 of it under the key of
citizen references (``EXPERTLINE_PSEUDONYM_KEY``, else the random key kept in the database),
which the composition root passes in. A bare hash would not do: there are few enough phone
numbers to hash them all and read every opted-out number back from a copy of the table. The
HMAC covers the address behind a fixed purpose prefix, so an opt-out's hash cannot be matched
with the ``anon:`` references of the same number's anonymised contacts. Every process on one
database computes the same key (the key row is shared, or they share the environment), but a
changed key forgets every opt-out made under the old one: the key must not change.

Rows written before the key was used hold a plain SHA-256 of the address (``legacy_hash``).
They cannot be rewritten without the numbers, which are not kept, so they stay until touched:
``holds`` finds either kind and replaces a legacy row by the keyed one in one transaction, so
they disappear as citizens text again or as messages to them are stopped; ``add`` writes the
keyed hash only (and drops a legacy row); ``discard`` (START) removes both. An erasure of the
number (``expertline.governance.subjects``) looks for, and removes, both kinds.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable

from sqlmodel.ext.asyncio.session import AsyncSession

from base.db import Sessions, writing
from base.errors import DomainError
from telephony.tables import OptOutRow

log = logging.getLogger("telephony.optouts")

PURPOSE = b"expertline messaging opt-out\x00"

OptOutKey = bytes | Callable[[], Awaitable[bytes]]
"""The HMAC key, or an async function that returns it (called once, when first needed)."""


def keyed_hash(key: bytes, address: str) -> str:
    """How an opt-out is stored: 64 hex digits of HMAC-SHA256 under ``key``."""
    return hmac.new(key, PURPOSE + address.encode("utf-8"), hashlib.sha256).hexdigest()


def legacy_hash(address: str) -> str:
    """How an opt-out was stored before it was keyed: a plain SHA-256 (still read)."""
    return hashlib.sha256(address.encode("utf-8")).hexdigest()


class OptOuts:
    def __init__(self, sessions: Sessions, key: OptOutKey) -> None:
        if isinstance(key, bytes) and not key:
            raise ValueError("the opt-outs' key must not be empty")
        self._sessions = sessions
        self._key: bytes | None = key if isinstance(key, bytes) else None
        self._load: Callable[[], Awaitable[bytes]] | None = None if isinstance(key, bytes) \
            else key
        self._loading = asyncio.Lock()

    async def key(self) -> bytes:
        """The key, loaded on first use and kept (a failed load is tried again next time)."""
        if self._key is not None:
            return self._key
        async with self._loading:
            if self._key is None:
                assert self._load is not None
                loaded = await self._load()
                if not loaded:
                    raise ValueError("the opt-outs' key must not be empty")
                self._key = loaded
            return self._key

    async def hashes(self, address: str) -> tuple[str, str]:
        """The address's keyed hash and its legacy one."""
        return keyed_hash(await self.key(), address), legacy_hash(address)

    async def holds(self, address: str) -> bool:
        keyed, legacy = await self.hashes(address)
        async with self._sessions() as session:
            if await session.get(OptOutRow, keyed) is not None:
                return True
            if await session.get(OptOutRow, legacy) is None:
                return False
        try:
            async with writing(self._sessions) as session:
                await _rekey(session, keyed, legacy)
        except DomainError as exc:  # e.g. another process rekeyed it at the same moment
            log.warning("a legacy opt-out was not rekeyed (it still holds): %s", exc)
        return True

    async def add(self, address: str) -> None:
        """Idempotent: a second STOP changes nothing."""
        keyed, legacy = await self.hashes(address)
        async with writing(self._sessions) as session:
            if not await _rekey(session, keyed, legacy) \
                    and await session.get(OptOutRow, keyed) is None:
                session.add(OptOutRow(address_hash=keyed))

    async def discard(self, address: str) -> None:
        keyed, legacy = await self.hashes(address)
        async with writing(self._sessions) as session:
            for found in (await session.get(OptOutRow, keyed),
                          await session.get(OptOutRow, legacy)):
                if found is not None:
                    await session.delete(found)

    def __repr__(self) -> str:
        return "<OptOuts (database, keyed)>"


async def _rekey(session: AsyncSession, keyed: str, legacy: str) -> bool:
    """Replace a legacy row by the keyed one (since the same time); False if there is none."""
    old = await session.get(OptOutRow, legacy)
    if old is None:
        return False
    since = old.created_at
    await session.delete(old)
    if await session.get(OptOutRow, keyed) is None:
        session.add(OptOutRow(address_hash=keyed, created_at=since))
    return True
