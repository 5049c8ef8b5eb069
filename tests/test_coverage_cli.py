"""``expertline coverage`` on a seeded temp database: the table, --json, and bad arguments."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from expertline.cli import main
from expertline.demo import build_demo_pool
from expertline.demo_desk import FOR_PEOPLE
from expertline.demo_shifts import demo_patterns


@pytest.fixture
def seeded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EXPERTLINE_DATA_DIR", str(tmp_path))
    assert main(["seed", "--demo"]) == 0
    return tmp_path


def _next_tuesday() -> str:
    today = datetime.now(UTC).date()
    return (today + timedelta(days=(1 - today.weekday()) % 7 or 7)).isoformat()


def test_coverage_json_for_the_demo_pool(seeded: Path, capsys: pytest.CaptureFixture) -> None:
    capsys.readouterr()
    assert main(["coverage", "--date", _next_tuesday(), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    by_time: dict[str, float] = {}
    for cell in out["cells"]:
        by_time[cell["start"]] = by_time.get(cell["start"], 0) + cell["contacts"]
    assert len(by_time) == 48 and sum(by_time.values()) > 500  # a weekday's demand
    busiest = max(by_time, key=by_time.__getitem__)
    assert 8 <= datetime.fromisoformat(busiest).hour <= 16
    assert out["by_skill"]["dementia"]["peak_required"] >= 2


def test_coverage_table_for_one_skill(seeded: Path, capsys: pytest.CaptureFixture) -> None:
    capsys.readouterr()
    assert main(["coverage", "--date", _next_tuesday(), "--skill", "dementia"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["local", "contacts", "required"] and len(lines) == 49


@pytest.mark.parametrize("argv", [["coverage", "--date", "tuesday"],
                                  ["coverage", "--date", "2026-12-08", "--skill", "nope"],
                                  ["coverage", "--date", "2026-12-08", "--days", "99"]])
def test_bad_arguments_exit_2_with_one_line(seeded: Path, capsys: pytest.CaptureFixture,
                                            argv: list[str]) -> None:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        raise SystemExit(main(argv))
    assert exited.value.code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_every_demo_expert_has_a_valid_deterministic_pattern() -> None:
    """Every demo expert but the ones left for a person to be (no rota keeps them off)."""
    experts = build_demo_pool(7, 120)["experts"]
    rows = demo_patterns(7, experts)
    assert [r.expert_id for r in rows] == [e["id"] for e in experts
                                           if e["id"] not in FOR_PEOPLE]
    assert [r.pattern for r in rows] == [r.pattern for r in demo_patterns(7, experts)]
    kinds = {(r.kind, r.pattern.get("sequence")) for r in rows}
    assert ("cycle", "DDDD----") in kinds and ("weekly", None) in kinds
    assert any(r.pattern["tz"] != "Europe/London" for r in rows)
    assert date.fromisoformat(_next_tuesday()).weekday() == 1
