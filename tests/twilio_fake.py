"""A local fake of the part of Twilio's REST API that Expertline uses.

An aiohttp server on 127.0.0.1 that checks Basic auth, records every request it receives, and
answers like Twilio: JSON resources with ``sid`` and ``status``, and Twilio's JSON errors
(401 code 20003 for bad credentials, 404 code 20404 for an unknown call, 400 code 21220 for
redirecting a call that has ended). Tests point ``EXPERTLINE_TWILIO_API_URL`` (``twilio.api_url``)
at ``fake.url`` and assert on ``fake.requests``: what the service asked of Twilio.

Inbound calls (CallSids it never created) are taken to be in progress, as Twilio would know
them. ``fake.hang_up(sid)`` marks a call as ended (as when a caller hangs up), and
``fake.refuse_next(status, code, message)`` makes the next request fail.
"""

from __future__ import annotations

import base64
import itertools
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

API = "/2010-04-01/Accounts/{account}"


@dataclass(frozen=True)
class Received:
    """One REST request: ``kind`` is create_call, update_call, create_message or
    create_participant; ``form`` holds every value of every field."""

    kind: str
    path: str
    form: dict[str, list[str]]
    target: str = ""  # the CallSid or conference in the path

    def one(self, key: str) -> str:
        (value,) = self.form[key]
        return value


@dataclass
class FakeCall:
    """A call Twilio was asked to make (or a call we learnt of by its sid)."""

    sid: str
    to: str
    from_: str
    url: str = ""
    status_callback: str = ""
    status: str = "queued"


@dataclass
class TwilioFake:
    account_sid: str
    auth_token: str
    requests: list[Received] = field(default_factory=list)
    calls: dict[str, FakeCall] = field(default_factory=dict)
    _refusals: list[tuple[int, int, str]] = field(default_factory=list)
    _server: TestServer | None = None
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the fake first"
        return str(self._server.make_url("")).rstrip("/")

    async def start(self) -> TwilioFake:
        app = web.Application()
        base = API.format(account="{account}")
        app.router.add_post(base + "/Calls.json", self._create_call)
        app.router.add_post(base + "/Calls/{sid}.json", self._update_call)
        app.router.add_post(base + "/Messages.json", self._create_message)
        app.router.add_post(base + "/Conferences/{conf}/Participants.json", self._participant)
        self._server = TestServer(app, host="127.0.0.1")
        await self._server.start_server()
        return self

    async def close(self) -> None:
        if self._server is not None:
            await self._server.close()
            self._server = None

    def of(self, kind: str) -> list[Received]:
        return [r for r in self.requests if r.kind == kind]

    def dialled(self) -> list[FakeCall]:
        """The calls we were asked to make, oldest first."""
        return [c for c in self.calls.values() if c.url]

    def hang_up(self, sid: str) -> None:
        """The call ended (e.g. the caller hung up): Twilio now refuses to redirect it."""
        self.calls.setdefault(sid, FakeCall(sid, to="", from_="")).status = "completed"

    def refuse_next(self, status: int, code: int, message: str) -> None:
        self._refusals.append((status, code, message))

    # -- handlers ------------------------------------------------------------------------
    async def _create_call(self, request: web.Request) -> web.Response:
        received, refusal = await self._receive(request, "create_call")
        if refusal is not None:
            return refusal
        sid = self._sid("CA")
        call = FakeCall(sid, received.one("To"), received.one("From"), received.one("Url"),
                        received.form.get("StatusCallback", [""])[0])
        self.calls[sid] = call
        return _json(201, self._call_json(call))

    async def _update_call(self, request: web.Request) -> web.Response:
        sid = request.match_info["sid"]
        received, refusal = await self._receive(request, "update_call", sid)
        if refusal is not None:
            return refusal
        call = self.calls.get(sid)
        if call is None and not sid.startswith("CA"):
            return _error(404, 20404, f"The requested resource {request.path} was not found")
        if call is None:  # an inbound call Twilio knows and we never created: in progress
            call = self.calls[sid] = FakeCall(sid, to="", from_="", status="in-progress")
        if call.status == "completed":
            return _error(400, 21220, "Call is not in-progress. Cannot redirect.")
        if received.form.get("Status") == ["completed"]:
            call.status = "completed"
        else:
            call.status = "in-progress"
        return _json(200, self._call_json(call))

    async def _create_message(self, request: web.Request) -> web.Response:
        received, refusal = await self._receive(request, "create_message")
        if refusal is not None:
            return refusal
        return _json(201, {"sid": self._sid("SM"), "account_sid": self.account_sid,
                           "to": received.one("To"), "from": received.one("From"),
                           "body": received.one("Body"), "status": "queued"})

    async def _participant(self, request: web.Request) -> web.Response:
        _, refusal = await self._receive(request, "create_participant",
                                         request.match_info["conf"])
        if refusal is not None:
            return refusal
        return _json(201, {"call_sid": self._sid("CA"), "account_sid": self.account_sid,
                           "conference_sid": self._sid("CF"), "status": "queued"})

    async def _receive(self, request: web.Request, kind: str,
                       target: str = "") -> tuple[Received, web.Response | None]:
        form: dict[str, list[str]] = {}
        for key, value in (await request.post()).items():
            form.setdefault(key, []).append(str(value))
        received = Received(kind, request.path, form, target)
        self.requests.append(received)
        if request.match_info["account"] != self.account_sid or not self._authorised(request):
            return received, _error(401, 20003, "Authenticate")
        if self._refusals:
            status, code, message = self._refusals.pop(0)
            return received, _error(status, code, message)
        return received, None

    def _authorised(self, request: web.Request) -> bool:
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return request.headers.get("Authorization") == f"Basic {expected}"

    def _sid(self, prefix: str) -> str:
        return f"{prefix}f{next(self._ids):031x}"  # distinct from the tests' inbound CallSids

    def _call_json(self, call: FakeCall) -> dict[str, Any]:
        return {"sid": call.sid, "account_sid": self.account_sid, "to": call.to,
                "from": call.from_, "status": call.status,
                "uri": f"{API.format(account=self.account_sid)}/Calls/{call.sid}.json"}


def _json(status: int, body: dict[str, Any]) -> web.Response:
    return web.json_response(body, status=status)


def _error(status: int, code: int, message: str) -> web.Response:
    return _json(status, {"code": code, "message": message, "status": status,
                          "more_info": f"https://www.twilio.com/docs/errors/{code}"})
