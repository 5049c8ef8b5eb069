"""The shell around ``telephony.bridge``: keeps each contact's bridge, feeds it events from
announcements and webhooks, and carries out its effects through the gateway and the port.

Events about one contact are handled one at a time (a lock per contact), so a status callback
that arrives while we are still dialling sees the CallSid we were given. Each change of a
bridge is written to the database (``telephony.bridge_store``) before its effects are carried
out, and a finished bridge's row is dropped; on start ``restore`` takes back the open ones, so
after a restart or a failover Twilio's callbacks still move them on and a callback's pending
retry still happens. A write the database refuses is logged and the bridge carries on in
memory only (then, as before, a restart loses it and the engine's watchdog recovers the
contact). Webhooks about an unknown bridge change nothing.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable

from base.config import Config
from base.errors import DomainError, NotLeader
from router.ports import Assigned, ContactState, Ended, ExpertEndpoint, RoutingPort
from telephony import bridge as b
from telephony.bridge_store import STORE_FAILURES, BridgeStore, Context, SavedBridge
from telephony.gateway import CallRequest, Gateway, GatewayError
from telephony.tasks import Schedule
from telephony.urls import EXPERT, GOODBYE, HOLD, JOIN, STATUS, Urls

log = logging.getLogger("telephony.voice")
Events = tuple[b.Event, ...]
KEEP_DONE = 5_000  # finished bridges remembered, so late webhooks about them change nothing


def dial_target(expert: ExpertEndpoint) -> tuple[str, str] | None:
    """``(to, kind)`` for the expert's preferred endpoint: client, SIP, then phone."""
    if expert.client_identity:
        return f"client:{expert.client_identity}", "client"
    if expert.sip_address:
        sip = expert.sip_address
        return (sip if sip.startswith("sip:") else f"sip:{sip}"), "sip"
    if expert.phone:
        return expert.phone, "phone"
    return None


class Connector:
    """Bridges phone contacts to experts: ``routing()`` is the engine (looked up when needed,
    since it starts after this object is made); ``schedule`` runs callback retries later (a
    test may swap it for a manual one); ``store`` keeps the bridges in the database;
    ``wall_clock`` is epoch seconds (when a retry is due, which outlives the process)."""

    def __init__(self, *, config: Config, urls: Urls, gateway: Gateway,
                 routing: Callable[[], RoutingPort], schedule: Schedule, store: BridgeStore,
                 wall_clock: Callable[[], float]) -> None:
        self._config = config
        self._urls = urls
        self._gateway = gateway
        self._routing = routing
        self.schedule = schedule
        self._store = store
        self._wall_clock = wall_clock
        self._bridges: dict[str, b.BridgeState] = {}
        self._context: dict[str, Context] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self.keep_done = KEEP_DONE
        cfg = config.callbacks
        self._retries = b.Retries(attempts=cfg.attempts, spacing_s=cfg.spacing_s)

    def bridge(self, contact_id: str) -> b.BridgeState | None:
        return self._bridges.get(contact_id)

    def _lock(self, contact_id: str) -> asyncio.Lock:
        return self._locks.setdefault(contact_id, asyncio.Lock())

    def _prune(self) -> None:
        """Forget the oldest finished bridges beyond ``keep_done`` (memory stays flat)."""
        done = [c for c, state in self._bridges.items() if state.phase is b.Phase.DONE]
        for c in done[:max(0, len(done) - self.keep_done)]:
            lock = self._locks.get(c)
            if lock is not None and lock.locked():
                continue
            del self._bridges[c]
            self._context.pop(c, None)
            self._locks.pop(c, None)

    async def assigned(self, event: Assigned) -> None:
        """An expert accepted a phone contact: start bridging (a repeat changes nothing)."""
        c = event.contact_id
        async with self._lock(c):
            current = self._bridges.get(c)
            if current is not None and current.phase is not b.Phase.DONE:
                if current.expert_id != event.expert.expert_id:
                    log.warning("contact %s: assigned to %s while still bridging to %s; ignored",
                                c, event.expert.expert_id, current.expert_id)
                return
            self._prune()
            name = b.conference_name(c, event.expert.expert_id, secrets.token_hex(8))
            state, effects = b.begin(c, event.expert.expert_id, conference=name,
                                     caller_sid=event.contact.external_ref,
                                     callback_number=event.contact.callback_number)
            self._bridges[c] = state
            self._context[c] = Context(event.contact.language, event.contact.skill,
                                       event.waited_s, event.expert)
            log.info("contact %s: bridging to expert %s (%s)", c, event.expert.expert_id,
                     "callback" if state.is_callback else "live call")
            if await self._save(c, effects):
                await self._execute(c, effects)

    async def caller_hung_up(self, contact_id: str, *, waited_s: float | None) -> None:
        """The caller hung up while in the Twilio queue: an abandonment with its wait (and, if
        an expert was being connected, that call is cancelled)."""
        if await self.feed(contact_id, b.CallerGone()):
            return
        log.info("contact %s: caller hung up in the queue after %s s", contact_id, waited_s)
        await self._routing().abandon(contact_id, reason="caller hung up in the queue",
                                       waited_s=waited_s)

    async def ended(self, event: Ended) -> None:
        """The engine ended a phone contact: hang up its bridge; a caller still holding in
        the Twilio queue hears an apology (unless they ended it themselves)."""
        c, contact = event.contact_id, event.contact
        if await self.feed(c, b.EndedElsewhere()):
            return
        if event.by == "citizen" or contact.callback_number or not contact.state.finished:
            return
        url = self._urls.to(GOODBYE, lang=contact.language)
        try:
            await self._gateway.redirect_call(contact.external_ref, url)
        except GatewayError as exc:  # the caller is already gone
            log.info("contact %s: no call to end: %s", c, exc)

    async def feed(self, contact_id: str, event: b.Event, *, conference: str = "") -> bool:
        """Apply ``event`` to the contact's live bridge; False when there is none (no bridge,
        a finished one, or the event names another assignment's conference)."""
        if contact_id not in self._bridges:  # no lock made for contacts we never bridged
            return False
        async with self._lock(contact_id):
            state = self._bridges.get(contact_id)
            if state is None or state.phase is b.Phase.DONE:
                return False
            if conference and conference != state.conference:
                return False
            await self._apply(contact_id, event)
            return True

    async def _retry_due(self, c: str, attempt: int) -> None:
        """A scheduled callback retry fell due (a ``Job``: whether a bridge took it is moot)."""
        await self.feed(c, b.RetryDue(attempt))

    async def _apply(self, c: str, event: b.Event) -> None:
        before = self._bridges[c]
        after, effects = b.step(before, event, self._retries)
        self._bridges[c] = after
        if after.phase is not before.phase:
            log.info("contact %s: bridge %s -> %s on %s", c, before.phase, after.phase,
                     type(event).__name__)
        if after == before or await self._save(c, effects):
            await self._execute(c, effects)

    async def _save(self, c: str, effects: tuple[b.Effect, ...]) -> bool:
        """Write the bridge down before its effects are carried out (a finished one is
        dropped), so that another process can carry it on. False when this process no
        longer leads: the new leader carries the call on, so nothing is done here."""
        state = self._bridges[c]
        if state.phase is b.Phase.DONE:
            return await self._write(c, self._store.drop(c))
        retry_at = next((self._wall_clock() + e.delay_s for e in effects
                         if isinstance(e, b.ScheduleRetry)), None)
        return await self._write(c, self._store.save(state, self._context[c],
                                                     retry_at=retry_at))

    async def _write(self, c: str, write: Awaitable[None]) -> bool:
        try:
            await write
        except NotLeader:
            log.warning("contact %s: another process leads now; this one leaves the call "
                        "to it", c)
            return False
        except STORE_FAILURES as exc:
            log.warning("contact %s: bridge not saved (kept in memory only): %s", c, exc)
        return True

    async def restore(self) -> int:
        """Take back the open bridges a previous process left (call on start, once the
        engine runs, before announcements are heard); returns how many. A callback waiting
        to call the citizen again has its retry re-armed for when it was due."""
        try:
            saved = await self._store.load_open()
        except STORE_FAILURES as exc:
            log.warning("saved bridges not loaded: %s", exc)
            return 0
        return sum([await self._restore(bridge) for bridge in saved])

    async def _restore(self, saved: SavedBridge) -> bool:
        c, state = saved.state.contact_id, saved.state
        if c in self._bridges:
            return False
        if not await self._still_connected(c):
            log.info("contact %s: saved bridge dropped: the contact is no longer connected", c)
            await self._write(c, self._store.drop(c))
            return False
        self._bridges[c], self._context[c] = state, saved.context
        retry = ""
        if state.phase is b.Phase.RETRY_WAIT:
            delay = max(0.0, (saved.retry_at or 0.0) - self._wall_clock())
            self.schedule(delay, c, lambda: self._retry_due(c, state.attempt))
            retry = f", callback retry {state.attempt + 1} in {delay:.0f} s"
        log.info("contact %s: bridge to expert %s restored (%s%s)", c, state.expert_id,
                 state.phase, retry)
        return True

    async def _still_connected(self, c: str) -> bool:
        """Whether the engine still has the contact with an expert (if it cannot say, yes)."""
        try:
            view = await self._routing().get(c)
        except DomainError:
            return True
        return view is not None and view.state is ContactState.CONNECTED

    async def _execute(self, c: str, effects: tuple[b.Effect, ...]) -> None:
        for effect in effects:
            follow_ups, failed = await self._perform(c, effect)
            for event in follow_ups:
                await self._apply(c, event)
            if failed:
                return

    async def _perform(self, c: str, effect: b.Effect) -> tuple[Events, bool]:
        """Carry out one effect; returns the events to feed back and whether it failed."""
        try:
            return await self._do(c, effect)
        except GatewayError as exc:
            log.warning("contact %s: %s failed: %s", c, type(effect).__name__, exc)
            failure = _failure(effect, str(exc))
            return ((failure,) if failure else ()), True
        except DomainError as exc:
            log.warning("contact %s: routing refused %s: %s", c, type(effect).__name__, exc)
            return (), False

    async def _do(self, c: str, effect: b.Effect) -> tuple[Events, bool]:
        match effect:
            case b.RedirectToConference(sid):
                await self._gateway.redirect_call(sid, self._join_url(c, "caller"))
            case b.DialExpert():
                return await self._dial_expert(c)
            case b.DialCitizen():
                return await self._dial_citizen(c)
            case b.EndCall(sid):
                await self._end_call(c, sid)
            case b.ReturnToQueue(sid):
                await self._return_to_queue(c, sid)
            case b.ScheduleRetry(delay_s, attempt):
                self.schedule(delay_s, c, lambda: self._retry_due(c, attempt))
                log.info("contact %s: callback attempt %d missed; retry in %.0f s", c, attempt,
                         delay_s)
            case _:
                await self._tell_routing(c, effect)
        return (), False

    async def _dial_expert(self, c: str) -> tuple[Events, bool]:
        ctx, state = self._context[c], self._bridges[c]
        target = dial_target(ctx.expert)
        if target is None:
            return (b.DialFailed("expert", "no client identity, SIP address or phone"),), True
        to, kind = target
        url = self._urls.to(EXPERT, c=c, conf=state.conference, kind=kind, skill=ctx.skill,
                               waited=round(ctx.waited_s), cb=1 if state.is_callback else None)
        sid = await self._gateway.create_call(CallRequest(
            to=to, from_=self._caller_id(), url=url, timeout_s=self._ring_s(),
            status_callback=self._status_url(c, "expert")))
        return self._dialled("expert", sid), False

    async def _dial_citizen(self, c: str) -> tuple[Events, bool]:
        state = self._bridges[c]
        sid = await self._gateway.create_call(CallRequest(
            to=state.callback_number, from_=self._caller_id(), url=self._join_url(c, "citizen"),
            timeout_s=30, status_callback=self._status_url(c, "citizen")))
        log.info("contact %s: calling the citizen back (attempt %d)", c, state.attempt + 1)
        return self._dialled("citizen", sid), False

    def _dialled(self, leg: str, sid: str) -> Events:
        """Twilio took the call; a loopback gateway's parties answer and join at once."""
        if self._gateway.auto_answers:
            return b.Dialled(leg, sid), b.Joined(sid)
        return (b.Dialled(leg, sid),)

    async def _end_call(self, c: str, sid: str) -> None:
        try:
            await self._gateway.end_call(sid)
        except GatewayError as exc:  # already over: nothing to do
            log.info("contact %s: ending a call: %s", c, exc)

    async def _return_to_queue(self, c: str, sid: str) -> None:
        url = self._urls.to(HOLD, c=c, lang=self._context[c].lang, why="requeued")
        try:
            await self._gateway.redirect_call(sid, url)
        except GatewayError:
            await self._routing().abandon(c, reason="caller left before returning to the queue")

    async def _tell_routing(self, c: str, effect: b.Effect) -> None:
        routing = self._routing()
        match effect:
            case b.Requeue(reason):
                await routing.requeue(c, reason=reason)
            case b.Abandon(reason):
                await routing.abandon(c, reason=reason)
            case b.EndSession(by):
                await routing.end_session(c, by=by)
            case b.Fail(reason):
                log.warning("contact %s: failed: %s", c, reason)
                await routing.fail(c, reason=reason)

    def _join_url(self, c: str, role: str) -> str:
        state, ctx = self._bridges[c], self._context[c]
        return self._urls.to(JOIN, c=c, conf=state.conference, role=role, lang=ctx.lang,
                                cb=1 if state.is_callback else None)

    def _status_url(self, c: str, leg: str) -> str:
        return self._urls.to(STATUS, c=c, conf=self._bridges[c].conference, leg=leg)

    def _caller_id(self) -> str:
        return self._config.twilio.number or "Expertline"

    def _ring_s(self) -> int:
        return max(10, round(self._config.routing.offer_timeout_s))

    def __repr__(self) -> str:
        live = sum(1 for s in self._bridges.values() if s.phase is not b.Phase.DONE)
        return f"<Connector {live} live bridges, {len(self._bridges)} remembered>"


def _failure(effect: b.Effect, reason: str) -> b.Event | None:
    match effect:
        case b.RedirectToConference():
            return b.CallerGone()
        case b.DialExpert():
            return b.DialFailed("expert", reason)
        case b.DialCitizen():
            return b.DialFailed("citizen", reason)
    return None
