"""REST surface of the routing engine (README, "HTTP API"): the expert desk under ``/api/v1/me``,
contacts and live statistics for supervisors (``router.wiring.setup`` registers ``routes()``).

The desk: ``GET /api/v1/me`` (the expert's ``name``, state, offers, sessions, ``wrapups`` as
``[{"session_id", "ends_at"}]``, ``today`` as ``{"sessions", "handle_s"}`` since midnight in
London), ``PUT /api/v1/me/status``, ``GET /api/v1/me/offers`` (each offer's contact with the
citizen's ``first_words``), accept and decline, ``POST …/sessions/{id}/complete``,
``POST …/sessions/{id}/messages`` (``{"text"}``: stored in the transcript, then delivered) and
``GET …/sessions/{id}/messages`` (``{"items": [{"at", "sender", "text"}]}``: the chat so far,
first words first, for a session connected or in wrap-up).

Experts act only on their own offers and sessions (anyone else's is a 404); supervisors and
admins read contacts and stats, never the citizen's words.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from base.access import Principal, Role, require_role
from base.access_log import record_reads
from base.db import writing
from base.errors import BadRequest, InvalidInput, NotFound
from base.http import Fields, is_language, json_response, page_of, paging, principal, read_json
from base.logs import mask_phone
from router.context import engine_of, me
from router.ports import Channel, ContactRequest, Medium
from router.stats import live_stats
from router.supervision import MAX_WHY, check_why, sees_contact
from router.tables import ContactRow
from router.writes import decision_row

log = logging.getLogger("router.api")
STATES = ("queued", "offered", "connected", "wrapup", "completed", "abandoned", "callback",
          "failed")


def routes() -> list[web.RouteDef]:
    return [
        web.put("/api/v1/me/status", put_status),
        web.get("/api/v1/me", get_me),
        web.get("/api/v1/me/offers", get_offers),
        web.post("/api/v1/me/offers/{id}/accept", accept),
        web.post("/api/v1/me/offers/{id}/decline", decline),
        web.post("/api/v1/me/sessions/{id}/complete", complete),
        web.post("/api/v1/me/sessions/{id}/messages", message),
        web.get("/api/v1/me/sessions/{id}/messages", transcript),
        web.get("/api/v1/contacts", list_contacts),
        web.post("/api/v1/contacts", create_contact),
        web.get("/api/v1/contacts/{id}", get_contact),
        web.post("/api/v1/contacts/{id}/distressing", distressing),
        web.post("/api/v1/contacts/{id}/move", move_contact),
        web.post("/api/v1/contacts/{id}/end", end_session),
        web.put("/api/v1/experts/{id}/status", put_expert_status),
        web.get("/api/v1/stats", stats),
        web.get("/api/v1/router/consistency", consistency),
    ]


# -- the expert desk -----------------------------------------------------------------------------
async def put_status(request: web.Request) -> web.Response:
    expert_id = me(request)
    body = Fields(await read_json(request), allowed={"status", "reason", "takes"})
    status = body.str("status", required=True, max_len=16)
    done = await engine_of(request.app).set_status(
        expert_id, status or "", reason=body.str("reason", max_len=16),
        takes=body.list_of_str("takes", max_len=8))
    return json_response(done)


async def get_me(request: web.Request) -> web.Response:
    return json_response(await engine_of(request.app).desk_view(me(request)))


async def get_offers(request: web.Request) -> web.Response:
    return json_response({"items": engine_of(request.app).offers(me(request))})


async def accept(request: web.Request) -> web.Response:
    expert_id = me(request)
    return json_response(await engine_of(request.app).accept(expert_id,
                                                             request.match_info["id"]))


async def decline(request: web.Request) -> web.Response:
    expert_id = me(request)
    return json_response(await engine_of(request.app).decline(expert_id,
                                                              request.match_info["id"]))


async def complete(request: web.Request) -> web.Response:
    expert_id = me(request)
    raw = await read_json(request) if request.body_exists else {}
    body = Fields(raw, allowed={"distressing"})
    done = await engine_of(request.app).complete(
        expert_id, request.match_info["id"], distressing=bool(body.bool("distressing")))
    return json_response(done)


async def message(request: web.Request) -> web.Response:
    expert_id = me(request)
    body = Fields(await read_json(request), allowed={"text"})
    text = body.str("text", required=True, max_len=2000) or ""
    await engine_of(request.app).send_message(expert_id, request.match_info["id"], text)
    return json_response({"sent": True}, status=202)


async def transcript(request: web.Request) -> web.Response:
    expert_id = me(request)
    lines = await engine_of(request.app).session_messages(expert_id, request.match_info["id"])
    return json_response({"items": lines})


# -- contacts for supervisors --------------------------------------------------------------------
def _reader(request: web.Request) -> Principal:
    caller = principal(request)
    require_role(caller, Role.ADMIN, Role.SUPERVISOR)
    return caller


def contact_json(row: ContactRow, caller: Principal) -> dict[str, Any]:
    """Admins see the citizen's number; supervisors see it masked. Neither sees the
    citizen's first words or messages: those are for the expert they talk to."""
    def number(value: str) -> str:
        return value if caller.role is Role.ADMIN else mask_phone(value)

    return {"id": row.id, "seq": row.seq, "state": row.state, "reason": row.reason,
            "channel": row.channel, "medium": row.medium, "skill": row.skill,
            "language": row.language, "priority": row.priority, "org": row.org,
            "accreditations": row.accreditations, "address": number(row.address),
            "callback_number": number(row.callback_number), "triage": row.triage,
            "arrived_at": _iso(row.arrived_at), "answered_at": _iso(row.answered_at),
            "ended_at": _iso(row.ended_at), "waited_s": row.waited_s,
            "expert_id": row.expert_id, "external_ref": row.external_ref}


def _iso(at: float | None) -> str | None:
    return None if at is None else datetime.fromtimestamp(at, UTC).isoformat()


async def list_contacts(request: web.Request) -> web.Response:
    return json_response(await contacts_page(request, _reader(request)))


async def get_contact(request: web.Request) -> web.Response:
    return json_response(await contact_detail(request, _reader(request),
                                              request.match_info["id"]))


async def contacts_page(request: web.Request, caller: Principal) -> dict[str, Any]:
    """``?state=a,b&skill=&expert=&q=&limit=&offset=``: newest first; ``q`` is a contact's id
    or its channel reference (a CallSid, a chat id). The console's list reads this too."""
    states = [s for s in request.query.get("state", "").split(",") if s]
    unknown = [s for s in states if s not in STATES]
    if unknown:
        raise BadRequest(f"unknown state {unknown[0]!r}; one of {', '.join(STATES)}")
    limit, offset = paging(request)
    engine = engine_of(request.app)
    scope = (None if caller.role is Role.ADMIN
             else (caller.orgs, engine.experts_of(caller.orgs)))
    rows, total = await engine.store.contacts(
        states=states, limit=limit, offset=offset, skill=_query(request, "skill"),
        expert_id=_query(request, "expert"), search=_query(request, "q"), scope=scope)
    shown = [r.id for r in rows if caller.role is Role.ADMIN and (r.address or r.callback_number)]
    if shown:  # an admin saw these citizens' numbers in clear
        await _log_reads(request, caller, shown, what="list")
    return page_of([contact_json(r, caller) for r in rows], total=total, limit=limit,
                   offset=offset)


async def _log_reads(request: web.Request, caller: Principal, contact_ids: list[str], *,
                     what: str) -> None:
    """Write who read these citizens' contacts to the access log before answering: a read
    that cannot be logged is not answered (503)."""
    via = "console" if request.path.startswith("/console/") else "api"
    async with writing(engine_of(request.app).store.db.session) as session:
        record_reads(session, reader=caller, contact_ids=contact_ids, via=via, what=what)


def _query(request: web.Request, key: str) -> str | None:
    value = request.query.get(key, "").strip()
    if len(value) > 100:
        raise BadRequest(f"query parameter {key!r} is longer than 100 characters")
    return value or None


async def contact_detail(request: web.Request, caller: Principal,
                         contact_id: str) -> dict[str, Any]:
    """The contact with its whole history: events, offers, sessions, every routing decision
    with its candidates, and who would take it now (``now``, None once it is settled). The
    API and the console's contact page both read it here, so each read is access-logged."""
    engine = engine_of(request.app)
    row = await engine.store.contact(contact_id)
    expert_org = None if row is None or row.expert_id is None else engine.expert_org(row.expert_id)
    if row is None or not sees_contact(caller, row.org, expert_org):
        raise NotFound(f"contact {contact_id} is unknown", contact=contact_id)
    history = await engine.store.history(contact_id)
    found = contact_json(row, caller)
    found["events"] = [{"at": _iso(e.at), "state": e.state, "reason": e.reason,
                        "expert_id": e.expert_id} for e in history["events"]]
    found["offers"] = [{"id": o.id, "expert_id": o.expert_id, "status": o.status,
                        "made_at": _iso(o.made_at), "closed_at": _iso(o.closed_at),
                        "reason": o.reason} for o in history["offers"]]
    found["sessions"] = [{"id": s.id, "expert_id": s.expert_id,
                          "started_at": _iso(s.started_at), "ended_at": _iso(s.ended_at),
                          "ended_by": s.ended_by, "distressing": s.distressing}
                         for s in history["sessions"]]
    found["decisions"] = [_decision_json(d) for d in history["decisions"]]
    live = engine.core.explain(contact_id, engine.clock())
    found["now"] = None if live is None else _decision_json(decision_row(live))
    await _log_reads(request, caller, [contact_id], what="detail")
    return found


def _decision_json(d: Any) -> dict[str, Any]:
    return {"at": _iso(d.at), "step": d.step, "policy": d.policy, "chosen": d.chosen,
            "reason": d.reason, "candidates": d.candidates}


async def create_contact(request: web.Request) -> web.Response:
    """A supervisor or a script queues a contact by hand (the channels use the engine)."""
    _reader(request)
    body = Fields(await read_json(request), allowed={
        "channel", "skill", "language", "priority", "external_ref", "org", "accreditations"})
    channel = body.str("channel", max_len=8) or "voice"
    if channel not in ("voice", "chat"):
        raise InvalidInput("channel must be voice or chat", field="channel")
    skill = body.str("skill", required=True, max_len=64) or ""
    ref = body.str("external_ref", max_len=100) or f"api-{datetime.now(UTC).timestamp()}"
    request_ = ContactRequest(
        channel=Channel(channel), medium=Medium.PHONE if channel == "voice" else Medium.WEB,
        skill=skill, language=body.str("language", max_len=16, pattern=is_language) or "en",
        external_ref=ref, priority=body.int("priority", lo=0, hi=10) or 0)
    accreditations = frozenset(body.list_of_str("accreditations") or ())
    org = body.str("org", max_len=64)
    engine = engine_of(request.app)
    problem = engine.unservable(language=request_.language, org=org,
                                accreditations=accreditations)
    if problem is not None:
        raise InvalidInput(f"nobody could ever take this contact: {problem[1]}",
                           field=problem[0])
    ticket = await engine.submit(request_, org=org, accreditations=accreditations)
    queue = ticket.queue
    return json_response({"id": ticket.contact_id, "created": ticket.created,
                          "state": queue.state.value, "position": queue.position,
                          "estimated_wait_s": queue.estimated_wait_s},
                         status=201 if ticket.created else 200)


async def distressing(request: web.Request) -> web.Response:
    caller = _reader(request)
    engine_of(request.app).visible(caller, request.match_info["id"])
    body = Fields(await _optional_json(request), allowed={"why"})
    why = body.str("why", max_len=MAX_WHY) or "marked distressing"
    await engine_of(request.app).note_distressing(request.match_info["id"],
                                                  actor=caller.actor, why=check_why(why))
    return json_response({"distressing": True})


# -- supervisors act on live work (each audited with who and why) -------------------------------
async def move_contact(request: web.Request) -> web.Response:
    """``{"skill"?, "priority"?: 0..10, "why"}``: a waiting contact to another skill or
    priority; it keeps its arrival time and a pending offer is rescinded."""
    caller = _reader(request)
    engine_of(request.app).visible(caller, request.match_info["id"])
    body = Fields(await read_json(request), allowed={"skill", "priority", "why"})
    skill = body.str("skill", max_len=64)
    priority = body.int("priority", lo=0, hi=10)
    why = check_why(body.str("why", max_len=MAX_WHY))
    if skill is None and priority is None:
        raise InvalidInput("say where to move it: skill, priority or both", field="skill")
    moved = await engine_of(request.app).move_contact(
        request.match_info["id"], skill=skill, priority=priority, actor=caller.actor, why=why)
    return json_response(moved)


async def end_session(request: web.Request) -> web.Response:
    """``{"why"}``: end a contact's stuck session as if its expert had completed it."""
    caller = _reader(request)
    engine_of(request.app).visible(caller, request.match_info["id"])
    body = Fields(await read_json(request), allowed={"why"})
    why = check_why(body.str("why", max_len=MAX_WHY))
    ended = await engine_of(request.app).end_stuck_session(request.match_info["id"],
                                                           actor=caller.actor, why=why)
    return json_response(ended)


async def put_expert_status(request: web.Request) -> web.Response:
    """``{"status": "available"|"away"|"offline", "why"}`` for an expert in the caller's
    organisations (admins: anyone). Away or offline rescinds their pending offers."""
    caller = _reader(request)
    expert_id = request.match_info["id"]
    body = Fields(await read_json(request), allowed={"status", "why"})
    status = body.str("status", required=True, max_len=16) or ""
    why = check_why(body.str("why", max_len=MAX_WHY))
    engine = engine_of(request.app)
    org = engine.expert_org(expert_id)
    if org is None or (caller.role is not Role.ADMIN and org not in caller.orgs):
        raise NotFound(f"expert {expert_id} is unknown or not in your organisations",
                       expert=expert_id)
    done = await engine.set_expert_status(expert_id, status, actor=caller.actor, why=why)
    return json_response(done)


async def _optional_json(request: web.Request) -> Any:
    return await read_json(request) if request.can_read_body else {}


async def consistency(request: web.Request) -> web.Response:
    """Admins: does the router agree with the database about every live contact, offer and
    session? (After a database fault it rebuilds until it does.)"""
    require_role(principal(request), Role.ADMIN)
    found = await engine_of(request.app).disagreements()
    return json_response({"agree": not found, "differences": found[:100],
                          "count": len(found)})


# -- live statistics -----------------------------------------------------------------------------
async def stats(request: web.Request) -> web.Response:
    _reader(request)
    return json_response(await live_stats(engine_of(request.app)))
