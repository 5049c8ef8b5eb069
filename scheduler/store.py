"""Data access for the scheduler: keyword-only functions over a session; None for absent."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from router.tables import ContactRow
from scheduler.tables import DailyReportRow, ScheduledCallbackRow, ShiftPatternRow
from skills.models import Expert


async def all_patterns(session: AsyncSession) -> list[dict[str, Any]]:
    """Every stored pattern's JSON (``kind`` included), for reconciliation."""
    rows = (await session.exec(select(ShiftPatternRow).order_by(ShiftPatternRow.id))).all()
    return [{**r.pattern, "kind": r.kind, "id": r.id, "expert_id": r.expert_id} for r in rows]


async def zones(session: AsyncSession) -> dict[str, str]:
    """Expert id -> IANA time zone, for active experts."""
    rows = (await session.exec(select(Expert.id, Expert.timezone).where(
        col(Expert.active).is_(True)))).all()
    return dict(rows)


async def callbacks(session: AsyncSession, *, state: str | None = None,
                    due_by: float | None = None) -> Sequence[ScheduledCallbackRow]:
    query = select(ScheduledCallbackRow).order_by(col(ScheduledCallbackRow.due_at))
    if state is not None:
        query = query.where(ScheduledCallbackRow.state == state)
    if due_by is not None:
        query = query.where(ScheduledCallbackRow.due_at <= due_by)
    return (await session.exec(query)).all()


async def get_callback(session: AsyncSession, *, callback_id: str) -> ScheduledCallbackRow | None:
    return await session.get(ScheduledCallbackRow, callback_id)


async def contacts_between(session: AsyncSession, *, start: float,
                           end: float) -> list[tuple[str, str, float | None]]:
    query = select(ContactRow.skill, ContactRow.state, ContactRow.waited_s).where(
        col(ContactRow.arrived_at) >= start, col(ContactRow.arrived_at) < end)
    return [(skill, state, waited) for skill, state, waited in (await session.exec(query)).all()]


async def put_report(session: AsyncSession, *, day: date, summary: dict[str, Any]) -> None:
    row = await session.get(DailyReportRow, day)
    if row is None:
        session.add(DailyReportRow(day=day, summary=summary))
    else:
        row.summary = summary
        session.add(row)


async def get_report(session: AsyncSession, *, day: date) -> DailyReportRow | None:
    return await session.get(DailyReportRow, day)
