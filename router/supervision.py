"""What a supervisor does to live work (``Engine`` mixes this in), each audited with who and why.

* ``move_contact``: a waiting contact to another skill and/or priority. It keeps its arrival
  time, so its wait and escalation carry on; a pending offer is rescinded (the expert is not
  counted as having missed it). A move that changes neither is refused (nothing is recorded).
* ``end_stuck_session``: end a stuck session as if the expert had completed it (wrap-up follows).
* ``set_expert_status``: set an expert away or offline (their pending offers are rescinded,
  sessions carry on) or available again.
* ``mark_distressing`` (``DeskActions``), audited here by ``note_distressing``.

The move and the session end are audited in the same transaction as the change; the status
and the distressing mark are audited just after it (their changes are not routing commits of
their own: the status goes through the expert's desired presence, the mark waits for the
session's end).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from base import audit
from base.access import Principal, Role
from base.config import Config
from base.errors import Conflict, InvalidInput, NotFound
from router import events as ev
from router.batch import Batch
from router.channels import EndSession, Step
from router.live import LiveContact, News
from router.model import ContactState
from router.store import Store

MAX_WHY = 200


def sees_contact(caller: Principal, org: str | None, expert_org: str | None) -> bool:
    """Who may see a contact. Admins: every one. A supervisor: those asked for one of their
    organisations, and those of the shared line (asked for no organisation) that nobody or one
    of their own experts has taken (``expert_org``: the organisation of the expert on it)."""
    if caller.role is Role.ADMIN:
        return True
    if org is not None:
        return org in caller.orgs
    return expert_org is None or expert_org in caller.orgs


class Supervision:
    config: Config
    store: Store
    _live: dict[str, LiveContact]
    expert_org: Callable[[str], str | None]
    _step: Step
    _end: EndSession
    set_status: Callable[..., Awaitable[dict[str, Any]]]
    mark_distressing: Callable[[str], Awaitable[None]]
    knows_skill: Callable[[str], bool]

    def visible(self, caller: Principal, contact_id: str) -> LiveContact:
        """The live contact, if ``caller`` may see it; NotFound otherwise (as if unknown)."""
        live = self._live.get(contact_id)
        if live is None or not sees_contact(caller, live.org, self._org_of(live.expert_id)):
            raise NotFound(f"contact {contact_id} is not live (finished, or unknown)",
                           contact=contact_id)
        return live

    def _org_of(self, expert_id: str | None) -> str | None:
        return None if expert_id is None else self.expert_org(expert_id)

    async def move_contact(self, contact_id: str, *, skill: str | None, priority: int | None,
                           actor: str, why: str) -> dict[str, Any]:
        live = self._waiting(contact_id)
        skill = skill or live.skill
        if priority is None:  # a skill's own priority is a floor, as for a new contact
            priority = max(live.priority, self.config.staffing.priority_of(skill))
        if (skill, priority) == (live.skill, live.priority):
            raise InvalidInput(f"contact {contact_id} already waits for skill {skill!r} at "
                               f"priority {priority}: choose another skill or priority to move "
                               "it", field="skill")
        if not self.knows_skill(skill):
            raise InvalidInput(f"skill {skill!r} is not in the skills graph", field="skill")
        before = {"skill": live.skill, "priority": live.priority}

        def prepare(batch: Batch, _news: News) -> None:
            batch.audits.append({"actor": actor, "action": "move", "entity": "contact",
                                 "entity_id": contact_id, "before": before,
                                 "after": {"skill": skill, "priority": priority, "why": why,
                                           **whose(live)}})

        await self._step(ev.ContactMoved(contact_id, skill, priority,
                                         reason=f"moved by a supervisor: {why}"),
                         prepare=prepare)
        return {"id": contact_id, "skill": skill, "priority": priority,
                "state": self._live[contact_id].state.value if contact_id in self._live
                else None}

    def _waiting(self, contact_id: str) -> LiveContact:
        live = self._live.get(contact_id)
        if live is None:
            raise NotFound(f"contact {contact_id} is not live (finished, or unknown)",
                           contact=contact_id)
        if live.state not in (ContactState.QUEUED, ContactState.OFFERED):
            raise Conflict(f"contact {contact_id} is {live.state.value}: only a waiting "
                           "contact can be moved", contact=contact_id)
        return live

    async def end_stuck_session(self, contact_id: str, *, actor: str, why: str) -> dict[str, Any]:
        live = self._live.get(contact_id)
        if live is None or live.session_id is None or live.state is not ContactState.CONNECTED:
            raise Conflict(f"contact {contact_id} is not in a session", contact=contact_id)
        await self._end(contact_id, live.session_id, by="supervisor",
                        reason=f"ended by a supervisor: {why}", audit=(actor, "end_session"))
        return {"id": contact_id, "session_id": live.session_id, "ended": True}

    async def set_expert_status(self, expert_id: str, status: str, *, actor: str,
                                why: str) -> dict[str, Any]:
        done = await self.set_status(expert_id, status)
        await self._audit(actor, "set_status", "expert", expert_id,
                          {"status": status, "why": why})
        return done

    async def note_distressing(self, contact_id: str, *, actor: str, why: str) -> None:
        await self.mark_distressing(contact_id)
        live = self._live.get(contact_id)
        await self._audit(actor, "distressing", "contact", contact_id,
                          {"why": why, **(whose(live) if live is not None else {})})

    async def _audit(self, actor: str, action: str, entity: str, entity_id: str,
                     after: dict[str, Any]) -> None:
        async with self.store.db.transaction() as session:
            audit.record(session, actor=actor, action=action, entity=entity,
                         entity_id=entity_id, after=after)


def whose(live: LiveContact) -> dict[str, str | None]:
    """What an audit record of an action on a contact says of whose it is (the organisation
    it was asked for, the expert on it), so the audit log can show it to the same
    supervisors as ``sees_contact`` does."""
    return {"org": live.org, "expert": live.expert_id}


def check_why(why: str | None) -> str:
    """The reason a supervisor gives: required, one line, at most ``MAX_WHY`` characters."""
    text = " ".join((why or "").split())
    if not text:
        raise InvalidInput("Say why: it goes into the audit log", field="why")
    if len(text) > MAX_WHY:
        raise InvalidInput(f"why is longer than {MAX_WHY} characters", field="why")
    return text
