"""A bare aiohttp app answering fixed TwiML: the baseline for ``bench.webhook``."""

from __future__ import annotations

import sys

from aiohttp import web

TWIML = ('<?xml version="1.0" encoding="UTF-8"?><Response><Say language="en-GB">Thank you.'
         '</Say><Enqueue waitUrl="/wait">q</Enqueue></Response>')


async def twiml(request: web.Request) -> web.Response:
    await request.post()  # parse the form as a real webhook must
    return web.Response(text=TWIML, content_type="text/xml")


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def main() -> None:
    app = web.Application()
    app.router.add_post("/twiml", twiml)
    app.router.add_get("/healthz", healthz)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)


if __name__ == "__main__":
    main()
