"""The one wrapper every Twilio webhook goes through.

1. Parse the form body and check ``X-Twilio-Signature`` against the public URL: a bad or
   missing signature raises ``Forbidden`` (403, via the app's error middleware) before anything
   else happens.
2. A repeated ``I-Twilio-Idempotency-Token`` gets the reply it got the first time, unchanged.
3. The handler runs under a time budget well inside Twilio's 15 s; any failure is logged (ids
   and the error, never a caller's number) and answered with safe TwiML: an apology for a call,
   an empty reply for a message. A caller never hears a traceback.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import NoReturn

from aiohttp import web
from multidict import MultiDict, MultiDictProxy

from base.errors import BadRequest, Forbidden
from base.inputs import read_body, text_problem
from base.limits import enforce
from telephony import twiml
from telephony.prompts import CY, EN
from telephony.service import TELEPHONY, Telephony
from telephony.signature import IDEMPOTENCY_HEADER, SIGNATURE_HEADER

log = logging.getLogger("telephony.webhooks")

BUDGET_S = 10.0
FORM = "application/x-www-form-urlencoded"
Form = MultiDictProxy[str]
Handler = Callable[[Telephony, web.Request, Form], Awaitable[str]]


def voice_webhook(handler: Handler) -> Callable[[web.Request], Awaitable[web.Response]]:
    """A voice webhook: failures become a spoken apology and a hang-up."""

    def apology(tel: Telephony, request: web.Request) -> str:
        return twiml.error(tel.speech, lang_of(request))

    return _webhook(handler, apology)


def messaging_webhook(handler: Handler) -> Callable[[web.Request], Awaitable[web.Response]]:
    """A messaging webhook: failures become an empty reply (Twilio sends nothing); a number
    sending faster than ``limits.messages_per_number_per_min`` gets 429."""
    return _webhook(handler, lambda _tel, _request: twiml.message(None), admit=_admit_sender)


def _admit_sender(tel: Telephony, form: Form) -> None:
    enforce(tel.message_senders, form.get("From", ""), "messages from your number")


def _webhook(handler: Handler, on_error: Callable[[Telephony, web.Request], str], *,
             admit: Callable[[Telephony, Form], None] | None = None,
             ) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def serve(request: web.Request) -> web.Response:
        tel = request.app[TELEPHONY]
        signature = request.headers.get(SIGNATURE_HEADER)
        if tel.signatures.enforced and (not signature or request.content_type != FORM):
            _refuse(request)  # Twilio signs every webhook, and always sends a form
        form = await _form(request)
        if not tel.signatures.valid(request.raw_path, form, signature):
            _refuse(request)
        if admit is not None:
            admit(tel, form)
        token = request.headers.get(IDEMPOTENCY_HEADER, "")
        earlier = tel.replies.get(token) if token else None
        if earlier is not None:
            log.info("%s: retry of token %s answered as before", request.path, token[:16])
            return xml(earlier)
        reply = await _run(handler, tel, request, form, on_error)
        if token:
            tel.replies.remember(token, reply)
        return xml(reply)

    serve.__name__ = handler.__name__
    serve.__doc__ = handler.__doc__
    return serve


async def _run(handler: Handler, tel: Telephony, request: web.Request, form: Form,
               on_error: Callable[[Telephony, web.Request], str]) -> str:
    try:
        async with asyncio.timeout(BUDGET_S):
            return await handler(tel, request, form)
    except Exception as exc:
        log.error("webhook %s (call %s) failed: %r", request.path, form.get("CallSid", "-"), exc)
        log.debug("traceback", exc_info=True)
        return on_error(tel, request)


def _refuse(request: web.Request) -> NoReturn:
    log.warning("refused %s: bad or missing Twilio signature", request.path)
    raise Forbidden("invalid Twilio signature", code="bad_signature")


async def _form(request: web.Request) -> Form:
    await read_body(request)  # within the time limit; post() then parses what was read
    posted = await request.post()
    fields: MultiDict[str] = MultiDict()
    for key, value in posted.items():
        if not isinstance(value, str):
            raise BadRequest(f"form field {key!r} must be text")
        problem = text_problem(key) or text_problem(value)
        if problem is not None:
            raise BadRequest(f"form field {key!r} {problem}", code="invalid_text")
        fields.add(key, value)
    return MultiDictProxy(fields)


def xml(body: str) -> web.Response:
    return web.Response(text=body, content_type="text/xml", charset="utf-8")


def lang_of(request: web.Request) -> str:
    """The language our own URL carries (``?lang=cy``), English otherwise."""
    return CY if request.query.get("lang") == CY else EN


def contact_of(request: web.Request) -> str:
    """The contact id our own URL carries (``?c=``)."""
    contact_id = request.query.get("c", "")
    if not contact_id:
        raise BadRequest("this webhook URL names no contact")
    return contact_id


def required(form: Form, key: str) -> str:
    value = form.get(key, "")
    if not value:
        raise BadRequest(f"Twilio parameter {key} is missing")
    return value
