"""The command line's own commands (issue 14): ``serve`` takes its port before it touches the
database, ``--config`` after the sub-command, and ``token create|list|revoke``.

What is about the process (a second server on a busy port) runs ``python -m expertline``; the
rest calls ``expertline.cli.main`` in a thread (it runs its own event loop) on a real database.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlmodel import select

from base import audit
from expertline.app import DATABASE
from expertline.auth import ApiToken
from expertline.cli import build_parser, main
from expertline.schema import database
from skills.models import Expert, Organisation
from tests.test_restart import ROOT, Server

TOKEN_KEYS = ["id", "label", "role", "org", "expert", "created_at", "expires_at",
              "last_used_at", "revoked_at"]


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


HEALTHY = {"status": "ok", "role": "leader", "epoch": None}


def test_serve_says_where_it_listens_once_ready(running: Server) -> None:
    assert running.call("GET", "/healthz") == (200, HEALTHY)
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
    assert running.call("GET", "/healthz") == (200, HEALTHY)  # the first one serves on


def test_a_second_serve_on_a_busy_port_leaves_an_existing_database_untouched(
        running: Server, tmp_path: Path) -> None:
    existing = tmp_path / "existing"
    subprocess.run([sys.executable, "-m", "expertline", "db", "upgrade"], cwd=ROOT, check=True,
                   env={**os.environ, "EXPERTLINE_DATA_DIR": str(existing)}, capture_output=True)
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in existing.iterdir()}
    done, _ = _second_serve(running.port, existing, "--demo")  # --demo would seed it
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1, done.stderr
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in existing.iterdir()} == before


def test_serve_takes_config_after_the_subcommand(running: Server, tmp_path: Path) -> None:
    """The port comes from the file named after ``serve``: it is the busy one."""
    config = tmp_path / "busy.toml"
    config.write_text(f'[server]\nhost = "127.0.0.1"\nport = {running.port}\n'
                      f'data_dir = "{tmp_path / "third"}"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXPERTLINE_")}
    done = subprocess.run([sys.executable, "-m", "expertline", "serve", "--config", str(config)],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 2
    assert f"cannot listen on 127.0.0.1:{running.port}" in done.stderr
    assert not (tmp_path / "third").exists()


@pytest.mark.parametrize("argv", [
    ["serve", "--port", "65536"], ["serve", "--port", "http"],
])
def test_serve_refuses_a_port_that_is_not_one(argv: list[str],
                                              capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert len(capsys.readouterr().err.splitlines()) == 1


# --- --config in either place ---------------------------------------------------------------

@pytest.mark.parametrize("argv", [
    ["--config", "x.toml", "serve"], ["serve", "--config", "x.toml"],
    ["--config", "x.toml", "token", "list"], ["token", "list", "--config", "x.toml"],
    ["token", "create", "--role", "admin", "--config", "x.toml"],
    ["erlang", "c", "--per-hour", "1", "--aht", "1", "--agents", "1", "--target", "20",
     "--config", "x.toml"],
])
def test_config_is_read_before_or_after_the_subcommand(argv: list[str]) -> None:
    assert build_parser().parse_args(argv).config == "x.toml"


def test_config_after_the_subcommand_wins_over_one_before() -> None:
    args = build_parser().parse_args(["--config", "a.toml", "token", "list", "--config", "b.toml"])
    assert args.config == "b.toml"
    assert build_parser().parse_args(["token", "list"]).config is None


# --- tokens, in process, on a real database ---------------------------------------------------

async def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``expertline ARGV`` in process: (exit code, stdout, stderr)."""
    try:
        code = await asyncio.to_thread(main, list(argv))
    except SystemExit as exc:  # argparse's own refusals
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
async def pool(db_url: str, monkeypatch: pytest.MonkeyPatch,
               capsys: pytest.CaptureFixture[str]) -> str:
    """The CLI pointed at ``db_url``, which holds two organisations and one expert."""
    monkeypatch.setenv("EXPERTLINE_DATABASE_URL", db_url)
    async with database(db_url) as db, db.transaction() as session:
        session.add_all([Organisation(id="nhs-a", name="NHS A"),
                         Organisation(id="council-b", name="Council B")])
        await session.flush()
        session.add(Expert(id="e-ann", name="Ann", org_id="nhs-a"))
    capsys.readouterr()
    return db_url


async def _rows(db_url: str) -> list[ApiToken]:
    async with database(db_url) as db, db.session() as session:
        return list((await session.exec(select(ApiToken))).all())


async def test_token_create_refuses_ids_not_in_the_pool(pool: str,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    for argv, message in [
        (("--role", "expert", "--expert", "e-nobody"), "no expert e-nobody in the pool"),
        (("--role", "supervisor", "--org", "nhs-a", "--org", "nhs-z"),
         "no organisation nhs-z in the pool"),
    ]:
        code, out, err = await cli(capsys, "token", "create", *argv)
        assert (code, out, err) == (2, "", f"expertline: error: {message}\n")
    assert await _rows(pool) == []  # nothing issued
    code, out, _ = await cli(capsys, "token", "create", "--role", "supervisor",
                             "--org", "nhs-a", "--org", "council-b")
    assert code == 0 and out.startswith("xl_")
    code, out, _ = await cli(capsys, "token", "create", "--role", "expert", "--expert", "e-ann")
    assert code == 0 and out.startswith("xl_")


@pytest.mark.parametrize("days", ["0", "-3", "soon"])
async def test_token_create_refuses_days_that_are_not_positive(
        pool: str, capsys: pytest.CaptureFixture[str], days: str) -> None:
    code, out, err = await cli(capsys, "token", "create", "--role", "admin", "--days", days)
    assert code == 2 and out == "" and len(err.splitlines()) == 1 and "--days" in err


async def test_token_list_json_never_shows_the_secret(pool: str,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    _, admin, _ = await cli(capsys, "token", "create", "--role", "admin", "--label", "ops",
                            "--days", "30")
    _, desk, _ = await cli(capsys, "token", "create", "--role", "expert", "--expert", "e-ann")
    await cli(capsys, "token", "create", "--role", "supervisor", "--org", "nhs-a",
              "--org", "council-b", "--label", "sup")
    code, out, err = await cli(capsys, "token", "list", "--json")
    assert code == 0 and err == ""
    assert admin.strip() not in out and desk.strip() not in out
    listed = json.loads(out)
    assert [list(t) for t in listed] == [TOKEN_KEYS] * 3
    ops, ann, sup = listed
    assert (ops["label"], ops["role"], ops["org"], ops["expert"]) == ("ops", "admin", None, None)
    assert (ann["role"], ann["org"], ann["expert"]) == ("expert", None, "e-ann")
    assert (sup["role"], sup["org"], sup["expert"]) == ("supervisor", "council-b,nhs-a", None)
    created = datetime.fromisoformat(ops["created_at"])
    expires = datetime.fromisoformat(ops["expires_at"])
    assert created.tzinfo is not None
    assert abs(expires - created - timedelta(days=30)) < timedelta(minutes=1)
    assert ann["expires_at"] is None  # no --days, no expiry
    assert all(t["last_used_at"] is None and t["revoked_at"] is None for t in listed)


async def test_token_list_table(pool: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = await cli(capsys, "token", "list")
    assert code == 0 and out.split() == ["id", "role", "scope", "label", "created", "expires",
                                         "last", "used", "revoked"]
    _, secret, _ = await cli(capsys, "token", "create", "--role", "expert", "--expert", "e-ann",
                             "--label", "Ann's desk")
    await cli(capsys, "token", "revoke", "1")
    code, out, _ = await cli(capsys, "token", "list")
    header, row = out.splitlines()
    assert secret.strip() not in out
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    cells = row.split()
    assert cells[:6] == ["1", "expert", "e-ann", "Ann's", "desk", today]
    assert cells[7:10] == ["-", "-", today]  # no expiry, never used, revoked today
    assert row[header.index("revoked"):].startswith(today)  # the columns line up


async def test_token_revoke_sets_revoked_at_and_audits_it(
        pool: str, capsys: pytest.CaptureFixture[str]) -> None:
    await cli(capsys, "token", "create", "--role", "admin", "--label", "old laptop")
    code, out, err = await cli(capsys, "token", "revoke", "1")
    assert (code, out, err) == (0, "revoked token 1 (old laptop)\n", "")
    [row] = await _rows(pool)
    assert row.revoked_at is not None
    async with database(pool) as db, db.session() as session:
        entries = await audit.list_entries(session, entity="api_token", entity_id="1")
    assert sorted((e.actor, e.action) for e in entries) == [("cli", "create"), ("cli", "revoke")]

    code, out, err = await cli(capsys, "token", "revoke", "1")  # the first revocation stands
    assert code == 2 and out == "" and len(err.splitlines()) == 1 and "already revoked" in err
    code, out, err = await cli(capsys, "token", "revoke", "99")
    assert (code, out, err) == (2, "", "expertline: error: no token 99\n")
    code, _, err = await cli(capsys, "token", "revoke", "first")
    assert code == 2 and len(err.splitlines()) == 1


async def test_config_file_named_after_the_subcommand_is_the_one_used(
        db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("EXPERTLINE_DATABASE_URL", raising=False)
    config = tmp_path / "other.toml"
    config.write_text(f'[database]\nurl = "{db_url}"\n')
    code, _, _ = await cli(capsys, "token", "create", "--role", "admin", "--label", "after",
                           "--config", str(config))
    assert code == 0
    code, _, _ = await cli(capsys, "--config", str(config), "token", "create", "--role", "admin",
                           "--label", "before")
    assert code == 0
    for argv in (("token", "list", "--json", "--config", str(config)),
                 ("--config", str(config), "token", "list", "--json")):
        code, out, _ = await cli(capsys, *argv)
        assert [t["label"] for t in json.loads(out)] == ["after", "before"]


# --- tokens through the real app ------------------------------------------------------------

async def test_a_revoked_token_is_refused_at_once(client: TestClient, config: Any,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("EXPERTLINE_DATABASE_URL", config.database_url)
    capsys.readouterr()
    _, secret, _ = await cli(capsys, "token", "create", "--role", "admin", "--label", "gone")
    headers = {"Authorization": f"Bearer {secret.strip()}"}
    assert (await client.get("/api/v1/skills", headers=headers)).status == 200
    code, out, _ = await cli(capsys, "token", "revoke", "1")
    assert (code, out) == (0, "revoked token 1 (gone)\n")
    refused = await client.get("/api/v1/skills", headers=headers)
    assert refused.status == 401
    assert (await refused.json())["error"]["message"] == "unknown or revoked token"


async def test_an_expired_token_is_refused_and_a_used_one_recorded(
        client: TestClient, config: Any, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("EXPERTLINE_DATABASE_URL", config.database_url)
    capsys.readouterr()
    _, secret, _ = await cli(capsys, "token", "create", "--role", "admin", "--days", "1")
    headers = {"Authorization": f"Bearer {secret.strip()}"}
    assert (await client.get("/api/v1/skills", headers=headers)).status == 200
    _, out, _ = await cli(capsys, "token", "list", "--json")
    [listed] = json.loads(out)
    used = datetime.fromisoformat(listed["last_used_at"])
    assert abs(datetime.now(UTC) - used) < timedelta(minutes=1)

    async with client.app[DATABASE].transaction() as session:  # a day later
        row = await session.get(ApiToken, listed["id"])
        assert row is not None
        row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
        session.add(row)
    refused = await client.get("/api/v1/skills", headers=headers)
    assert refused.status == 401
    assert (await refused.json())["error"]["message"] == "expired token"
