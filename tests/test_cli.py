"""The command line's own commands (issue 14): ``serve`` takes its port before it touches the
database.

What is about the process (a second server on a busy port) runs ``python -m expertline``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from expertline.cli import main
from tests.test_restart import ROOT, Server

# --- serve: the port first ------------------------------------------------------------------

@pytest.fixture
def running(tmp_path: Path) -> Iterator[Server]:
    """A real server on a free port, on its own (empty) database."""
    (tmp_path / "first").mkdir()
    found = Server(tmp_path / "first")
    found.start()
    yield found
    assert found.proc is not None
    found.proc.kill()
    found.proc.wait(10)


def _second_serve(port: int, data_dir: Path, *args: str) -> tuple[subprocess.CompletedProcess[str],
                                                                  float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXPERTLINE_")}
    env |= {"EXPERTLINE_DATA_DIR": str(data_dir), "EXPERTLINE_HOST": "127.0.0.1",
            "EXPERTLINE_PORT": str(port)}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "expertline", "serve", *args], env=env,
                          cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    return done, time.monotonic() - started


def test_serve_says_where_it_listens_once_ready(running: Server) -> None:
    assert running.call("GET", "/healthz") == (200, {"status": "ok"})
    lines = running.log.read_text().splitlines()
    assert sum(f"listening on http://127.0.0.1:{running.port}" in line for line in lines) == 1
    listening = next(i for i, line in enumerate(lines) if "listening on" in line)
    assert any("database ready" in line for line in lines[:listening])  # after start-up


def test_a_second_serve_on_a_busy_port_fails_at_once_and_creates_no_database(
        running: Server, tmp_path: Path) -> None:
    fresh = tmp_path / "second"
    done, took = _second_serve(running.port, fresh, "--demo")
    assert done.returncode == 2, done.stderr
    assert done.stderr == (f"expertline: error: cannot listen on 127.0.0.1:{running.port}: "
                           "address already in use\n")
    assert done.stdout == ""
    assert took < 15  # the interpreter's start-up, not a migration or a demo seed
    assert not fresh.exists()  # no data directory, no SQLite file
    assert running.call("GET", "/healthz") == (200, {"status": "ok"})  # the first one serves on


def test_a_second_serve_on_a_busy_port_leaves_an_existing_database_untouched(
        running: Server, tmp_path: Path) -> None:
    existing = tmp_path / "existing"
    subprocess.run([sys.executable, "-m", "expertline", "db", "upgrade"], cwd=ROOT, check=True,
                   env={**os.environ, "EXPERTLINE_DATA_DIR": str(existing)}, capture_output=True)
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in existing.iterdir()}
    done, _ = _second_serve(running.port, existing, "--demo")  # --demo would seed it
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1, done.stderr
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in existing.iterdir()} == before


@pytest.mark.parametrize("argv", [
    ["serve", "--port", "65536"], ["serve", "--port", "http"],
])
def test_serve_refuses_a_port_that_is_not_one(argv: list[str],
                                              capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert len(capsys.readouterr().err.splitlines()) == 1
