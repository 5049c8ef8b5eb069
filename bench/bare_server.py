"""Baselines for ``bench.webhook``: bare aiohttp, and aiohttp doing only Twilio's part.

``python -m bench.bare_server PORT`` answers fixed TwiML after parsing the form: the bare
baseline. ``python -m bench.bare_server PORT --twilio AUTH_TOKEN PUBLIC_URL`` also does what
any Twilio webhook must do and nothing more — check the ``X-Twilio-Signature`` with the twilio
library's validator and build the Enqueue TwiML with its ``VoiceResponse`` — so the benchmark
can show how much of the gap to bare aiohttp no routing service can close.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable

from aiohttp import web
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import VoiceResponse

TWIML = ('<?xml version="1.0" encoding="UTF-8"?><Response><Say language="en-GB">Thank you.'
         '</Say><Enqueue waitUrl="/wait">q</Enqueue></Response>')

Handler = Callable[[web.Request], Awaitable[web.Response]]


async def twiml(request: web.Request) -> web.Response:
    await request.post()  # parse the form as a real webhook must
    return web.Response(text=TWIML, content_type="text/xml")


def twilio_part(auth_token: str, public_url: str) -> Handler:
    """A handler that checks the signature and builds its TwiML with the twilio library."""
    validator = RequestValidator(auth_token)

    async def handle(request: web.Request) -> web.Response:
        form = await request.post()
        params = {key: str(value) for key, value in form.items()}
        signature = request.headers.get("X-Twilio-Signature", "")
        if not validator.validate(public_url + request.path, params, signature):
            return web.Response(status=403, text="bad signature")
        response = VoiceResponse()
        response.say("Thank you.", language="en-GB")
        response.enqueue(params.get("CallSid", "q"), wait_url="/wait")
        return web.Response(text=str(response), content_type="text/xml")

    return handle


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def main(argv: list[str]) -> None:
    handler = twilio_part(argv[2], argv[3]) if argv[1:2] == ["--twilio"] else twiml
    app = web.Application()
    app.router.add_post("/twiml", handler)
    app.router.add_get("/healthz", healthz)
    web.run_app(app, host="127.0.0.1", port=int(argv[0]), print=None, access_log=None)


if __name__ == "__main__":
    main(sys.argv[1:])
