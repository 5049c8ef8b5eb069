"""The append-only audit log: who changed what in the pool, and every assignment.

``record`` adds an entry to the caller's session, so it commits (or rolls back) with the change it
describes. The table refuses UPDATE and DELETE at the database level (a trigger, see migrations).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from base.access import Principal
from base.clock import now_utc, utc


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_entry"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=now_utc, sa_type=sa.DateTime(timezone=True), index=True)
    actor: str = Field(max_length=128)
    action: str = Field(max_length=64)  # create | update | delete | import | assign | watchdog…
    entity: str = Field(max_length=64)  # expert | skill | organisation | contact | offer…
    entity_id: str = Field(max_length=128, index=True)
    before: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    after: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)

    def to_json(self) -> dict[str, Any]:
        at = utc(self.at)
        return {
            "id": self.id, "at": at.isoformat() if at else None, "actor": self.actor,
            "action": self.action, "entity": self.entity, "entity_id": self.entity_id,
            "before": self.before, "after": self.after,
        }


def record(
    session: AsyncSession,
    *,
    actor: Principal | str,
    action: str,
    entity: str,
    entity_id: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add an audit entry to ``session``; it is committed with the change it describes."""
    made = entry(actor=actor, action=action, entity=entity, entity_id=entity_id,
                 before=before, after=after)
    session.add(made)
    return made


def entry(
    *,
    actor: Principal | str,
    action: str,
    entity: str,
    entity_id: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    """A new audit entry, not yet added anywhere (``record`` adds one to a session; the
    routing engine writes its entries in bulk)."""
    name = actor if isinstance(actor, str) else actor.actor
    return AuditEntry(actor=name, action=action, entity=entity, entity_id=str(entity_id),
                      before=before, after=after)


async def list_entries(
    session: AsyncSession, *, entity: str | None = None, entity_id: str | None = None,
    limit: int = 100, offset: int = 0,
) -> list[AuditEntry]:
    query = select(AuditEntry).order_by(col(AuditEntry.id).desc())
    if entity is not None:
        query = query.where(AuditEntry.entity == entity)
    if entity_id is not None:
        query = query.where(AuditEntry.entity_id == entity_id)
    result = await session.exec(query.offset(offset).limit(limit))
    return list(result.all())
