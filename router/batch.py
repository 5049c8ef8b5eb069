"""What one engine step writes (``Batch``), decided without I/O and written by ``router.store``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from router import commands as cmd
from router.model import Decision
from router.tables import ContactRow


def _defaults() -> dict[str, Any]:
    found = {}
    for name, info in ContactRow.model_fields.items():
        if not info.is_required():
            found[name] = info.get_default(call_default_factory=True)
    return found


_CONTACT_DEFAULTS = _defaults()
_CONTACT_REQUIRED = frozenset(ContactRow.model_fields) - frozenset(_CONTACT_DEFAULTS)


def new_contact(**values: Any) -> dict[str, Any]:
    """A new contact row as the values of every column (the model's defaults filled in):
    building a ``ContactRow`` costs more than routing the contact does."""
    missing = _CONTACT_REQUIRED - values.keys()
    if missing:
        raise TypeError(f"a new contact needs {sorted(missing)}")
    row = {**_CONTACT_DEFAULTS, **values}
    for name, value in row.items():
        if isinstance(value, list | dict):
            row[name] = type(value)(value)  # no list or dict shared between rows
    return row

LIVE_STATES = ("queued", "offered", "connected", "wrapup", "callback")
FINAL_STATES = ("completed", "abandoned", "failed")


@dataclass(frozen=True, slots=True)
class StateChange:
    """A contact's new public state (``callback`` where the core says queued)."""

    contact_id: str
    state: str
    reason: str = ""
    expert_id: str | None = None
    waited_s: float | None = None


@dataclass
class Batch:
    """Everything one engine step writes."""

    at: float
    new_contacts: list[dict[str, Any]] = field(default_factory=list)  # new_contact()
    changes: list[StateChange] = field(default_factory=list)
    offers: list[cmd.MakeOffer] = field(default_factory=list)
    closed_offers: list[tuple[str, str, str | None]] = field(default_factory=list)
    connected: list[cmd.Connected] = field(default_factory=list)
    sessions_ended: list[tuple[str, str, bool]] = field(default_factory=list)
    sessions_failed: list[str] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    presence: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    updates: dict[str, dict[str, Any]] = field(default_factory=dict)
    audits: list[dict[str, Any]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return any((self.new_contacts, self.changes, self.offers, self.closed_offers,
                    self.connected, self.sessions_ended, self.sessions_failed, self.decisions,
                    self.presence, self.updates, self.audits))
