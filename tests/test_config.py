"""Configuration: defaults load, the environment overrides, bad values stop start-up naming
the key."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from base.config import DEFAULT_CONFIG, Config, ConfigError, load_config

ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(DEFAULT_CONFIG.read_text() + "\n" + text if text.startswith("#+") else text)
    return path


def test_defaults_load_and_are_frozen() -> None:
    config = load_config(None, {})
    assert config.server.port == 8080
    assert config.routing.policy == "graph"
    assert config.routing.steps[0].after_s == 0
    assert config.voice.menu["1"] == "dementia"
    assert not config.twilio.enabled
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.server.port = 1  # type: ignore[misc]


def test_environment_overrides_file() -> None:
    env = {"EXPERTLINE_PORT": "9090", "EXPERTLINE_DATABASE_URL": "postgresql+asyncpg://u@h/db",
           "EXPERTLINE_PUBLIC_URL": "https://x.example"}
    config = load_config(None, env)
    assert config.server.port == 9090
    assert config.database_url == "postgresql+asyncpg://u@h/db"
    assert config.server.public_url == "https://x.example"


@pytest.mark.parametrize(
    ("toml", "env", "key"),
    [
        ("[server]\nprot = 1\n", {}, "server.prot: unknown key"),
        ("[nosuch]\n", {}, "nosuch: unknown key"),
        ("[server]\nport = 'x'\n", {}, "server.port: expected int"),
        ("[server]\nport = 70000\n", {}, "server.port: must be 0..65535"),
        ("[routing]\npolicy = 'magic'\n", {}, "routing.policy: must be one of"),
        ("[routing]\nsteps = [{after_s = 5, max_cost = 0, min_proficiency = 3}]\n", {},
         "routing.steps: the first step must start at 0"),
        ("[[routing.steps]]\nafter_s = 0\nmax_cost = 0\nmin_proficiency = 9\n", {},
         "routing.steps[0].min_proficiency: must be 1..5"),
        ("[[routing.steps]]\nafter_s = 0\nmax_cost = 0\n", {}, "min_proficiency"),
        ("", {"EXPERTLINE_TWILIO_AUTH_TOKEN": "secret", "EXPERTLINE_TWILIO_ACCOUNT_SID": "AC1"},
         "server.public_url: must be https when Twilio is enabled"),
        ("", {"EXPERTLINE_PORT": "eighty"}, "EXPERTLINE_PORT: expected a port number"),
        ("", {"EXPERTLINE_DATABASE_URL": "mysql://x"}, "database.url: must be"),
        ("[server\n", {}, "not valid TOML"),
        ("[cluster]\nlease_ttl_s = 2\nrenew_every_s = 1.5\n", {},
         "cluster.renew_every_s: must be positive and at most half"),
        ("[cluster]\nstandby_poll_s = 0\n", {}, "cluster.standby_poll_s: must be positive"),
        ("", {"EXPERTLINE_ADVERTISE_URL": "10.0.0.1:8080"},
         "cluster.advertise_url: must be empty or an http"),
        ("[staffing.skills.x]\npriority = 11\n", {}, "staffing.skills.x.priority: must be 0..10"),
        ("[staffing.skills.x]\nservice_level = 95\n", {},
         "staffing.skills.x.service_level: must be in"),
        ("[staffing.skills.x]\ntarget = 20\n", {}, "staffing.skills.x.target: unknown key"),
        ("[staffing]\nskills = 3\n", {}, "staffing.skills: expected a table of tables"),
    ],
)
def test_bad_config_names_the_key(tmp_path: Path, toml: str, env: dict[str, str], key: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError, match=key.replace("[", r"\[").replace("]", r"\]")):
        load_config(path, env)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml", {})


def _keys(cls: type, prefix: str = "") -> list[str]:
    out = []
    for f in dataclasses.fields(cls):
        if f.name == "source":
            continue
        if dataclasses.is_dataclass(f.type if isinstance(f.type, type) else None):
            out += _keys(f.type, f"{prefix}{f.name}.")  # type: ignore[arg-type]
        else:
            out.append(prefix + f.name)
    return out


def test_every_config_key_is_in_config_toml() -> None:
    """Docs that cannot drift: config.toml spells out every key the code knows."""
    text = DEFAULT_CONFIG.read_text()
    config = load_config(None, {})
    for section in dataclasses.fields(Config):
        if section.name == "source":
            continue
        assert f"[{section.name}]" in text, section.name
        if not dataclasses.is_dataclass(getattr(config, section.name)):
            continue  # a table of tables ([local.ID]): tests/test_local_rules.py checks its keys
        for field in dataclasses.fields(getattr(config, section.name)):
            assert f"\n{field.name} = " in text or f"[{section.name}.{field.name}]" in text \
                or f"[[{section.name}.{field.name}]]" in text \
                or f"[{section.name}.{field.name}." in text, f"{section.name}.{field.name}"


def test_cli_reports_config_error_in_one_line_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[server]\nprot = 1\n")
    proc = subprocess.run(
        [sys.executable, "-m", "expertline", "--config", str(path), "token", "create",
         "--role", "admin"], capture_output=True, text=True, cwd=ROOT, check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "expertline: error: server.prot: unknown key"


def test_the_default_database_is_the_file_the_readme_names() -> None:
    """An upgrade must find the database it wrote before (it was once renamed by mistake)."""
    url = load_config(None, {}).database_url
    assert url.startswith("sqlite+aiosqlite:///") and url.endswith("/data/expertline.db")


def test_a_skill_can_promise_its_own_priority_and_target(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[staffing]\nservice_level = 0.8\ntarget_s = 20\n"
                    "[staffing.skills.crisis]\npriority = 8\nservice_level = 0.95\n"
                    "[staffing.skills.benefits]\ntarget_s = 60\n")
    staffing = load_config(path, {}).staffing
    assert (staffing.priority_of("crisis"), staffing.level_of("crisis"),
            staffing.target_of("crisis")) == (8, 0.95, 20.0)  # the target is the default's
    assert (staffing.priority_of("benefits"), staffing.level_of("benefits"),
            staffing.target_of("benefits")) == (0, 0.8, 60.0)
    assert (staffing.priority_of("other"), staffing.target_of("other")) == (0, 20.0)
