"""One typed, frozen configuration, loaded from config.toml and the environment.

``load_config(path, environ)`` reads the TOML file, applies the ``EXPERTLINE_*`` variables the
README lists ("Configuration"), and validates every key against the dataclasses below: an
unknown key, a wrong type or an unsafe value raises ``ConfigError`` whose message names the key.
Nothing here runs at import.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from base.local_rules import LocalRules, problems

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = PROJECT_ROOT / "config.toml"
POLICIES = ("exact", "graph", "optimal")
ESCALATIONS = ("target", "fixed")  # router.escalation
LOG_FORMATS = ("text", "json")


class ConfigError(ValueError):
    """A configuration problem, worded as one line that names the key."""


@dataclass(frozen=True, slots=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = "http://127.0.0.1:8080"
    data_dir: str = "data"
    max_body_bytes: int = 1_048_576
    body_timeout_s: float = 30.0
    trust_forwarded_for: bool = False
    log_level: str = "INFO"
    log_format: str = "text"  # or "json": one object per line (base.logs)


@dataclass(frozen=True, slots=True)
class DatabaseConfig:
    url: str = ""
    echo: bool = False
    busy_timeout_ms: int = 5000


@dataclass(frozen=True, slots=True)
class TwilioConfig:
    account_sid: str = ""
    auth_token: str = ""
    number: str = ""
    api_url: str = "https://api.twilio.com"

    @property
    def enabled(self) -> bool:
        """Telephony talks to Twilio only when an auth token is configured; else loopback."""
        return bool(self.auth_token)


@dataclass(frozen=True, slots=True)
class EscalationStep:
    after_s: float
    max_cost: float
    min_proficiency: int


def _default_steps() -> tuple[EscalationStep, ...]:
    return (
        EscalationStep(after_s=0, max_cost=0.0, min_proficiency=4),
        EscalationStep(after_s=30, max_cost=0.5, min_proficiency=3),
        EscalationStep(after_s=90, max_cost=1.5, min_proficiency=2),
        EscalationStep(after_s=180, max_cost=3.0, min_proficiency=1),
    )


@dataclass(frozen=True, slots=True)
class RoutingConfig:
    policy: str = "graph"
    escalation: str = "target"
    taxonomy_cost: float = 0.5
    offer_timeout_s: float = 20.0
    max_missed_offers: int = 3
    wrapup_s: float = 60.0
    recovery_s: float = 300.0
    offer_lease_s: float = 60.0
    session_lease_s: float = 14_400.0
    desk_grace_s: float = 30.0
    watchdog_every_s: float = 15.0
    priority_aging_per_min: float = 0.1
    voice_capacity: int = 1
    chat_capacity: int = 3
    steps: tuple[EscalationStep, ...] = field(default_factory=_default_steps)


@dataclass(frozen=True, slots=True)
class VoiceConfig:
    language: str = "en-GB"
    welsh_language: str = "cy-GB"
    triage_min_confidence: float = 0.35
    general_skill: str = "general-advice"
    hold_announce_every_s: int = 60
    menu: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CallbackConfig:
    attempts: int = 3
    spacing_s: float = 120.0


@dataclass(frozen=True, slots=True)
class SchedulerConfig:
    enabled: bool = True
    reconcile_every_s: float = 60.0
    no_voice_offer_last_min: float = 5.0
    daily_report_at: str = "06:00"


@dataclass(frozen=True, slots=True)
class SkillTarget:
    """One skill's own promise (``[staffing.skills.ID]``): its routing ``priority`` (0..10,
    higher is offered first; every contact for the skill gets at least it) and, when set, its
    ``service_level`` and answer ``target_s`` (0 = the ``[staffing]`` default)."""

    priority: int = 0
    service_level: float = 0.0
    target_s: float = 0.0


@dataclass(frozen=True, slots=True)
class StaffingConfig:
    service_level: float = 0.8
    target_s: float = 20.0
    interval_min: int = 30
    forecast_weeks: int = 4
    breach_every_s: float = 60.0  # how often the breach alerts are computed (scheduler.alerts)
    skills: Mapping[str, SkillTarget] = field(default_factory=dict)

    def target_of(self, skill: str) -> float:
        """Seconds within which a contact for ``skill`` should be answered."""
        own = self.skills.get(skill)
        return own.target_s if own is not None and own.target_s > 0 else self.target_s

    def level_of(self, skill: str) -> float:
        """The share of ``skill``'s contacts to answer within ``target_of(skill)``."""
        own = self.skills.get(skill)
        return (own.service_level if own is not None and own.service_level > 0
                else self.service_level)

    def priority_of(self, skill: str) -> int:
        own = self.skills.get(skill)
        return own.priority if own is not None else 0


@dataclass(frozen=True, slots=True)
class LimitsConfig:
    """Per-client limits, each a number a minute (also the burst); 0 turns one off."""

    chat_opens_per_min: float = 20.0
    messages_per_number_per_min: float = 30.0
    auth_failures_per_min: float = 20.0
    sign_in_failures_per_min: float = 10.0


@dataclass(frozen=True, slots=True)
class ChatConfig:
    """The citizen's web chat: how long a dropped chat waits for its citizen to come back, and
    how often a waiting citizen's place in the queue is looked at again."""

    resume_window_s: float = 120.0
    position_every_s: float = 5.0


@dataclass(frozen=True, slots=True)
class ClusterConfig:
    """Several processes on one PostgreSQL database: the routing leader's lease (on the
    database's clock), how often the leader renews it and how often the others look whether
    it has lapsed. A dead leader is replaced about ``lease_ttl_s + standby_poll_s`` after its
    last renewal. SQLite runs one process and ignores this section."""

    lease_ttl_s: float = 3.0
    renew_every_s: float = 1.0
    standby_poll_s: float = 0.5
    advertise_url: str = ""  # where the others reach this process; "" = http://HOST:PORT


@dataclass(frozen=True, slots=True)
class RetentionConfig:
    """How long each kind of citizen data is kept (days), when the daily purge runs (London
    time), and the key of the references that replace anonymised numbers. A finished contact
    keeps its number for ``citizen_numbers_days`` and its words for ``transcripts_days``, then
    is deleted with its history after ``contact_history_days``; audit and access-log records go
    after ``audit_days``; sign-in records (browser sessions, sign-in links, federated sign-ins
    under way) ``sign_in_days`` after they are over. Open contacts, pending callbacks, live
    sessions and unused links still valid are never purged."""

    citizen_numbers_days: int = 30
    transcripts_days: int = 30
    contact_history_days: int = 365
    audit_days: int = 2190
    sign_in_days: int = 30
    purge_at: str = "03:30"
    pseudonym_key: str = ""  # EXPERTLINE_PSEUDONYM_KEY only; "" = a random key kept in the db


@dataclass(frozen=True, slots=True)
class MetricsConfig:
    """``GET /metrics`` needs an admin token; ``allow_loopback`` also lets a scraper on this
    host (the client address is loopback) read it without one."""

    allow_loopback: bool = False


@dataclass(frozen=True, slots=True)
class SessionsConfig:
    """How long a browser session lives: it ends after ``idle_minutes`` without a request
    (recorded at most once a minute) and, whatever its use, ``absolute_hours`` after sign-in."""

    idle_minutes: float = 480.0
    absolute_hours: float = 12.0


@dataclass(frozen=True, slots=True)
class OidcProviderConfig:
    """One OpenID Connect identity provider (``[[oidc.providers]]``), for the organisations
    in ``orgs`` (``["*"]``: every organisation, for the operator's own provider). The
    client secret comes only from ``EXPERTLINE_OIDC_<ID>_SECRET`` (README, "Federated
    sign-in"); ``expert_claim``/``match`` name the expert, ``subjects`` maps a ``sub`` to an
    expert id first, and ``roles_claim`` with the ``*_values`` grants the roles."""

    id: str
    name: str
    issuer: str
    client_id: str
    orgs: tuple[str, ...]
    scopes: tuple[str, ...] = ("openid", "email", "profile")
    client_secret: str = ""  # EXPERTLINE_OIDC_<ID>_SECRET only
    expert_claim: str = "email"
    match: str = "email"  # email: the expert's stored email; id: the claim is the expert id
    subjects: Mapping[str, str] = field(default_factory=dict)  # sub -> expert id
    roles_claim: str = "roles"
    expert_values: tuple[str, ...] = ()  # empty: anyone matched to an expert is one
    supervisor_values: tuple[str, ...] = ()
    admin_values: tuple[str, ...] = ()  # only with orgs = ["*"]
    orgs_claim: str = ""  # optional: a supervisor's organisations, within ``orgs``
    contact: str = "your Expertline administrator"  # whom an unknown person should ask

    @property
    def every_org(self) -> bool:
        return self.orgs == ("*",)


@dataclass(frozen=True, slots=True)
class OidcConfig:
    providers: tuple[OidcProviderConfig, ...] = ()


@dataclass(frozen=True, slots=True)
class DemoConfig:
    seed: int = 7
    experts: int = 600


@dataclass(frozen=True, slots=True)
class Config:
    server: ServerConfig = field(default_factory=ServerConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    twilio: TwilioConfig = field(default_factory=TwilioConfig)
    routing: RoutingConfig = field(default_factory=RoutingConfig)
    voice: VoiceConfig = field(default_factory=VoiceConfig)
    callbacks: CallbackConfig = field(default_factory=CallbackConfig)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    staffing: StaffingConfig = field(default_factory=StaffingConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    chat: ChatConfig = field(default_factory=ChatConfig)
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    retention: RetentionConfig = field(default_factory=RetentionConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    sessions: SessionsConfig = field(default_factory=SessionsConfig)
    oidc: OidcConfig = field(default_factory=OidcConfig)
    local: Mapping[str, LocalRules] = field(default_factory=dict)  # base.local_rules
    demo: DemoConfig = field(default_factory=DemoConfig)
    source: str = field(default="", compare=False)

    @property
    def data_path(self) -> Path:
        path = Path(self.server.data_dir)
        return path if path.is_absolute() else PROJECT_ROOT / path

    @property
    def database_url(self) -> str:
        if self.database.url:
            return self.database.url
        return f"sqlite+aiosqlite:///{self.data_path / 'expertline.db'}"

    def replace(self, **sections: Any) -> Config:
        """A copy with whole sections or section fields replaced (``server={"port": 0}``)."""
        changes = {}
        for name, value in sections.items():
            current = getattr(self, name)
            is_patch = isinstance(value, dict)
            changes[name] = dataclasses.replace(current, **value) if is_patch else value
        return dataclasses.replace(self, **changes)


# Environment variable -> (section, key). Secrets live only in the environment.
ENV_OVERRIDES: Mapping[str, tuple[str, str]] = {
    "EXPERTLINE_DATABASE_URL": ("database", "url"),
    "EXPERTLINE_HOST": ("server", "host"),
    "EXPERTLINE_PORT": ("server", "port"),
    "EXPERTLINE_PUBLIC_URL": ("server", "public_url"),
    "EXPERTLINE_DATA_DIR": ("server", "data_dir"),
    "EXPERTLINE_ADVERTISE_URL": ("cluster", "advertise_url"),
    "EXPERTLINE_TWILIO_ACCOUNT_SID": ("twilio", "account_sid"),
    "EXPERTLINE_TWILIO_AUTH_TOKEN": ("twilio", "auth_token"),
    "EXPERTLINE_TWILIO_NUMBER": ("twilio", "number"),
    "EXPERTLINE_TWILIO_API_URL": ("twilio", "api_url"),
    "EXPERTLINE_PSEUDONYM_KEY": ("retention", "pseudonym_key"),
}


def load_config(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Read, override from the environment, build and validate the configuration."""
    source = Path(path) if path is not None else DEFAULT_CONFIG
    try:
        raw = tomllib.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {source} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {source} is not valid TOML: {exc}") from None
    _apply_env(raw, environ or {})
    _apply_oidc_secrets(raw, environ or {})
    config = dataclasses.replace(_build(Config, raw, ""), source=str(source))
    validate(config)
    return config


def _apply_env(raw: dict[str, Any], environ: Mapping[str, str]) -> None:
    for var, (section, key) in ENV_OVERRIDES.items():
        if var not in environ:
            continue
        value: Any = environ[var]
        if key == "port":
            try:
                value = int(value)
            except ValueError:
                raise ConfigError(f"{var}: expected a port number, got {value!r}") from None
        raw.setdefault(section, {})[key] = value


def oidc_secret_variable(provider_id: str) -> str:
    """``EXPERTLINE_OIDC_<ID>_SECRET``: the provider id upper-cased, ``-`` and ``.`` as ``_``."""
    return "EXPERTLINE_OIDC_" + re.sub(r"[^A-Z0-9]", "_", provider_id.upper()) + "_SECRET"


def _apply_oidc_secrets(raw: dict[str, Any], environ: Mapping[str, str]) -> None:
    """Each provider's client secret from the environment; one written in the file is
    refused, so a secret never sits in a file that is committed or copied around."""
    providers = raw.get("oidc", {}).get("providers", []) if isinstance(raw.get("oidc"),
                                                                      dict) else []
    for i, provider in enumerate(providers if isinstance(providers, list) else []):
        if not isinstance(provider, dict):
            continue
        if "client_secret" in provider:
            raise ConfigError(f"oidc.providers[{i}].client_secret: never in the file; set "
                              f"{oidc_secret_variable(str(provider.get('id', 'ID')))}")
        secret = environ.get(oidc_secret_variable(str(provider.get("id", ""))))
        if secret:
            provider["client_secret"] = secret


_D = TypeVar("_D", bound="DataclassInstance")


def _build(cls: type[_D], raw: Any, prefix: str) -> _D:
    if not isinstance(raw, dict):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'}: expected a table")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.name != "source"}
    unknown = sorted(set(raw) - names)
    if unknown:
        raise ConfigError(f"{prefix}{unknown[0]}: unknown key")
    required = [f.name for f in dataclasses.fields(cls) if _required(f)]
    missing = [name for name in required if name not in raw]
    if missing:
        raise ConfigError(f"{prefix}{missing[0]}: missing key")
    values = {key: _coerce(hints[key], value, f"{prefix}{key}") for key, value in raw.items()}
    return cls(**values)


def _required(f: dataclasses.Field[Any]) -> bool:
    no_default = f.default is dataclasses.MISSING
    return no_default and f.default_factory is dataclasses.MISSING


def _coerce(hint: Any, value: Any, key: str) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType) and type(None) in typing.get_args(hint):
        (hint,) = [a for a in typing.get_args(hint) if a is not type(None)]  # TOML has no null
        origin = typing.get_origin(hint)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _build(hint, value, key + ".")
    if origin is tuple:
        (item,) = [a for a in typing.get_args(hint) if a is not Ellipsis]
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected a list")
        return tuple(_coerce(item, v, f"{key}[{i}]") for i, v in enumerate(value))
    if origin in (Mapping, dict) and _is_dataclass_type(typing.get_args(hint)[1]):
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a table of tables")
        item = typing.get_args(hint)[1]
        return types.MappingProxyType({name: _build(item, v, f"{key}.{name}.")
                                       for name, v in value.items()})
    if origin in (Mapping, dict) or origin is types.MappingProxyType:
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise ConfigError(f"{key}: expected a table of strings")
        return types.MappingProxyType(dict(value))
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (int, float, str, bool) and type(value) is hint:
        return value
    raise ConfigError(f"{key}: expected {getattr(hint, '__name__', hint)}, got {value!r}")


def _is_dataclass_type(hint: Any) -> bool:
    return isinstance(hint, type) and dataclasses.is_dataclass(hint)


def validate(config: Config) -> None:
    """Refuse values that are unsafe or meaningless, naming the key."""
    _check(0 <= config.server.port <= 65535, "server.port", "must be 0..65535")
    _check(config.server.max_body_bytes > 0, "server.max_body_bytes", "must be positive")
    _check(config.server.body_timeout_s > 0, "server.body_timeout_s", "must be positive")
    _check(config.server.log_format in LOG_FORMATS, "server.log_format", "must be text or json")
    url = urlsplit(config.server.public_url)
    _check(url.scheme in ("http", "https") and bool(url.netloc), "server.public_url",
           "must be an absolute http(s) URL")
    if config.twilio.enabled:
        _check(url.scheme == "https", "server.public_url",
               "must be https when Twilio is enabled (Twilio signs the URL it calls)")
        _check(config.twilio.account_sid.startswith("AC"), "twilio.account_sid",
               "must be set (starts with AC) when an auth token is configured")
    db = config.database_url
    _check(db.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")), "database.url",
           "must be sqlite+aiosqlite:// or postgresql+asyncpg://")
    _validate_routing(config.routing)
    _validate_retention(config.retention)
    _check(0 < config.staffing.service_level < 1, "staffing.service_level", "must be in (0, 1)")
    _check(config.staffing.target_s > 0, "staffing.target_s", "must be positive")
    _check(config.staffing.breach_every_s >= 1, "staffing.breach_every_s",
           "must be at least 1 (second)")
    for skill, own in config.staffing.skills.items():
        key = f"staffing.skills.{skill}"
        _check(0 <= own.priority <= 10, f"{key}.priority", "must be 0..10")
        _check(own.service_level == 0 or 0 < own.service_level < 1, f"{key}.service_level",
               "must be in (0, 1), or 0 for the staffing default")
        _check(own.target_s >= 0, f"{key}.target_s", "must be positive, or 0 for the default")
    _check(config.callbacks.attempts >= 1, "callbacks.attempts", "must be at least 1")
    _check(config.database.busy_timeout_ms >= 0, "database.busy_timeout_ms", "must be >= 0")
    for name in ("chat_opens_per_min", "messages_per_number_per_min", "auth_failures_per_min",
                 "sign_in_failures_per_min"):
        _check(getattr(config.limits, name) >= 0, f"limits.{name}", "must be >= 0")
    _check(config.sessions.idle_minutes > 0, "sessions.idle_minutes", "must be positive")
    _check(config.sessions.absolute_hours > 0, "sessions.absolute_hours", "must be positive")
    _validate_oidc(config.oidc)
    _check(config.chat.resume_window_s > 0, "chat.resume_window_s", "must be positive")
    _check(config.chat.position_every_s > 0, "chat.position_every_s", "must be positive")
    for key, message in problems(config.local)[:1]:
        _check(False, key, message)
    cluster = config.cluster
    _check(cluster.standby_poll_s > 0, "cluster.standby_poll_s", "must be positive")
    _check(0 < cluster.renew_every_s <= cluster.lease_ttl_s / 2, "cluster.renew_every_s",
           "must be positive and at most half of cluster.lease_ttl_s (a leader must renew "
           "at least twice per lease)")
    advertised = urlsplit(cluster.advertise_url)
    _check(not cluster.advertise_url or (advertised.scheme in ("http", "https")
                                         and bool(advertised.netloc)),
           "cluster.advertise_url", "must be empty or an http(s) URL (http://10.0.0.1:8080)")


def _validate_routing(routing: RoutingConfig) -> None:
    _check(routing.policy in POLICIES, "routing.policy", f"must be one of {', '.join(POLICIES)}")
    _check(routing.escalation in ESCALATIONS, "routing.escalation",
           f"must be one of {', '.join(ESCALATIONS)}")
    _check(routing.offer_timeout_s > 0, "routing.offer_timeout_s", "must be positive")
    _check(routing.max_missed_offers >= 1, "routing.max_missed_offers", "must be at least 1")
    _check(routing.taxonomy_cost > 0, "routing.taxonomy_cost", "must be positive")
    _check(routing.voice_capacity == 1, "routing.voice_capacity", "must be 1")
    _check(routing.chat_capacity >= 1, "routing.chat_capacity", "must be at least 1")
    steps = routing.steps
    _check(bool(steps) and steps[0].after_s == 0, "routing.steps", "the first step must start at 0")
    for i, (a, b) in enumerate(itertools.pairwise(steps), start=1):
        _check(b.after_s > a.after_s, f"routing.steps[{i}].after_s", "must increase")
    for i, step in enumerate(steps):
        key = f"routing.steps[{i}]"
        _check(1 <= step.min_proficiency <= 5, f"{key}.min_proficiency", "must be 1..5")
        _check(step.max_cost >= 0, f"routing.steps[{i}].max_cost", "must be >= 0")


def _validate_retention(retention: RetentionConfig) -> None:
    for name in ("citizen_numbers_days", "transcripts_days", "contact_history_days",
                 "audit_days", "sign_in_days"):
        _check(getattr(retention, name) >= 1, f"retention.{name}", "must be at least 1 day")
    longest = max(retention.citizen_numbers_days, retention.transcripts_days)
    _check(retention.contact_history_days >= longest, "retention.contact_history_days",
           "must be at least citizen_numbers_days and transcripts_days (deleting a contact "
           "deletes its number and words too)")
    _check(HH_MM.fullmatch(retention.purge_at) is not None, "retention.purge_at",
           "must be a time HH:MM (00:00..23:59)")


OIDC_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,31}", re.ASCII)
OIDC_MATCHES = ("email", "id")


def _validate_oidc(oidc: OidcConfig) -> None:
    ids = [p.id for p in oidc.providers]
    for i, p in enumerate(oidc.providers):
        key = f"oidc.providers[{i}]"
        _check(OIDC_ID.fullmatch(p.id) is not None, f"{key}.id",
               "must be 1-32 lower-case letters, digits or '-' (it is in the callback URL)")
        _check(ids.count(p.id) == 1, f"{key}.id", f"{p.id!r} is used twice")
        issuer = urlsplit(p.issuer)
        _check(issuer.scheme in ("http", "https") and bool(issuer.netloc) and not issuer.query,
               f"{key}.issuer", "must be an absolute http(s) URL without a query")
        _check(bool(p.name.strip()), f"{key}.name", "must not be empty")
        _check(bool(p.client_id), f"{key}.client_id", "must not be empty")
        _check("openid" in p.scopes, f"{key}.scopes", "must include openid")
        _check(bool(p.orgs) and ("*" not in p.orgs or p.every_org), f"{key}.orgs",
               'must list organisation ids, or be ["*"] alone')
        _check(p.match in OIDC_MATCHES, f"{key}.match", "must be email or id")
        _check(not p.admin_values or p.every_org, f"{key}.admin_values",
               'an admin sees every organisation: only a provider with orgs = ["*"] may '
               "grant it")
        _check(not (p.every_org and p.supervisor_values and not p.orgs_claim),
               f"{key}.orgs_claim", 'a provider with orgs = ["*"] names a supervisor\'s '
               "organisations with orgs_claim")


HH_MM = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]", re.ASCII)


def _check(ok: bool, key: str, message: str) -> None:
    if not ok:
        raise ConfigError(f"{key}: {message}")
