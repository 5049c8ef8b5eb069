"""What passed its retention period (pure: no database, no clock).

``plan(now, policy)`` lists the purge's steps in the order they run, each with the kind of data,
the table, what is done to it and the instant before which a record has passed its period.
A record *passed* when its time is strictly before that instant (``passed``): one exactly
``N`` days old is kept until the next run. The steps run longest period first, so a contact
that is deleted is not also counted as anonymised, and each count is of rows really changed.

Only what is over is ever touched: a contact when it is finished (completed, abandoned or
failed; its time is when it ended), a scheduled callback once it is no longer pending, and a
sign-in record (browser session, sign-in link, federated sign-in under way) once it is over
(revoked or used, or past its ``expires_at``; its time is the later of the two).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from base.config import RetentionConfig


class Kind(StrEnum):
    """The kinds of data the policy names, each with its ``retention.*_days`` key."""

    CONTACT_HISTORY = "contact_history"
    TRANSCRIPTS = "transcripts"
    CITIZEN_NUMBERS = "citizen_numbers"
    AUDIT = "audit"
    SIGN_IN = "sign_in"

    @property
    def key(self) -> str:
        return f"{self.value}_days"


class Action(StrEnum):
    DELETE = "delete"
    BLANK = "blank"  # the text is emptied, the row stays
    ANONYMISE = "anonymise"  # the number is replaced by its reference


@dataclass(frozen=True, slots=True)
class Step:
    kind: Kind
    table: str
    action: Action
    before: datetime  # records whose time is strictly before this have passed their period

    @property
    def before_s(self) -> float:
        """``before`` in epoch seconds, as the routing and scheduler tables keep times."""
        return self.before.timestamp()


STEPS: tuple[tuple[Kind, str, Action], ...] = (
    (Kind.CONTACT_HISTORY, "contact", Action.DELETE),  # with its events, offers, sessions…
    (Kind.CONTACT_HISTORY, "scheduled_callback", Action.DELETE),
    (Kind.TRANSCRIPTS, "contact_message", Action.DELETE),
    (Kind.TRANSCRIPTS, "contact", Action.BLANK),  # first_words
    (Kind.CITIZEN_NUMBERS, "contact", Action.ANONYMISE),  # address, callback_number
    (Kind.CITIZEN_NUMBERS, "scheduled_callback", Action.ANONYMISE),
    (Kind.AUDIT, "audit_entry", Action.DELETE),
    (Kind.AUDIT, "access_log", Action.DELETE),
    (Kind.SIGN_IN, "web_session", Action.DELETE),  # signed out, or past its absolute end
    (Kind.SIGN_IN, "sign_in_link", Action.DELETE),  # used or expired
    (Kind.SIGN_IN, "oidc_login", Action.DELETE),  # used or expired
)


def period(kind: Kind, policy: RetentionConfig) -> timedelta:
    days: int = getattr(policy, kind.key)
    return timedelta(days=days)


def plan(now: datetime, policy: RetentionConfig) -> list[Step]:
    """Every step of a purge at ``now`` (aware), in the order it runs."""
    if now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    now = now.astimezone(UTC)
    return [Step(kind, table, action, now - period(kind, policy))
            for kind, table, action in STEPS]


def passed(at: datetime | float, step: Step) -> bool:
    """Whether a record of ``at`` (aware, or epoch seconds) has passed ``step``'s period."""
    if isinstance(at, datetime):
        return at < step.before
    return at < step.before_s


def policy_json(policy: RetentionConfig) -> dict[str, Any]:
    return {kind.key: getattr(policy, kind.key) for kind in Kind}
