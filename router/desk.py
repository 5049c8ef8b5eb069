"""The engine as the expert desk uses it (a mixin of ``Engine``): status, offers, sessions,
messages, and the desk connections whose loss starts a short grace.

Every action names the acting expert; one expert can never see or act on another's offers or
sessions (``NotFound``, as if they did not exist).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from base.config import Config
from base.errors import Conflict, InvalidInput, NotFound
from router import events as ev
from router.channels import EndSession, Step
from router.core import RoutingCore
from router.live import LiveContact, News
from router.model import ContactState, OfferStatus, OfferView, Presence
from router.ports import ExpertMessage
from router.store import Batch
from skills.snapshot import ExpertRecord

DeskSink = Callable[[dict[str, Any]], None]
MAX_MESSAGE = 2000


class DeskActions:
    core: RoutingCore
    config: Config
    clock: Callable[[], float]
    _live: dict[str, LiveContact]
    _records: dict[str, ExpertRecord]
    _desired: dict[str, Presence]
    _desks: dict[str, list[DeskSink]]
    _timers: dict[str, float]
    _step: Step
    _arm: Callable[[], None]
    _end: EndSession
    _announce: Callable[[News], Awaitable[None]]
    effective: Callable[[str], tuple[Presence, str]]

    def _expert(self, expert_id: str) -> None:
        if self.core.expert(expert_id) is None:
            raise NotFound(f"expert {expert_id} is not in the routing pool (unknown or "
                           "inactive)", expert=expert_id)

    async def set_status(self, expert_id: str, status: str) -> dict[str, Any]:
        self._expert(expert_id)
        try:
            presence = Presence(status)
        except ValueError:
            raise InvalidInput("status must be available, away or offline",
                               field="status") from None
        self._desired[expert_id] = presence
        effective, reason = self.effective(expert_id)
        await self._step(ev.ExpertStatus(expert_id, effective, reason))
        return self.desk_state(expert_id)

    def desk_state(self, expert_id: str) -> dict[str, Any]:
        self._expert(expert_id)
        view = self.core.expert(expert_id)
        assert view is not None
        return {"expert": expert_id, "state": view.state.value,
                "presence": view.presence.value, "reason": view.reason,
                "requested": self._desired.get(expert_id, Presence.OFFLINE).value,
                "missed_offers": view.missed_offers,
                "load": {"voice": view.voice_load, "chat": view.chat_load},
                "offers": [self.offer_json(o) for o in self.core.pending_offers(expert_id)],
                "sessions": self.sessions_of(expert_id),
                "wrapups": self.core.wrapups(expert_id),
                "desk_connected": bool(self._desks.get(expert_id))}

    def offer_json(self, offer: OfferView) -> dict[str, Any]:
        """An offer as the desk shows it. ``contact.waited_s`` is the citizen's wait when the
        offer was made (add ``now - made_at`` for the wait so far), so a repeated accept answers
        exactly what the first one did."""
        contact = self._live.get(offer.contact_id)
        return {"id": offer.offer_id, "status": offer.status.value,
                "channel": offer.channel.value, "made_at": offer.made_at,
                "expires_at": offer.expires_at, "session_id": offer.session_id,
                "contact": contact.summary(offer.made_at) if contact
                else {"id": offer.contact_id}}

    def offers(self, expert_id: str) -> list[dict[str, Any]]:
        self._expert(expert_id)
        return [self.offer_json(o) for o in self.core.pending_offers(expert_id)]

    def sessions_of(self, expert_id: str) -> list[dict[str, Any]]:
        now = self.clock()
        found = []
        for contact in self._live.values():
            if contact.expert_id == expert_id and contact.session_id is not None:
                found.append({"id": contact.session_id, "state": contact.state.value,
                              "contact": contact.summary(now)})
        return found

    def _own_offer(self, expert_id: str, offer_id: str) -> OfferView:
        offer = self.core.offer(offer_id)
        if offer is None or offer.expert_id != expert_id:
            raise NotFound(f"offer {offer_id} is not yours or unknown", offer=offer_id)
        return offer

    async def accept(self, expert_id: str, offer_id: str) -> dict[str, Any]:
        """Idempotent: accepting again returns the same session; a rescinded, declined or
        expired offer is a 409."""
        self._own_offer(expert_id, offer_id)
        await self._step(ev.OfferAccepted(offer_id, expert_id))
        offer = self.core.offer(offer_id)
        assert offer is not None
        return self.offer_json(offer)

    async def decline(self, expert_id: str, offer_id: str) -> dict[str, Any]:
        offer = self._own_offer(expert_id, offer_id)
        if offer.status is not OfferStatus.PENDING:
            raise Conflict(f"offer {offer_id} was {offer.status.value}", offer=offer_id,
                           status=offer.status.value)

        def prepare(batch: Batch, _news: News) -> None:
            batch.closed_offers.append((offer_id, "declined", "declined by the expert"))

        await self._step(ev.OfferDeclined(offer_id, expert_id), prepare=prepare)
        closed = self.core.offer(offer_id)
        assert closed is not None
        return self.offer_json(closed)

    async def complete(self, expert_id: str, session_id: str, *,
                       distressing: bool = False) -> dict[str, Any]:
        """End the session (wrap-up starts); on a session in wrap-up, end wrap-up early."""
        found = self.core.session(session_id)
        if found is not None and found[1] == expert_id:
            await self._end(found[0], session_id, by="expert", reason="completed by the "
                            "expert", distressing=distressing)
            return {"session_id": session_id, "ended": True, "state": self._state(expert_id)}
        if session_id in self.core.wrapups(expert_id):
            await self._step(ev.WrapUpEnded(expert_id, session_id))
            return {"session_id": session_id, "ended": True, "wrapup_ended": True,
                    "state": self._state(expert_id)}
        raise NotFound(f"session {session_id} is not yours, unknown or already over",
                       session=session_id)

    def _state(self, expert_id: str) -> str:
        view = self.core.expert(expert_id)
        return view.state.value if view else "offline"

    async def send_message(self, expert_id: str, session_id: str, text: str) -> None:
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_MESSAGE:
            raise InvalidInput(f"text must be 1..{MAX_MESSAGE} characters", field="text")
        found = self.core.session(session_id)
        if found is None or found[1] != expert_id:
            raise NotFound(f"session {session_id} is not yours or is over", session=session_id)
        contact = self._live.get(found[0])
        if contact is None or contact.state is not ContactState.CONNECTED:
            raise Conflict(f"session {session_id} is not connected", session=session_id)
        news = News(announcements=[ExpertMessage(contact.view(), text.strip())])
        await self._announce(news)

    async def mark_distressing(self, contact_id: str) -> None:
        """A supervisor marks a live session distressing: recovery follows its wrap-up."""
        contact = self._live.get(contact_id)
        if contact is None or contact.state is not ContactState.CONNECTED:
            raise Conflict(f"contact {contact_id} is not in a session", contact=contact_id)
        contact.distressing = True

    # -- desk connections ---------------------------------------------------------------------
    def connect_desk(self, expert_id: str, sink: DeskSink) -> Callable[[], None]:
        """A desk WebSocket opened: it hears this expert's events until the returned function
        is called; the last one closing starts the grace (``routing.desk_grace_s``)."""
        self._expert(expert_id)
        self._desks.setdefault(expert_id, []).append(sink)
        self._timers.pop("grace:" + expert_id, None)

        def disconnect() -> None:
            sinks = self._desks.get(expert_id, [])
            if sink in sinks:
                sinks.remove(sink)
            if not sinks:
                self._desks.pop(expert_id, None)
                grace = self.config.routing.desk_grace_s
                self._timers["grace:" + expert_id] = self.clock() + grace
                self._arm()

        return disconnect

    async def _grace_over(self, expert_id: str) -> None:
        if self._desks.get(expert_id):
            return
        view = self.core.expert(expert_id)
        if view is None or view.presence is Presence.OFFLINE:
            return
        self._desired[expert_id] = Presence.OFFLINE
        await self._step(ev.ExpertStatus(expert_id, Presence.OFFLINE,
                                         "desk disconnected"))

    def experts_by_state(self) -> Mapping[str, int]:
        return {state.value: n for state, n in self.core.experts_by_state().items()}
