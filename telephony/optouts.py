"""SMS/WhatsApp addresses that asked for no more messages (STOP), until they opt back in.

Kept in the database (``telephony.tables.OptOutRow``, hashed), so an opt-out survives a restart
and holds in every process. Keyed on the address exactly as Twilio gives it (``+44…`` or
``whatsapp:+44…``): SMS and WhatsApp opt out separately, as Twilio's own STOP handling does.
"""

from __future__ import annotations

import hashlib

from base.db import Sessions, writing
from telephony.tables import OptOutRow


def address_hash(address: str) -> str:
    return hashlib.sha256(address.encode("utf-8")).hexdigest()


class OptOuts:
    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    async def holds(self, address: str) -> bool:
        async with self._sessions() as session:
            return await session.get(OptOutRow, address_hash(address)) is not None

    async def add(self, address: str) -> None:
        """Idempotent: a second STOP changes nothing."""
        key = address_hash(address)
        async with writing(self._sessions) as session:
            if await session.get(OptOutRow, key) is None:
                session.add(OptOutRow(address_hash=key))

    async def discard(self, address: str) -> None:
        async with writing(self._sessions) as session:
            found = await session.get(OptOutRow, address_hash(address))
            if found is not None:
                await session.delete(found)

    def __repr__(self) -> str:
        return "<OptOuts (database)>"
