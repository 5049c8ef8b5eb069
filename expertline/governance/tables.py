"""Governance's own tables: the key of the references that replace anonymised numbers, and the
one-transaction permission that lets the purge delete audit records past their period.

The audit log is append-only (a trigger refuses UPDATE and DELETE). Retention must still delete
records older than ``retention.audit_days``: since migration 0008 the trigger lets a DELETE
through only for a record older than the ``before`` of a row in ``audit_purge``. The purge
inserts that row, deletes, and removes the row again in one transaction, so no other
transaction ever sees it and nothing else can delete an audit record.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from base.clock import now_utc


class PseudonymKeyRow(SQLModel, table=True):
    """The HMAC key of citizen references when ``EXPERTLINE_PSEUDONYM_KEY`` is not set: made
    once at random (migration 0008), so every process on the database computes the same
    reference for the same number."""

    __tablename__ = "pseudonym_key"
    id: int = Field(primary_key=True)
    key: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=now_utc, sa_type=sa.DateTime(timezone=True))


class AuditPurgeRow(SQLModel, table=True):
    """Present only inside the purge's transaction: audit records older than ``before`` may
    be deleted while it is there."""

    __tablename__ = "audit_purge"
    id: int = Field(primary_key=True)
    before: datetime = Field(sa_type=sa.DateTime(timezone=True))
