"""The pure reconciliation decision: who is on shift at ``now``, across a clock change."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from router.ports import OnShift
from scheduler import reconcile, rota

LONDON = "Europe/London"
DAY = rota.Weekly("p1", "ann", LONDON, days=(0, 1, 2, 3, 4), start=time(9), end=time(17),
                  breaks=(rota.Break(30, at=time(12, 30)),))
NIGHT = rota.on_off(4, 4, id="p2", expert_id="bob", tz=LONDON, anchor=date(2026, 10, 22),
                    shift=rota.ShiftTime(time(19), time(7)))
MADRID = rota.Weekly("p3", "cruz", "Europe/Madrid", days=(0, 1, 2, 3, 4), start=time(9),
                     end=time(17))
LEAVE = rota.Absence("ann", LONDON, date(2026, 12, 24), date(2026, 12, 31))


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _ends(text: str) -> float:
    return _at(text).timestamp()


@pytest.mark.parametrize(("now", "expected"), [
    # Monday 7 Dec 2026 (GMT): Ann 09-17 London, Cruz 09-17 Madrid = 08-16 UTC
    ("2026-12-07T08:30", {"cruz": OnShift("cruz", _ends("2026-12-07T16:00"))}),
    ("2026-12-07T12:40", {"cruz": OnShift("cruz", _ends("2026-12-07T16:00"))}),  # Ann at lunch
    ("2026-12-07T15:57", {"ann": OnShift("ann", _ends("2026-12-07T17:00")),
                          "cruz": OnShift("cruz", _ends("2026-12-07T16:00"), voice_ok=False)}),
    ("2026-12-07T16:56", {"ann": OnShift("ann", _ends("2026-12-07T17:00"), voice_ok=False)}),
    ("2026-12-24T10:00", {"cruz": OnShift("cruz", _ends("2026-12-24T16:00"))}),  # Ann on leave
    # Bob's night 24/25 Oct 2026 spans the autumn change: 19:00 BST -> 07:00 GMT is 13 h
    ("2026-10-25T03:00", {"bob": OnShift("bob", _ends("2026-10-25T07:00"))}),
])
def test_who_is_on_shift(now: str, expected: dict[str, OnShift]) -> None:
    on_shift, rostered = reconcile.picture([DAY, NIGHT, MADRID], [LEAVE], _at(now), 5)
    assert on_shift == expected
    assert rostered == {"ann", "bob", "cruz"}


def test_boundaries_include_shift_edges_breaks_and_voice_cutoffs() -> None:
    now = _at("2026-12-07T00:00")
    edges = reconcile.boundaries([DAY], [], now, timedelta(hours=24), 5)
    assert [t.strftime("%H:%M") for t in edges] == ["09:00", "12:30", "13:00", "16:55", "17:00"]


def test_stored_rows_take_the_experts_current_time_zone() -> None:
    stored = [{**MADRID.to_json(), "tz": LONDON}, LEAVE.to_json() | {"kind": "absence"}]
    patterns, absences = reconcile.rota_of(stored, {"cruz": "Europe/Madrid", "ann": LONDON})
    assert patterns == [MADRID] and absences[0].start == LEAVE.start
