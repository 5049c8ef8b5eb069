"""Local rules at the channels' edge: whose line a contact came in on, and where it goes now.

``base.local_rules`` decides (pure); this module brings it the instant (the injected wall
clock), the data-sharing agreements in force (read from the database only when an
organisation is closed) and the words. A contact is on an organisation's line when the
number called or texted is one of its ``numbers``, or a web chat names it (``/chat?org=ID``);
an organisation without ``[local.ID]`` is no line of its own, so such a chat is on the shared
national line, routed exactly as before.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlmodel import col, or_, select

from base.local_rules import (
    Decision,
    Effective,
    LocalRules,
    Open,
    OpenState,
    ToPartner,
    effective,
    is_open,
    org_of_number,
    route_out_of_hours,
)
from skills.models import SharingAgreement
from telephony import prompts
from telephony.prompts import CY
from telephony.service import Telephony

LONDON = ZoneInfo("Europe/London")  # agreements' start and end dates are UK dates


def line_of_number(tel: Telephony, number: str) -> str | None:
    """The organisation whose number was called or texted (None: the national line)."""
    return org_of_number(tel.config.local, number)


def line_named(tel: Telephony, org: object) -> str | None:
    """A web chat's ``org``, if it names an organisation with local rules."""
    return org if isinstance(org, str) and org in tel.config.local else None


def rules_of(tel: Telephony, org: str | None) -> LocalRules | None:
    return None if org is None else tel.config.local.get(org)


async def place(tel: Telephony, org: str | None, skill: str) -> Decision:
    """Where a contact for ``skill`` on ``org``'s line goes now (``base.local_rules``)."""
    rules = rules_of(tel, org)
    if org is None or rules is None:
        return Open(org)
    at = tel.now()
    mine = effective(org, rules, skill)
    if is_open(mine, at).open:  # the usual case: no database read
        return Open(org, mine.priority)
    pairs = await agreements_in_force(tel, at.astimezone(LONDON).date())
    return route_out_of_hours(tel.config.local, org, skill, at,
                              may_share=lambda a, b: (min(a, b), max(a, b)) in pairs)


async def agreements_in_force(tel: Telephony, today: date) -> frozenset[tuple[str, str]]:
    """The data-sharing agreements in force on ``today``, as (a, b) pairs with a < b."""
    starts, ends = col(SharingAgreement.starts_on), col(SharingAgreement.ends_on)
    query = select(SharingAgreement.org_a, SharingAgreement.org_b).where(
        or_(starts.is_(None), starts <= today), or_(ends.is_(None), ends >= today))
    async with tel.sessions() as session:
        rows = (await session.exec(query)).all()
    return frozenset((min(a, b), max(a, b)) for a, b in rows)


def closed_words(tel: Telephony, lang: str, org: str, skill: str, state: OpenState, *,
                 opening: bool = True) -> list[str]:
    """The organisation's out-of-hours message (its own words, or the standard sentence),
    then (with ``opening``) when it opens again."""
    rules = rules_of(tel, org)
    mine: Effective | None = None if rules is None else effective(org, rules, skill)
    own = "" if mine is None else (mine.out_of_hours_message_cy if lang == CY
                                   else mine.out_of_hours_message)
    standard = "closed_bank_holiday" if state.why == "bank-holiday" else "closed"
    said = [own or prompts.text(lang, standard)]
    if opening and state.opens_at is not None:
        said.append(prompts.text(lang, "opens", **when(tel, lang, state.opens_at)))
    return said


def partner_words(tel: Telephony, lang: str, placed: Decision, skill: str) -> list[str]:
    """Before the usual words, a contact passed to a partner hears why (nothing otherwise)."""
    if not isinstance(placed, ToPartner):
        return []
    return [*closed_words(tel, lang, placed.org, skill, placed.state, opening=False),
            prompts.text(lang, "partner")]


def when(tel: Telephony, lang: str, at: datetime) -> dict[str, str]:
    return prompts.when_words(lang, at, tel.now())


def greeting(tel: Telephony, org: str | None, lang: str) -> str:
    """The organisation's own greeting, or "" for the standard one."""
    rules = rules_of(tel, org)
    if rules is None:
        return ""
    return rules.greeting_cy if lang == CY else rules.greeting
