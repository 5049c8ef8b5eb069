"""Subject access and erasure for one citizen's number.

``find`` gathers every stored record of the number (given in any form ``refs.normalise``
reads): its contacts (also those whose number was already anonymised, found by the number's
reference) with their times, skills, outcomes, words and messages; its scheduled callbacks; its
SMS/WhatsApp opt-outs; any phone bridge that holds it; and who read those contacts.
``subject_access`` answers that and audits it; ``erase`` removes every trace of the number:

- its contacts keep their history, with their numbers anonymised (as the purge does) and their
  words gone (first words blanked, messages deleted);
- its callbacks that are over are anonymised; one still pending is cancelled (deleted);
- its opt-outs and any stale phone bridge are deleted.

A contact still open (waiting, offered, connected, in wrap-up, a callback) is refused with 409
and nothing changes: the routing engine holds it in memory. Both are audited on ``citizen``
with the number's reference as the id: the audit log never holds the number in clear.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel.ext.asyncio.session import AsyncSession

from base import audit
from base.access_log import record_reads
from base.clock import utc
from base.config import RetentionConfig
from base.db import Sessions, writing
from base.errors import Conflict
from expertline.governance import refs
from expertline.governance.purge import anonymise_callbacks, anonymise_contacts
from expertline.governance.store import (
    BRIDGE,
    CALLBACK,
    CONTACT,
    MESSAGE,
    OPEN,
    OPT_OUT,
    READS,
    connection,
    pseudonym_key,
)
from telephony.optouts import keyed_hash, legacy_hash

CONTACT_FIELDS = ("id", "state", "reason", "channel", "medium", "skill", "language", "org",
                  "expert_id", "address", "callback_number", "first_words", "waited_s")
CALLBACK_FIELDS = ("id", "number", "skill", "language", "state", "contact_id", "error",
                   "created_by")


@dataclass(frozen=True, slots=True)
class Subject:
    number: str  # E.164
    reference: str  # 12 hex digits of HMAC-SHA256
    forms: tuple[str, ...] = field(default=())  # as it may be stored, in clear or anonymised
    # each address the number texts from, by the hashes its opt-out may be stored as
    opt_out_hashes: dict[str, str] = field(default_factory=dict)


def subject(key: bytes, raw: str) -> Subject:
    """The number, its reference and the forms it may be stored in. An opt-out is kept as an
    HMAC of the address under ``key`` or, written before that, a plain SHA-256
    (``telephony.optouts``): both are looked for."""
    number = refs.normalise(raw)
    reference = refs.reference(key, number)
    texts_from = refs.stored_forms(number)
    hashes = {h: address for address in texts_from
              for h in (keyed_hash(key, address), legacy_hash(address))}
    return Subject(number, reference, (*texts_from, refs.ANON + reference), hashes)


@dataclass
class Found:
    """Every record of one number: rows as JSON-ready dictionaries."""

    subject: Subject
    contacts: list[dict[str, Any]]
    callbacks: list[dict[str, Any]]
    opt_outs: list[dict[str, Any]]
    bridges: list[dict[str, Any]]
    reads: list[dict[str, Any]]

    def counts(self) -> dict[str, int]:
        return {"contacts": len(self.contacts),
                "messages": sum(len(c["messages"]) for c in self.contacts),
                "callbacks": len(self.callbacks), "opt_outs": len(self.opt_outs),
                "bridges": len(self.bridges), "reads": len(self.reads)}

    def to_json(self) -> dict[str, Any]:
        return {"number": self.subject.number, "reference": self.subject.reference,
                "counts": self.counts(), "contacts": self.contacts, "callbacks": self.callbacks,
                "opt_outs": self.opt_outs, "bridges": self.bridges, "reads": self.reads}


def _iso(at: Any) -> str | None:
    if at is None:
        return None
    if isinstance(at, datetime):
        aware = utc(at)
        return aware.isoformat() if aware else None
    return datetime.fromtimestamp(float(at), UTC).isoformat()


async def find(session: AsyncSession, who: Subject) -> Found:
    conn = await connection(session)
    forms = list(who.forms)
    rows = (await conn.execute(sa.select(CONTACT).where(sa.or_(
        CONTACT.c.address.in_(forms), CONTACT.c.callback_number.in_(forms)))
        .order_by(CONTACT.c.arrived_at))).mappings().all()
    ids = [r["id"] for r in rows]
    lines = (await conn.execute(sa.select(MESSAGE).where(MESSAGE.c.contact_id.in_(ids))
                                .order_by(MESSAGE.c.at, MESSAGE.c.id))).mappings().all()
    contacts = [{**{k: r[k] for k in CONTACT_FIELDS},
                 "anonymised": refs.is_anonymised(r["address"] or r["callback_number"]),
                 **{k: _iso(r[k]) for k in ("arrived_at", "answered_at", "ended_at")},
                 "messages": [{"at": _iso(m["at"]), "sender": m["sender"], "text": m["text"]}
                              for m in lines if m["contact_id"] == r["id"]]} for r in rows]
    callbacks = [{**{k: r[k] for k in CALLBACK_FIELDS}, "due_at": _iso(r["due_at"]),
                  "created_at": _iso(r["created_at"]), "submitted_at": _iso(r["submitted_at"])}
                 for r in (await conn.execute(sa.select(CALLBACK).where(
                     CALLBACK.c.number.in_(forms)).order_by(CALLBACK.c.due_at))).mappings()]
    hashes = who.opt_out_hashes
    opt_outs = [{"address": hashes[r["address_hash"]], "since": _iso(r["created_at"])}
                for r in (await conn.execute(sa.select(OPT_OUT).where(
                    OPT_OUT.c.address_hash.in_(list(hashes)))
                    .order_by(OPT_OUT.c.created_at, OPT_OUT.c.address_hash))).mappings()]
    bridges = [{"contact_id": r["contact_id"], "phase": r["state"].get("phase")}
               for r in await _bridges(conn, who, ids)]
    reads = [{"at": _iso(r["at"]), "actor": r["actor"], "contact_id": r["contact_id"],
              "via": r["via"], "what": r["what"]}
             for r in (await conn.execute(sa.select(READS).where(READS.c.contact_id.in_(ids))
                                          .order_by(READS.c.id))).mappings()]
    return Found(who, contacts, callbacks, opt_outs, bridges, reads)


async def _bridges(conn: AsyncConnection, who: Subject, ids: list[str]) -> list[Any]:
    """Bridges of these contacts, or calling the number back (a few rows at most: a bridge
    lives as long as its call)."""
    rows = (await conn.execute(sa.select(BRIDGE))).mappings().all()
    return [r for r in rows if r["contact_id"] in ids
            or (r["state"] or {}).get("callback_number") in who.forms]


async def subject_access(sessions: Sessions, raw: str, *, retention: RetentionConfig,
                         actor: str, via: str) -> Found:
    """Every record of the number; audited, and each contact's read access-logged."""
    async with writing(sessions) as session:
        found = await find(session, subject(await pseudonym_key(session, retention), raw))
        record_reads(session, reader=actor, contact_ids=[c["id"] for c in found.contacts],
                     via=via, what="subject_access")
        audit.record(session, actor=actor, action="subject_access", entity="citizen",
                     entity_id=found.subject.reference, after={"counts": found.counts()})
    return found


async def preview(sessions: Sessions, raw: str, *, retention: RetentionConfig) -> Found:
    """What ``erase`` would touch (nothing written, nothing audited)."""
    async with sessions() as session:
        return await find(session, subject(await pseudonym_key(session, retention), raw))


async def erase(sessions: Sessions, raw: str, *, retention: RetentionConfig,
                actor: str) -> dict[str, Any]:
    """Remove or anonymise every trace of the number; the figures, audited by reference."""
    async with writing(sessions) as session:
        key = await pseudonym_key(session, retention)
        found = await find(session, subject(key, raw))
        still_open = [c["id"] for c in found.contacts if c["state"] in OPEN]
        if still_open:
            raise Conflict(f"the number has {len(still_open)} contact(s) not yet finished "
                           f"({', '.join(still_open[:5])}): erase it once they have ended",
                           code="contact_open", contacts=still_open)
        done = await _erase(await connection(session), key, found)
        audit.record(session, actor=actor, action="erase", entity="citizen",
                     entity_id=found.subject.reference, after=done)
    return {"reference": found.subject.reference, **done}


def _in_clear(value: str) -> bool:
    return bool(value) and not refs.is_anonymised(value)


async def _erase(conn: AsyncConnection, key: bytes, found: Found) -> dict[str, int]:
    ids = [c["id"] for c in found.contacts]
    clear = [(c["id"], c["address"], c["callback_number"]) for c in found.contacts
             if _in_clear(c["address"]) or _in_clear(c["callback_number"])]
    await anonymise_contacts(conn, key, clear)
    words = [c["id"] for c in found.contacts if c["first_words"]]
    await conn.execute(sa.update(CONTACT).where(CONTACT.c.id.in_(words)).values(first_words=""))
    await conn.execute(sa.delete(MESSAGE).where(MESSAGE.c.contact_id.in_(ids)))
    pending = [c["id"] for c in found.callbacks if c["state"] == "pending"]
    await conn.execute(sa.delete(CALLBACK).where(CALLBACK.c.id.in_(pending)))
    over = [(c["id"], c["number"]) for c in found.callbacks
            if c["state"] != "pending" and not refs.is_anonymised(c["number"])]
    await anonymise_callbacks(conn, key, over)
    bridges = [b["contact_id"] for b in found.bridges]
    await conn.execute(sa.delete(BRIDGE).where(BRIDGE.c.contact_id.in_(bridges)))
    await conn.execute(sa.delete(OPT_OUT).where(
        OPT_OUT.c.address_hash.in_(list(found.subject.opt_out_hashes))))
    counts = found.counts()
    return {"contacts_anonymised": len(clear), "first_words_blanked": len(words),
            "messages_deleted": counts["messages"], "callbacks_cancelled": len(pending),
            "callbacks_anonymised": len(over), "bridges_deleted": len(bridges),
            "opt_outs_deleted": counts["opt_outs"]}
