"""The tables governance reads and changes, as SQLAlchemy tables, and the reference key.

Every citizen's number or words sits in one of these columns:

- ``contact.address`` (the caller, SMS or WhatsApp sender), ``contact.callback_number``,
  ``contact.first_words`` (what they said to triage), ``contact_message.text`` (the chat);
- ``scheduled_callback.number``;
- ``call_bridge.state`` (a callback's number, while a phone bridge is in progress);
- ``messaging_opt_out.address_hash`` (an HMAC of an address that sent STOP under the key of
  references; a row older than that, a plain SHA-256: ``telephony.optouts``).

The audit log never holds a number in clear (callbacks are audited masked), and the access log
names contacts by id. The sign-in records (``web_session``, ``sign_in_link``, ``oidc_login``)
hold no citizen data but name experts, roles, organisations and times (and hashes only).
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel.ext.asyncio.session import AsyncSession

from base.access_log import AccessLogEntry
from base.audit import AuditEntry
from base.config import RetentionConfig
from base.db import Sessions, core_table, writing
from base.errors import Busy, Conflict
from expertline.governance.tables import AuditPurgeRow, PseudonymKeyRow
from pages.tables import OidcLoginRow, SignInLinkRow, WebSessionRow
from router.model import ContactState
from router.tables import (
    ContactEventRow,
    ContactRow,
    DecisionRow,
    MessageRow,
    OfferRow,
    SessionRow,
)
from scheduler.tables import ScheduledCallbackRow
from telephony.tables import CallBridgeRow, ChatResumeRow, OptOutRow

CONTACT = core_table(ContactRow)
EVENT = core_table(ContactEventRow)
MESSAGE = core_table(MessageRow)
OFFER = core_table(OfferRow)
SESSION = core_table(SessionRow)
DECISION = core_table(DecisionRow)
CALLBACK = core_table(ScheduledCallbackRow)
BRIDGE = core_table(CallBridgeRow)
RESUME = core_table(ChatResumeRow)
OPT_OUT = core_table(OptOutRow)
AUDIT = core_table(AuditEntry)
READS = core_table(AccessLogEntry)
AUDIT_PURGE = core_table(AuditPurgeRow)
WEB_SESSION = core_table(WebSessionRow)
SIGN_IN_LINK = core_table(SignInLinkRow)
OIDC_LOGIN = core_table(OidcLoginRow)

# a contact's history: every row that names it (the first five by foreign key)
HISTORY = (("contact_events", EVENT), ("offers", OFFER), ("sessions", SESSION),
           ("decisions", DECISION), ("messages", MESSAGE), ("chat_resumes", RESUME),
           ("call_bridges", BRIDGE))

FINISHED = tuple(s.value for s in ContactState if s.finished)
OPEN = tuple(s.value for s in ContactState if not s.finished)
contact_at = sa.func.coalesce(CONTACT.c.ended_at, CONTACT.c.arrived_at)  # when it ended
callback_at = sa.func.coalesce(CALLBACK.c.submitted_at, CALLBACK.c.due_at)


def callback_is_over() -> sa.ColumnElement[bool]:
    """A scheduled callback no longer pending whose contact (if any) is finished."""
    open_contacts = sa.select(CONTACT.c.id).where(CONTACT.c.state.in_(OPEN))
    return sa.and_(CALLBACK.c.state != "pending",
                   sa.or_(CALLBACK.c.contact_id.is_(None),
                          CALLBACK.c.contact_id.not_in(open_contacts)))


async def connection(session: AsyncSession) -> AsyncConnection:
    return await session.connection()


async def pseudonym_key(session: AsyncSession, retention: RetentionConfig) -> bytes:
    """``EXPERTLINE_PSEUDONYM_KEY`` when set, else the database's own random key (made by
    migration 0008; made here if a database somehow lacks it)."""
    if retention.pseudonym_key:
        return retention.pseudonym_key.encode("utf-8")
    row = await session.get(PseudonymKeyRow, 1)
    if row is None:
        row = PseudonymKeyRow(id=1, key=secrets.token_hex(32))
        session.add(row)
        await session.flush()
    return row.key.encode("utf-8")


def key_source(sessions: Sessions, retention: RetentionConfig) -> Callable[[], Awaitable[bytes]]:
    """``pseudonym_key`` in a transaction of its own, for code that keeps the key (telephony's
    opt-outs). Migration 0008 makes the database's key, so it is normally there; if two
    processes found it missing and made it at once, one is refused (a clash, or on SQLite a
    busy database) and reads the other's."""

    async def once() -> bytes:
        async with writing(sessions) as session:
            return await pseudonym_key(session, retention)

    async def load() -> bytes:
        try:
            return await once()
        except (Conflict, Busy):
            return await once()

    return load
