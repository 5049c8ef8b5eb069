"""The request id: every HTTP request gets one, its log lines carry it, its answer names it.

A client (or a proxy in front) may send ``X-Request-Id``; a sane one (1 to 64 characters of
``[A-Za-z0-9._-]``) is kept, so a request can be followed from the proxy's log into ours, and
anything else is replaced by a new random id. ``request_id_middleware`` puts it in
``base.logs.REQUEST_ID`` for the log lines and on the request; ``echo_request_id`` (an
``on_response_prepare`` signal) writes it into every answer's ``X-Request-Id``, whatever made
the answer: a handler, an error middleware, an exception aiohttp turned into a response, a
WebSocket's handshake.
"""

from __future__ import annotations

import re
import secrets

from aiohttp import web

from base.http import Handler
from base.logs import REQUEST_ID

HEADER = "X-Request-Id"
SANE = re.compile(r"[A-Za-z0-9._-]{1,64}", re.ASCII)
REQUEST_ID_KEY = web.RequestKey("base.request_id", str)


def request_id_of(sent: str | None) -> str:
    """``sent`` when it is a sane id, otherwise a new one (16 hex digits)."""
    if sent is not None and SANE.fullmatch(sent):
        return sent
    return secrets.token_hex(8)


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Outermost, so that every other middleware's log lines carry the id. The context
    variable is not reset afterwards: aiohttp runs each request in a task of its own (a copy
    of the context), so it goes with the task, and aiohttp's access-log line, written after
    the handler, still carries it."""
    found = request_id_of(request.headers.get(HEADER))
    request[REQUEST_ID_KEY] = found
    REQUEST_ID.set(found)
    return await handler(request)


async def echo_request_id(request: web.Request, response: web.StreamResponse) -> None:
    found = request.get(REQUEST_ID_KEY)
    if found is not None:
        response.headers[HEADER] = found
