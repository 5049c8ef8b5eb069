"""The breach forecast (issue 17, item 4): the pure outlook of one skill, then replayed in the
simulator against what the service level then did, on a surge nobody planned and on a calm day.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from scheduler.breach import (
    SkillNow,
    deviation,
    forecast,
    forecast_all,
    overflow,
    predicted_level,
)
from simulator.engine import simulate
from simulator.scenario import load_scenario

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "breach"
CALM_DAY = SkillNow(skill="benefits-advice", target_s=60, level=0.8, waiting=1, staffed=15,
                    nearby_spare=0.0, aht_s=332, planned_per_hour=(110, 110),
                    recent_arrivals=28, recent_planned=27.5, flex=("debt",))


def test_a_quarter_hour_within_poisson_noise_is_the_plan() -> None:
    assert deviation(33, 27.5) == 1.0  # about one standard deviation up
    assert deviation(22, 27.5) == 1.0
    surge = deviation(55, 27.5)  # twice the plan
    assert 1.5 < surge < 2.0  # the part beyond noise, so a little under 2


def test_capacity_below_demand_predicts_no_service_at_all() -> None:
    assert predicted_level(200, 332, 15, 0, 60, 1800) == 0.0  # 18.4 Erlangs on 15 experts
    assert predicted_level(0, 332, 0, 0, 60, 1800) == 1.0  # nobody calls, nobody needed


def test_a_backlog_beyond_the_usual_queue_costs_the_horizon_its_share() -> None:
    usual = predicted_level(110, 332, 15, 0, 60, 1800)
    assert predicted_level(110, 332, 15, 2, 60, 1800) == usual  # a queue like any day's
    behind = predicted_level(110, 332, 15, 30, 60, 1800)
    assert behind < usual * 0.8
    assert predicted_level(110, 332, 15, 30, 60, 3600) > behind  # drains within the hour


def test_a_calm_day_raises_no_alert() -> None:
    outlook = forecast(CALM_DAY)
    assert not outlook.breach and outlook.to_json()["suggestion"] is None
    assert [o.horizon_min for o in outlook.outlooks] == [30, 60]
    assert all(o.service_level > 0.8 for o in outlook.outlooks)


def test_a_surge_raises_an_alert_that_says_what_would_help() -> None:
    outlook = forecast(replace(CALM_DAY, recent_arrivals=50, waiting=12))
    assert outlook.breach and outlook.deviation > 1.4
    assert outlook.more_experts >= 3 and outlook.flex == ("debt",)
    said = outlook.to_json()["suggestion"]
    assert f"{outlook.more_experts} more experts on benefits-advice" in said
    assert "ask debt (on duty, related skill) to flex in" in said


def test_idle_neighbours_count_as_capacity() -> None:
    stretched = replace(CALM_DAY, staffed=12)
    assert forecast(stretched).breach
    assert not forecast(replace(stretched, nearby_spare=4.0)).breach


def _replay(name: str) -> list[dict[str, float | None]]:
    scenario = load_scenario(EXAMPLES / f"{name}.toml")
    runs = []
    for seed in range(1, 11):
        report = simulate(scenario, seed=seed).breach_forecast
        assert report is not None
        runs.append(report["by_skill"]["benefits-advice"])
    return runs


def test_the_alert_comes_before_the_service_level_falls_in_a_surge() -> None:
    """Ten seeds of an unplanned surge (100 more calls an hour for two hours): the measured
    service level (last 30 minutes) falls below 80 % in each, and the forecast warned first in
    at least nine."""
    runs = _replay("surge")
    assert all(run["service_level_fell_h"] is not None for run in runs)
    warned_first = [run for run in runs if run["first_alert_h"] is not None
                    and run["first_alert_h"] < run["service_level_fell_h"]]  # type: ignore[operator]
    assert len(warned_first) >= 9


def test_a_calm_day_stays_quiet_on_nine_seeds_in_ten() -> None:
    runs = _replay("calm")
    assert sum(1 for run in runs if run["alerts"] == 0) >= 9


@pytest.mark.parametrize("bad, message", [
    ("service_level = 1.0", "service_level: must be a fraction below 1"),
    ("forecast_every_s = -1", "forecast_every_s: must be >= 0"),
])
def test_bad_forecast_settings_are_refused(bad: str, message: str, tmp_path: Path) -> None:
    from base.errors import BadRequest

    text = (EXAMPLES / "calm.toml").read_text(encoding="utf-8")
    key = bad.split(" = ", maxsplit=1)[0]
    lines = [line for line in text.splitlines() if not line.startswith(f"{key} =")]
    lines.insert(lines.index("[simulation]") + 1, bad)
    path = tmp_path / "bad.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(BadRequest, match=message):
        load_scenario(path)


def test_a_neighbours_overflow_is_counted_against_the_experts_who_will_take_it() -> None:
    """Benefits at twice its plan outruns its 15 experts; the debt advisers one graph step
    away will take the excess, so their own callers are heading for a breach too."""
    surging = replace(CALM_DAY, recent_arrivals=60, waiting=10, flex=("debt",))
    debt = SkillNow(skill="debt-advice", target_s=60, level=0.8, waiting=0, staffed=8,
                    nearby_spare=0.0, aht_s=332, planned_per_hour=(40, 40),
                    recent_arrivals=10, recent_planned=10.0)
    lent = overflow({"benefits-advice": surging, "debt-advice": debt},
                    {"benefits-advice": ("debt-advice",)})
    assert lent["debt-advice"] > 2 and "benefits-advice" not in lent
    alone = forecast(debt)
    together = forecast_all({"benefits-advice": surging, "debt-advice": debt},
                            {"benefits-advice": ("debt-advice",)})
    assert not alone.breach and together["debt-advice"].breach
    calm = forecast_all({"benefits-advice": CALM_DAY, "debt-advice": debt},
                        {"benefits-advice": ("debt-advice",)})
    assert not calm["debt-advice"].breach  # nothing to lend on a calm day


def test_the_related_team_is_warned_before_its_own_level_falls_in_a_surge() -> None:
    scenario = load_scenario(EXAMPLES / "surge.toml")
    warned = 0
    for seed in range(1, 11):
        report = simulate(scenario, seed=seed).breach_forecast
        assert report is not None
        debt = report["by_skill"]["debt-advice"]
        fell, first = debt["service_level_fell_h"], debt["first_alert_h"]
        warned += fell is not None and first is not None and first < fell
    assert warned >= 9
