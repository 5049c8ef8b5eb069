"""What one engine step writes (``Batch``), decided without I/O and written by ``router.store``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from router import commands as cmd
from router.model import Decision
from router.tables import ContactRow

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
    new_contacts: list[ContactRow] = field(default_factory=list)
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
