"""One interface for everything we ask of Twilio's REST API, and its two implementations.

``TwilioGateway`` uses the twilio library's ``Client`` over ``AsyncTwilioHttpClient`` (every
call async) and honours ``twilio.api_url`` by pointing the client's ``api`` domain at it (tests
point it at a local fake). ``LoopbackGateway`` has no network: it records what it was asked,
treats every dialled party as answering, and keeps REST redirects for the simulated caller
(``expertline call``) to pick up, so the whole flow runs offline. ``make_gateway`` picks one by
``config.twilio.enabled``.
"""

from __future__ import annotations

import base64
import itertools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from base.config import TwilioConfig

log = logging.getLogger("telephony.gateway")

CALL_EVENTS = ("initiated", "ringing", "answered", "completed")


class GatewayError(Exception):
    """Twilio refused or could not be reached. ``status`` is the HTTP status (0: no answer)."""

    def __init__(self, message: str, *, status: int = 0, code: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass(frozen=True, slots=True)
class CallRequest:
    """An outbound call: ``to`` is ``+44…``, ``client:identity`` or ``sip:…``; Twilio fetches
    TwiML from ``url`` once answered and reports progress to ``status_callback``."""

    to: str
    from_: str
    url: str
    status_callback: str
    timeout_s: int = 20
    events: Sequence[str] = CALL_EVENTS


@dataclass(frozen=True, slots=True)
class Sent:
    """One request a gateway made (the loopback gateway's record)."""

    action: str
    sid: str
    to: str = ""
    detail: str = ""


class Gateway(Protocol):
    """Outbound Twilio REST, as the channels use it."""

    auto_answers: bool

    async def create_call(self, call: CallRequest) -> str:
        """Start a call; returns its CallSid."""
        ...

    async def redirect_call(self, call_sid: str, url: str) -> None:
        """Make a live call fetch new TwiML from ``url`` (out of a queue, into a conference)."""
        ...

    async def end_call(self, call_sid: str) -> None:
        """Hang up (or cancel, if still ringing) a call."""
        ...

    async def send_message(self, *, to: str, from_: str, body: str) -> str:
        """Send an SMS or WhatsApp message (``whatsapp:`` addresses); returns its MessageSid."""
        ...

    async def close(self) -> None: ...


class _HeaderAuthHttpClient(AsyncTwilioHttpClient):  # type: ignore[misc]  # twilio is untyped
    """``AsyncTwilioHttpClient`` sending Basic auth as a header: it would build an
    ``aiohttp.BasicAuth``, which aiohttp 3.14 deprecates."""

    async def request(self, method: str, url: str, **options: Any) -> Response:
        auth = options.pop("auth", None)
        if auth is not None:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode("ascii")
            options["headers"] = {**(options.get("headers") or {}),
                                  "Authorization": f"Basic {token}"}
        return await super().request(method, url, **options)


class TwilioGateway:
    """The real gateway. Create it inside a running event loop; ``close()`` is safe twice."""

    auto_answers = False

    def __init__(self, config: TwilioConfig, *, timeout_s: float = 10.0) -> None:
        quiet = logging.getLogger("telephony.twilio_http")  # the client logs every request
        quiet.setLevel(logging.WARNING)
        self._http = _HeaderAuthHttpClient(timeout=timeout_s, logger=quiet)
        self._client = Client(config.account_sid, config.auth_token, http_client=self._http)
        self._client.edge = self._client.region = None  # no TWILIO_EDGE/REGION host rewriting
        self._client.api.base_url = config.api_url.rstrip("/")
        self._closed = False

    async def create_call(self, call: CallRequest) -> str:
        async with _translated("create call"):
            created = await self._client.calls.create_async(
                to=call.to, from_=call.from_, url=call.url, method="POST",
                status_callback=call.status_callback, status_callback_method="POST",
                status_callback_event=list(call.events), timeout=call.timeout_s)
        return str(created.sid)

    async def redirect_call(self, call_sid: str, url: str) -> None:
        async with _translated("redirect call"):
            await self._client.calls(call_sid).update_async(url=url, method="POST")

    async def end_call(self, call_sid: str) -> None:
        async with _translated("end call"):
            await self._client.calls(call_sid).update_async(status="completed")

    async def send_message(self, *, to: str, from_: str, body: str) -> str:
        async with _translated("send message"):
            sent = await self._client.messages.create_async(to=to, from_=from_, body=body)
        return str(sent.sid)

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            await self._http.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<TwilioGateway {self._client.api.base_url} {state}>"


class _translated:
    """Turn the twilio library's and aiohttp's failures into ``GatewayError``."""

    def __init__(self, what: str) -> None:
        self.what = what

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, kind: type | None, exc: BaseException | None, _tb: object) -> bool:
        if isinstance(exc, TwilioRestException):
            raise GatewayError(f"{self.what}: Twilio said {exc.status} ({exc.code}): {exc.msg}",
                               status=exc.status, code=exc.code) from exc
        if isinstance(exc, TwilioException | OSError | TimeoutError):
            raise GatewayError(f"{self.what}: {type(exc).__name__}: {exc}") from exc
        return False


class LoopbackGateway:
    """No network. Records every request; dialled parties "answer" (``auto_answers``)."""

    auto_answers = True

    def __init__(self) -> None:
        self.sent: list[Sent] = []
        self._redirects: dict[str, str] = {}
        self._ids = itertools.count(1)
        self._ended: set[str] = set()

    def _sid(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):032x}"

    async def create_call(self, call: CallRequest) -> str:
        sid = self._sid("CA")
        self.sent.append(Sent("create_call", sid, call.to, call.url))
        return sid

    async def redirect_call(self, call_sid: str, url: str) -> None:
        if call_sid in self._ended:
            raise GatewayError("redirect call: the call has ended", status=400, code=21220)
        self.sent.append(Sent("redirect_call", call_sid, detail=url))
        self._redirects[call_sid] = url

    async def end_call(self, call_sid: str) -> None:
        self.sent.append(Sent("end_call", call_sid))
        self._ended.add(call_sid)

    async def send_message(self, *, to: str, from_: str, body: str) -> str:
        sid = self._sid("SM")
        self.sent.append(Sent("send_message", sid, to, body))
        return sid

    def take_redirect(self, call_sid: str) -> str | None:
        """The URL a simulated caller must follow next (REST redirects have no other channel)."""
        return self._redirects.pop(call_sid, None)

    def ended(self, call_sid: str) -> bool:
        return call_sid in self._ended

    async def close(self) -> None:
        self._redirects.clear()

    def __repr__(self) -> str:
        return f"<LoopbackGateway {len(self.sent)} requests recorded>"


def make_gateway(config: TwilioConfig) -> TwilioGateway | LoopbackGateway:
    """The real gateway when an auth token is configured, else loopback."""
    return TwilioGateway(config) if config.enabled else LoopbackGateway()
