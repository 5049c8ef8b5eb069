"""The Scheduler on a real database with an injected clock (no sleeps): reconciliation across a
restart mid-shift, and a scheduled callback that survives a restart and is submitted once."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, time
from pathlib import Path

from base.db import Database
from expertline.schema import database
from router.ports import OnShift
from scheduler import rota
from scheduler.service import Scheduler
from scheduler.tables import ScheduledCallbackRow, ShiftPatternRow
from skills.models import Expert, Organisation
from tests.conftest import make_config
from tests.telephony_support import FakeRouting

NOW = datetime(2026, 12, 7, 16, 57, tzinfo=UTC)  # a Monday, GMT


class RecordingAvailability:
    """TEST DOUBLE of router.ports.AvailabilityPort (router/engine.py is not ready yet):
    records every rota picture it is given."""

    def __init__(self) -> None:
        self.applied: list[tuple[dict[str, OnShift], frozenset[str]]] = []

    async def apply_rota(self, on_shift: Mapping[str, OnShift], rostered: frozenset[str]) -> None:
        self.applied.append((dict(on_shift), rostered))


async def _pool(db: Database) -> None:
    day = rota.Weekly("p-ann", "ann", "Europe/London", days=(0, 1, 2, 3, 4), start=time(9),
                      end=time(17))
    async with db.transaction() as session:
        session.add(Organisation(id="nhs-a", name="NHS A"))
        await session.flush()
        session.add_all([Expert(id="ann", name="Ann", org_id="nhs-a"),
                         Expert(id="bob", name="Bob", org_id="nhs-a")])
        await session.flush()
        session.add(ShiftPatternRow(id="p-ann", expert_id="ann", kind="weekly",
                                    pattern=day.to_json()))


def _scheduler(db: Database, tmp_path: Path, clock: list[datetime], **ports: object) -> Scheduler:
    config = make_config(db.url, tmp_path)
    return Scheduler(sessions=db.session, config=config, clock=lambda: clock[0],
                     availability=lambda: ports.get("availability"),
                     routing=lambda: ports.get("routing"))


async def test_reconciliation_is_the_same_after_a_restart_mid_shift(db_url: str,
                                                                    tmp_path: Path) -> None:
    clock = [datetime(2026, 12, 7, 10, 0, tzinfo=UTC)]
    port = RecordingAvailability()
    async with database(db_url) as db:
        await _pool(db)
        first = _scheduler(db, tmp_path, clock, availability=port)
        assert await first.reconcile_now()
        await first.close()
        second = _scheduler(db, tmp_path, clock, availability=port)  # restarted mid-shift
        assert await second.reconcile_now()
        clock[0] = NOW
        await second.reconcile_now()
    ends = datetime(2026, 12, 7, 17, tzinfo=UTC).timestamp()
    assert port.applied[0] == port.applied[1] == ({"ann": OnShift("ann", ends)},
                                                  frozenset({"ann"}))
    assert port.applied[2][0] == {"ann": OnShift("ann", ends, voice_ok=False)}


async def test_no_engine_yet_means_nothing_is_applied(sqlite_url: str, tmp_path: Path) -> None:
    async with database(sqlite_url) as db:
        assert not await _scheduler(db, tmp_path, [NOW]).reconcile_now()


async def test_a_scheduled_callback_survives_a_restart_and_is_submitted_once(
        db_url: str, tmp_path: Path) -> None:
    routing = FakeRouting()
    clock = [NOW]
    async with database(db_url) as db:
        await _pool(db)
        async with db.transaction() as session:
            session.add(ScheduledCallbackRow(id="cb1", number="+447700900123", skill="dementia",
                                             language="en", due_at=NOW.timestamp() + 600))
        before = _scheduler(db, tmp_path, clock, routing=routing)
        assert await before.run_due_callbacks() == []  # not due yet
        await before.close()
        clock[0] = datetime(2026, 12, 7, 18, 0, tzinfo=UTC)  # restarted, now well past due
        after = _scheduler(db, tmp_path, clock, routing=routing)
        assert await after.run_due_callbacks() == ["cb1"]
        assert await after.run_due_callbacks() == []  # firing twice submits once
        async with db.session() as session:
            row = await session.get(ScheduledCallbackRow, "cb1")
    assert row is not None and row.state == "submitted" and row.contact_id == "c0001"
    (contact,) = routing.contacts.values()
    assert contact.request.external_ref == "scheduled-callback:cb1"
    assert contact.view.callback_number == "+447700900123"


async def test_jobs_are_rebuilt_from_the_database_on_start(sqlite_url: str,
                                                           tmp_path: Path) -> None:
    clock = [datetime(2026, 12, 7, 8, 0, tzinfo=UTC)]
    async with database(sqlite_url) as db:
        await _pool(db)
        async with db.transaction() as session:
            session.add(ScheduledCallbackRow(id="cb2", number="+447700900124", skill="dementia",
                                             due_at=clock[0].timestamp() + 60))
        config = make_config(db.url, tmp_path, scheduler={"enabled": True})
        sched = Scheduler(sessions=db.session, config=config, clock=lambda: clock[0],
                          availability=lambda: None, routing=lambda: None)
        async with sched:
            ids = sched.job_ids
        await sched.close()  # safe twice
    assert "reconcile" in ids and "callback:cb2" in ids
    assert "boundary:2026-12-07T09:00:00+00:00" in ids
    assert "boundary:2026-12-07T16:55:00+00:00" in ids
