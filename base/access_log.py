"""The access log: who read which citizen's contact, when, and through what.

The audit log records changes; this records reads of a citizen's details (their number, their
words, their contact's history), which information governance must be able to answer for
("who looked at my record?"). ``record_read`` adds a row to the caller's session; the
contact's id names the citizen (never their number). Rows are kept ``retention.audit_days``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel, col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from base.access import Principal
from base.clock import now_utc, utc

VIAS = ("api", "console")  # where the read was made: the JSON API, or the console's pages


class AccessLogEntry(SQLModel, table=True):
    __tablename__ = "access_log"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=now_utc, sa_type=sa.DateTime(timezone=True), index=True)
    actor: str = Field(max_length=128)  # as the audit log names people (Principal.actor)
    contact_id: str = Field(max_length=40, index=True)
    via: str = Field(max_length=16)  # api | console
    what: str = Field(max_length=32)  # detail (one contact's page) | list (shown in a list)

    def to_json(self) -> dict[str, Any]:
        at = utc(self.at)
        return {"id": self.id, "at": at.isoformat() if at else None, "actor": self.actor,
                "contact_id": self.contact_id, "via": self.via, "what": self.what}


def record_reads(session: AsyncSession, *, reader: Principal | str, contact_ids: list[str],
                 via: str, what: str, at: datetime | None = None) -> None:
    """Add one row per contact read to ``session`` (committed by the caller)."""
    actor = reader if isinstance(reader, str) else reader.actor
    when = at or now_utc()
    session.add_all([AccessLogEntry(at=when, actor=actor, contact_id=contact_id, via=via,
                                    what=what) for contact_id in contact_ids])


async def list_reads(session: AsyncSession, *, contact_id: str | None = None,
                     limit: int = 100, offset: int = 0) -> tuple[list[AccessLogEntry], int]:
    """Newest first, with the total matching."""
    query = select(AccessLogEntry)
    count = select(func.count()).select_from(AccessLogEntry)
    if contact_id is not None:
        query = query.where(AccessLogEntry.contact_id == contact_id)
        count = count.where(AccessLogEntry.contact_id == contact_id)
    found = await session.exec(query.order_by(col(AccessLogEntry.id).desc())
                               .offset(offset).limit(limit))
    total = (await session.exec(count)).one()
    return list(found.all()), int(total)
