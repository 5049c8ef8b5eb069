"""What a group of engine steps writes, as a few set-based statements (no I/O here).

The engine commits the batches of many steps in one transaction (``router.commits``). Written
one ORM object or one ``UPDATE`` per row, a group of 64 steps would cost hundreds of round
trips; ``plan(batches)`` turns the whole group into at most one statement per table and kind
of change, each executed once with every row's parameters (``executemany``, or one multi-row
``INSERT``). ``Store.commit_many`` runs the plan.

The result is the same as applying the batches one after another, in order:

* a contact's updates and state changes are folded, in order, into one final set of values
  per contact (the last write of a column wins, as it would have);
* history rows (contact events, decisions, audit entries) are inserted in step order, so
  their ids keep the order the steps happened in;
* an expert's presence is the last one any step gave;
* an offer's ``rescinded``/``expired``/``declined`` update only touches a pending offer, and
  an accepted offer is never closed afterwards by the core, so running the closes before the
  accepts leaves every offer as the steps did.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from base import audit
from base.db import core_table
from router.batch import FINAL_STATES, Batch
from router.model import Decision
from router.tables import (
    ContactEventRow,
    ContactRow,
    DecisionRow,
    OfferRow,
    PresenceRow,
    SessionRow,
)

Params = list[dict[str, Any]]


CONTACT = core_table(ContactRow)
EVENT = core_table(ContactEventRow)
OFFER = core_table(OfferRow)
SESSION = core_table(SessionRow)
DECISION = core_table(DecisionRow)
PRESENCE = core_table(PresenceRow)
AUDIT = core_table(audit.AuditEntry)


@dataclass(frozen=True, slots=True)
class Write:
    """One statement and the parameters it is executed with (one set per row)."""

    what: str  # for logs and tests: "insert contact", "update contact state", …
    statement: sa.Executable
    params: Params


@dataclass
class _Rows:
    """Every row the group writes, per table and kind, in step order."""

    contacts: Params = field(default_factory=list)
    contact_values: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: Params = field(default_factory=list)
    offers: Params = field(default_factory=list)
    closes: Params = field(default_factory=list)
    sessions: Params = field(default_factory=list)
    accepts: Params = field(default_factory=list)
    ends: Params = field(default_factory=list)
    failures: Params = field(default_factory=list)
    decisions: Params = field(default_factory=list)
    presence: dict[str, dict[str, Any]] = field(default_factory=dict)
    audits: Params = field(default_factory=list)


def plan(batches: Sequence[Batch], dialect: str, epoch: int | None = None) -> list[Write]:
    """The statements that write ``batches`` as if one after another, for ``dialect``
    (``sqlite`` or ``postgresql``), contact events stamped with the leader's ``epoch``;
    statements with no rows are left out."""
    rows = _Rows()
    for batch in batches:
        _collect(rows, batch, epoch)
    return [w for w in _writes(rows, dialect) if w.params]


def _collect(rows: _Rows, batch: Batch, epoch: int | None) -> None:
    at = batch.at
    rows.contacts += batch.new_contacts
    for contact_id, update in batch.updates.items():
        rows.contact_values.setdefault(contact_id, {}).update(update)
    for change in batch.changes:
        values: dict[str, Any] = {"state": change.state, "reason": change.reason[:200]}
        if change.expert_id is not None:
            values["expert_id"] = change.expert_id
        if change.waited_s is not None:
            values["waited_s"] = change.waited_s
        if change.state in FINAL_STATES:
            values["ended_at"] = at
        rows.contact_values.setdefault(change.contact_id, {}).update(values)
        rows.events.append({"contact_id": change.contact_id, "at": at, "state": change.state,
                            "reason": change.reason[:200], "expert_id": change.expert_id,
                            "epoch": epoch})
    for offer in batch.offers:
        rows.offers.append({"id": offer.offer_id, "contact_id": offer.contact_id,
                            "expert_id": offer.expert_id, "channel": offer.channel.value,
                            "made_at": at, "expires_at": offer.expires_at, "status": "pending",
                            "closed_at": None, "reason": "", "session_id": None})
        rows.decisions.append(decision_values(offer.decision))
    rows.closes += [{"b_id": offer_id, "b_status": status, "b_at": at,
                     "b_reason": (reason or "")[:64]}
                    for offer_id, status, reason in batch.closed_offers]
    for made in batch.connected:
        rows.sessions.append({"id": made.session_id, "offer_id": made.offer_id,
                              "contact_id": made.contact_id, "expert_id": made.expert_id,
                              "channel": made.channel.value, "started_at": at,
                              "ended_at": None, "ended_by": "", "distressing": False,
                              "wrapup_ended_at": None})
        rows.accepts.append({"b_id": made.offer_id, "b_at": at, "b_session": made.session_id})
    rows.ends += [{"b_id": session_id, "b_at": at, "b_by": by[:16], "b_distressing": distressing}
                  for session_id, by, distressing in batch.sessions_ended]
    rows.failures += [{"b_id": session_id, "b_at": at} for session_id in batch.sessions_failed]
    rows.decisions += [decision_values(d) for d in batch.decisions]
    for expert_id, (presence, state, reason) in batch.presence.items():
        rows.presence[expert_id] = {"expert_id": expert_id, "presence": presence,
                                    "state": state, "reason": reason[:200], "updated_at": at}
    rows.audits += [audit.entry(**entry).model_dump(exclude={"id"}) for entry in batch.audits]


def decision_values(decision: Decision) -> dict[str, Any]:
    return {"contact_id": decision.contact_id, "at": decision.at, "step": decision.step,
            "policy": decision.policy, "chosen": decision.chosen,
            "reason": decision.reason[:500],
            "candidates": [dataclasses.asdict(c) for c in decision.candidates]}


def decision_row(decision: Decision) -> DecisionRow:
    return DecisionRow(**decision_values(decision))


def _writes(rows: _Rows, dialect: str) -> Iterable[Write]:
    yield Write("insert contact", INSERT_CONTACT, rows.contacts)
    yield from _contact_updates(rows.contact_values)
    yield Write("insert contact_event", INSERT_EVENT, rows.events)
    yield Write("insert offer", INSERT_OFFER, rows.offers)
    yield Write("close offer", CLOSE_OFFER, rows.closes)
    yield Write("insert contact_session", INSERT_SESSION, rows.sessions)
    yield Write("accept offer", ACCEPT_OFFER, rows.accepts)
    yield Write("end contact_session", END_SESSION, rows.ends)
    yield Write("fail contact_session", FAIL_SESSION, rows.failures)
    yield Write("insert routing_decision", INSERT_DECISION, rows.decisions)
    yield Write("upsert expert_presence", _upsert_presence(dialect),
                list(rows.presence.values()))
    yield Write("insert audit_entry", INSERT_AUDIT, rows.audits)


# the statements are built once: building one costs more than running it for a few rows
INSERT_CONTACT = sa.insert(CONTACT)
INSERT_EVENT = sa.insert(EVENT)
INSERT_OFFER = sa.insert(OFFER)
INSERT_SESSION = sa.insert(SESSION)
INSERT_DECISION = sa.insert(DECISION)
INSERT_AUDIT = sa.insert(AUDIT)
CLOSE_OFFER = sa.update(OFFER).where(
    OFFER.c.id == sa.bindparam("b_id"), OFFER.c.status == "pending").values(
    status=sa.bindparam("b_status"), closed_at=sa.bindparam("b_at"),
    reason=sa.bindparam("b_reason"))
ACCEPT_OFFER = sa.update(OFFER).where(OFFER.c.id == sa.bindparam("b_id")).values(
    status="accepted", closed_at=sa.bindparam("b_at"), session_id=sa.bindparam("b_session"))
END_SESSION = sa.update(SESSION).where(
    SESSION.c.id == sa.bindparam("b_id"), SESSION.c.ended_at.is_(None)).values(
    ended_at=sa.bindparam("b_at"), ended_by=sa.bindparam("b_by"),
    distressing=sa.bindparam("b_distressing"))
FAIL_SESSION = sa.update(SESSION).where(SESSION.c.id == sa.bindparam("b_id")).values(
    ended_at=sa.bindparam("b_at"), ended_by="failed", wrapup_ended_at=sa.bindparam("b_at"))


def _contact_updates(values: dict[str, dict[str, Any]]) -> Iterable[Write]:
    """One ``UPDATE contact`` per set of columns written, each run once per contact."""
    by_columns: dict[tuple[str, ...], Params] = {}
    for contact_id, update in values.items():
        columns = tuple(sorted(update))
        by_columns.setdefault(columns, []).append(
            {"b_id": contact_id, **{f"b_{c}": update[c] for c in columns}})
    for columns, params in by_columns.items():
        yield Write(f"update contact {','.join(columns)}", _update_contact(columns), params)


@functools.cache
def _update_contact(columns: tuple[str, ...]) -> sa.Executable:
    return sa.update(CONTACT).where(CONTACT.c.id == sa.bindparam("b_id")).values(
        {c: sa.bindparam(f"b_{c}") for c in columns})


@functools.cache
def _upsert_presence(dialect: str) -> sa.Executable:
    """Insert or update each expert's presence with the dialect's ``ON CONFLICT``."""
    statement = (postgresql.insert(PRESENCE) if dialect == "postgresql"
                 else sqlite.insert(PRESENCE))
    excluded = statement.excluded
    return statement.on_conflict_do_update(
        index_elements=[PRESENCE.c.expert_id],
        set_={"presence": excluded.presence, "state": excluded.state,
              "reason": excluded.reason, "updated_at": excluded.updated_at})
