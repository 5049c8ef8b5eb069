"""The scheduler's tables: shift patterns per expert, scheduled callbacks, daily reports.

``ShiftPatternRow.pattern`` holds a ``scheduler.rota`` pattern (or absence) in its ``to_json`` form;
its ``tz`` is refreshed from the expert's own time zone when it is read back. Callback and report
times are epoch seconds, like the routing tables.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from base.clock import now_utc

PATTERN_KINDS = ("weekly", "cycle", "one_off", "absence")
CALLBACK_STATES = ("pending", "submitted", "failed")


def _ts() -> Any:
    return Field(default_factory=now_utc, sa_type=sa.DateTime(timezone=True))


class ShiftPatternRow(SQLModel, table=True):
    """One shift pattern (weekly, cycle, one_off) or absence of one expert."""

    __tablename__ = "shift_pattern"
    id: str = Field(primary_key=True, max_length=40)
    expert_id: str = Field(foreign_key="expert.id", ondelete="CASCADE", index=True,
                           max_length=64)
    kind: str = Field(max_length=16)
    pattern: dict[str, Any] = Field(sa_type=sa.JSON)
    wtr_override: bool = False
    override_reason: str = Field(default="", max_length=500)
    created_by: str = Field(default="", max_length=128)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class ScheduledCallbackRow(SQLModel, table=True):
    """A callback a citizen asked for at a time; submitted once to the routing engine."""

    __tablename__ = "scheduled_callback"
    id: str = Field(primary_key=True, max_length=40)
    number: str = Field(max_length=32)  # E.164: never logged whole
    skill: str = Field(max_length=64)
    language: str = Field(default="en", max_length=16)
    due_at: float = Field(index=True)
    state: str = Field(default="pending", max_length=16, index=True)
    contact_id: str | None = Field(default=None, max_length=40)
    error: str = Field(default="", max_length=200)
    created_by: str = Field(default="", max_length=128)
    created_at: datetime = _ts()
    submitted_at: float | None = None


class DailyReportRow(SQLModel, table=True):
    """Yesterday's contacts summarised (Europe/London dates); rewritten if the job runs twice."""

    __tablename__ = "daily_report"
    day: date = Field(primary_key=True)
    summary: dict[str, Any] = Field(sa_type=sa.JSON)
    created_at: datetime = _ts()
