"""A simulated citizen's phone call against a running server, playing Twilio's part.

It posts the webhooks Twilio would post (signed when an auth token is configured), follows
the TwiML it gets back (Gather action, Redirect, Enqueue wait URL and action, Conference),
and reports each step: what the caller hears, their place in the queue. In loopback mode it
also picks up the REST redirects the service makes (``/twilio/loopback/calls/{sid}``), so it
sees the moment an expert accepts and the call is bridged. The loop is bounded by a timeout,
after which the caller hangs up (an abandonment).
"""

from __future__ import annotations

import asyncio
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import cast
from urllib.parse import parse_qs, urlsplit

import aiohttp

from telephony.signature import SIGNATURE_HEADER, sign
from telephony.urls import LOOPBACK_CALL, VOICE


class Outcome(StrEnum):
    BRIDGED = "bridged"
    ENDED = "ended by the service"
    ABANDONED = "abandoned"


@dataclass
class CallScript:
    """What the caller will do: keys to press first (e.g. 9 for Welsh), then words to say."""

    say: str
    digits: str = ""
    caller: str = "+447700900123"
    called: str = "+443000000000"  # the number dialled: an organisation's line ([local.ID])
    inputs: list[tuple[str, str]] = field(init=False)

    def __post_init__(self) -> None:
        self.inputs = ([("Digits", self.digits)] if self.digits else []) + [
            ("SpeechResult", self.say)]


class SimulatedCall:
    def __init__(self, session: aiohttp.ClientSession, *, base_url: str, public_url: str,
                 auth_token: str, script: CallScript, timeout_s: float = 60.0,
                 poll_s: float = 1.0, report: Callable[[str], None] = print,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.public_url = public_url.rstrip("/")
        self.auth_token = auth_token
        self.script = script
        self.timeout_s, self.poll_s = timeout_s, poll_s
        self.report, self.sleep, self.clock = report, sleep, clock
        self.sid = "CA" + uuid.uuid4().hex
        self.contact_id = ""

    async def run(self) -> Outcome:
        self.report(f"calling {self.base_url} (call {self.sid})")
        doc = await self.post(self.public_url + VOICE, CallStatus="ringing")
        for _ in range(50):  # IVR documents, bounded
            outcome, doc = await self.step(doc)
            if outcome is not None:
                return outcome
        return Outcome.ENDED

    async def step(self, doc: ET.Element) -> tuple[Outcome | None, ET.Element]:
        """Play one document: returns an outcome, or the next document."""
        for verb in doc:
            if verb.tag == "Say":
                self.hear(verb)
            elif verb.tag == "Gather":
                return None, await self.answer(verb)
            elif verb.tag == "Redirect":
                return None, await self.post(verb.text or "")
            elif verb.tag == "Enqueue":
                return await self.hold(verb), doc
            elif verb.tag == "Dial":
                return await self.bridged(verb), doc
            elif verb.tag == "Hangup":
                break
        self.report("the service hung up")
        return Outcome.ENDED, doc

    def hear(self, element: ET.Element) -> None:
        for say in element.iter("Say"):
            self.report(f"  hears: {say.text}")

    async def answer(self, gather: ET.Element) -> ET.Element:
        self.hear(gather)
        action = gather.attrib["action"]
        if not self.script.inputs:
            self.report("  stays silent")
            return await self.post(action)
        key, value = self.script.inputs.pop(0)
        self.report(f"  presses {value}" if key == "Digits" else f'  says: "{value}"')
        extra = {key: value, "Confidence": "0.9"} if key == "SpeechResult" else {key: value}
        return await self.post(action, **extra)

    async def hold(self, enqueue: ET.Element) -> Outcome:
        wait_url, action = enqueue.attrib["waitUrl"], enqueue.attrib["action"]
        self.contact_id = _query(wait_url).get("c", "")
        self.report(f"queued as contact {self.contact_id}")
        started = self.clock()
        while (waited := self.clock() - started) < self.timeout_s:
            redirect = await self.loopback_redirect()
            if redirect:
                self.report("  an expert accepted: the service moves the call")
                outcome, _ = await self.step(await self.post(redirect))
                return outcome or Outcome.ENDED
            hold = await self.post(wait_url, QueueTime=str(int(waited)))
            self.hear(hold)
            if hold.find("Hangup") is not None:
                return Outcome.ENDED
            await self.sleep(self.poll_s)
        self.report(f"gave up after {self.timeout_s:.0f} s: hanging up")
        await self.post(action, QueueResult="hangup", QueueTime=str(int(self.timeout_s)))
        return Outcome.ABANDONED

    async def bridged(self, dial: ET.Element) -> Outcome:
        conference = dial.find("Conference")
        if conference is None:
            return Outcome.ENDED
        self.report(f"bridged: talking to an expert in conference {conference.text}")
        status_url = conference.attrib.get("statusCallback")
        if status_url:
            self.report("  hangs up")
            common = {"FriendlyName": conference.text or "", "ConferenceSid": "CF" + "0" * 32}
            await self.post(status_url, StatusCallbackEvent="participant-leave", **common)
            await self.post(status_url, StatusCallbackEvent="conference-end",
                            CallSidEndingConference=self.sid, **common)
        return Outcome.BRIDGED

    async def loopback_redirect(self) -> str | None:
        url = self.base_url + LOOPBACK_CALL.format(sid=self.sid)
        async with self.session.get(url) as resp:
            if resp.status != 200:
                return None
            # telephony.wiring._loopback_call: {"redirect": str | None, "ended": bool}
            return cast("str | None", (await resp.json()).get("redirect"))

    async def post(self, url: str, **extra: str) -> ET.Element:
        if url.startswith(self.public_url):
            path = url[len(self.public_url):]
        elif "://" in url:
            raise RuntimeError(f"the server names {url}, outside the public URL "
                               f"{self.public_url} this command was given: run it with the "
                               f"server's EXPERTLINE_PUBLIC_URL (and --config)")
        else:
            path = url
        params = {"CallSid": self.sid, "AccountSid": "AC" + "0" * 32, "From": self.script.caller,
                  "To": self.script.called, "CallStatus": "in-progress", "Direction": "inbound",
                  **extra}
        headers = {}
        if self.auth_token:
            headers[SIGNATURE_HEADER] = sign(self.auth_token, self.public_url + path, params)
        async with self.session.post(self.base_url + path, data=params, headers=headers) as resp:
            body = await resp.text()
            if resp.status != 200:
                raise RuntimeError(f"{path} answered {resp.status}: {body[:200]}")
        return ET.fromstring(body)


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
