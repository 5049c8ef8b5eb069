"""``setup(app, …)``: the channels' routes, and their state under typed AppKeys.

The ``Telephony`` object (and its gateway) is made in a cleanup context, inside the running
loop, after the routing engine's own set-up: call ``router.wiring.setup`` before this ``setup``
so that ``routing()`` answers by the time telephony takes back the phone bridges a previous
process left open and subscribes to announcements.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from base.config import Config
from base.db import Guard, Sessions
from base.errors import NotFound
from router.ports import RoutingPort, Triage
from telephony import announcements, chat, legs, messaging, urls, voice
from telephony.gateway import Gateway, LoopbackGateway, make_gateway
from telephony.optouts import OptOutKey
from telephony.service import GATEWAY, TELEPHONY, BookCallback, Telephony
from telephony.tasks import Schedule
from telephony.webhooks import messaging_webhook, voice_webhook

VOICE_ROUTES = {
    urls.VOICE: voice.incoming,
    urls.GATHER: voice.gathered,
    urls.WAIT: voice.waiting,
    urls.WAIT_KEY: voice.wait_key,
    urls.QUEUE_ACTION: voice.queue_action,
    urls.CALLBACK: voice.callback,
    urls.HOLD: voice.hold_again,
    urls.OOH_CALLBACK: voice.out_of_hours_callback,
    urls.JOIN: legs.join,
    urls.CONNECTING: legs.connecting,
    urls.EXPERT: legs.expert_leg,
    urls.EXPERT_ACCEPT: legs.expert_accept,
    urls.STATUS: legs.call_status,
    urls.CONFERENCE_STATUS: legs.conference_status,
    urls.GOODBYE: legs.goodbye,
}


def setup(app: web.Application, *, config: Config, sessions: Sessions,
          optout_key: OptOutKey, routing: Callable[[], RoutingPort],
          triage: Triage, gateway: Callable[[], Gateway] | None = None,
          clock: Callable[[], float] = time.monotonic,
          wall_clock: Callable[[], float] = time.time,
          schedule: Schedule | None = None, chat_page: bool = True,
          guard: Guard | None = None, book_callback: BookCallback | None = None) -> None:
    """Register the Twilio webhooks, ``/ws/chat`` and (unless ``chat_page`` is False, when
    another package serves the citizen's page) ``/chat``.

    ``sessions`` opens a database session (opt-outs, resume tokens and phone bridges live
    there); ``optout_key`` is the key of the opt-outs' hashes, or an async function that returns
    it (``telephony.optouts``; the composition root passes the key of citizen references, the
    same in every process on the database); ``routing`` returns the engine (called once it
    runs); ``triage`` is the skills graph's ``triage(text)``; ``gateway`` makes the outbound
    gateway (default: Twilio when an auth token is configured, else loopback); ``clock`` is
    monotonic (idempotency memories), ``wall_clock`` epoch seconds (web chat resume tokens and
    when a callback retry is due, which outlive the process); ``schedule`` runs work later:
    callback retries, web chat position checks and resume windows (default: the event loop's
    timers); ``guard`` runs in every phone bridge write's transaction (the routing leader's
    fence); ``book_callback`` books a scheduled callback for a citizen who reached an
    organisation out of hours (``[local.ORG]``; None: they hear or read only the out-of-hours
    message).
    """
    for path, handler in VOICE_ROUTES.items():
        app.router.add_post(path, voice_webhook(handler))
    app.router.add_post(urls.MESSAGING, messaging_webhook(messaging.inbound))
    app.router.add_get("/ws/chat", chat.socket)
    if chat_page:
        app.router.add_get("/chat", chat.page)
    if not config.twilio.enabled:
        app.router.add_get(urls.LOOPBACK_CALL, _loopback_call)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        made = gateway() if gateway is not None else make_gateway(config.twilio)
        tel = Telephony(config=config, routing=routing, triage=triage, gateway=made,
                        sessions=sessions, optout_key=optout_key, clock=clock,
                        wall_clock=wall_clock, schedule=schedule, guard=guard,
                        book_callback=book_callback)
        app[GATEWAY] = made
        app[TELEPHONY] = tel
        await tel.connector.restore()  # bridges a previous process left open
        tel.start(announcements.listener(tel))
        await chat.close_orphans(tel)
        yield
        await tel.close()

    app.cleanup_ctx.append(lifecycle)


def telephony_of(app: web.Application) -> Telephony:
    """The app's ``Telephony``, or a clear error if ``setup`` was not called."""
    try:
        return app[TELEPHONY]
    except KeyError:
        raise RuntimeError("telephony is not set up: call telephony.wiring.setup(app, config=..., "
                           "routing=..., triage=...) and start the app") from None


async def _loopback_call(request: web.Request) -> web.Response:
    """Loopback mode only: what the simulated caller must do next (a REST redirect we made,
    or the end of the call). Twilio does this itself for real calls."""
    gateway = request.app[GATEWAY]
    if not isinstance(gateway, LoopbackGateway):
        raise NotFound("only in loopback mode")
    sid = request.match_info["sid"]
    return web.json_response({"redirect": gateway.take_redirect(sid),
                              "ended": gateway.ended(sid)})
