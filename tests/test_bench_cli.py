"""``expertline bench``: the documented routing figures, and bad arguments exit 2 in one line."""

from __future__ import annotations

import json

import pytest

from expertline.cli import main

DOCUMENTED_KEYS = {"experts", "skills", "waiting", "decisions", "p50_us", "p99_us", "per_s"}


def test_bench_routing_prints_the_contract_figures(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["bench", "routing", "--experts", "300", "--skills", "40", "--waiting", "30",
                 "--decisions", "500", "--json"])
    figures = json.loads(capsys.readouterr().out)
    assert code == 0 and figures.keys() >= DOCUMENTED_KEYS
    assert (figures["experts"], figures["skills"], figures["waiting"]) == (300, 40, 30)
    assert figures["decisions"] == 500 and figures["per_s"] > 0
    assert 0 < figures["p50_us"] <= figures["p99_us"]


def test_bench_routing_rounds_report_the_median_round(
        capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["bench", "routing", "--experts", "300", "--skills", "40", "--waiting", "30",
                 "--decisions", "400", "--rounds", "3", "--json"])
    figures = json.loads(capsys.readouterr().out)
    assert code == 0 and figures.keys() >= DOCUMENTED_KEYS
    assert figures["decisions"] == 1200 and figures["rounds"] == 3
    by_round = figures["p99_us_by_round"]
    assert len(by_round) == 3 and figures["p99_us"] == sorted(by_round)[1]


@pytest.mark.parametrize("argv", [
    ["bench", "routing", "--experts", "many"],
    ["bench", "routing", "--experts", "0"],
    ["bench", "routing", "--rounds", "0"],
    ["bench", "pool-load", "--skills", "2", "--skills-per-expert", "5"],
])
def test_bad_bench_arguments_exit_2_in_one_line(argv: list[str],
                                                capsys: pytest.CaptureFixture[str]) -> None:
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "error" in err


def test_bench_stats_times_readings_of_the_live_figures(
        capsys: pytest.CaptureFixture[str]) -> None:
    from bench import stats

    assert stats.main(["--contacts", "200", "--rounds", "3"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert (figures["bench"], figures["contacts_today"], figures["rounds"]) == ("stats", 200, 3)
    assert 0 < figures["median_ms"] <= figures["max_ms"]


def test_bench_simulator_sets_our_simulator_beside_ciw(
        capsys: pytest.CaptureFixture[str]) -> None:
    from bench import simulator

    assert simulator.main(["--hours", "3", "--repeats", "1", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["bench"] == "simulator" and figures["scenario"].startswith("M/M/14")
    assert figures["expertline_graph_per_min"] > 0 and figures["ciw_per_min"] > 0
    assert figures["ratio"] == pytest.approx(
        figures["expertline_graph_per_min"] / figures["ciw_per_min"], rel=0.01)


def test_bench_escalation_prints_one_row_per_scenario(
        capsys: pytest.CaptureFixture[str]) -> None:
    from pathlib import Path

    from bench import escalation

    light = Path(__file__).resolve().parent.parent / "examples" / "escalation"
    assert escalation.main([str(light / "older-people-light.toml"), "--seeds", "1",
                            "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["scenario"] == "older-people-light" and row["target_s"] == 20
    assert row["exact_share"] >= 0.95 and row["graph_sl"] >= row["fixed_sl"]
