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
from base.api_spec import (
    ANY_OBJECT,
    PAGING,
    TEXT,
    Body,
    Boolean,
    Integer,
    Path,
    Query,
    Reply,
    Text,
    TextList,
    items,
    obj,
    operation,
    page,
)
from base.db import writing
from base.errors import BadRequest, InvalidInput, NotFound
from base.http import LANGUAGE, json_response, page_of, paging, principal, read_json
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
PRESENCE = ("available", "away", "offline")
EXPERT, READERS = ("expert",), ("admin", "supervisor")
ID = {"id": Path(max_len=100)}
WHY = Text(MAX_WHY, doc="why: it goes into the audit log")
MY_STATUS = Body({"status": Text(16, required=True, enum=PRESENCE),
                  "reason": Text(16, enum=("break", "training", "admin", "other")),
                  "takes": TextList(8, doc="voice, chat or both")})
COMPLETE = Body({"distressing": Boolean(doc="adds recovery time")})
MESSAGE = Body({"text": Text(2000, required=True)})
CONTACT = Body({
    "channel": Text(8, enum=("voice", "chat"), doc="voice by default"),
    "skill": Text(64, required=True),
    "language": Text(16, pattern=LANGUAGE, doc="en by default"),
    "priority": Integer(0, 10),
    "external_ref": Text(100),
    "org": Text(64),
    "accreditations": TextList(),
})
DISTRESSING = Body({"why": WHY})
MOVE = Body({"skill": Text(64), "priority": Integer(0, 10), "why": WHY})
END = Body({"why": WHY})
EXPERT_STATUS = Body({"status": Text(16, required=True, enum=PRESENCE), "why": WHY})
STATE_Q = Query("state", max_len=200, doc=f"comma-separated, of {', '.join(STATES)}")
SKILL_Q, EXPERT_Q = Query("skill"), Query("expert")
SEARCH_Q = Query("q", doc="a contact's id or channel reference")
CONTACT_SCHEMA = obj(("id", "state", "channel", "skill"), id=TEXT, state=TEXT, channel=TEXT,
                     skill=TEXT, language=TEXT, priority={"type": "integer"})


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
@operation("Set my status", roles=EXPERT, body=MY_STATUS)
async def put_status(request: web.Request) -> web.Response:
    expert_id = me(request)
    body = MY_STATUS.read(await read_json(request))
    done = await engine_of(request.app).set_status(
        expert_id, body.get("status") or "", reason=body.get("reason"), takes=body.get("takes"))
    return json_response(done)


@operation("My desk: state, offers, sessions, wrap-ups, today", roles=EXPERT)
async def get_me(request: web.Request) -> web.Response:
    return json_response(await engine_of(request.app).desk_view(me(request)))


@operation("My offers", roles=EXPERT, reply=Reply(schema=items(ANY_OBJECT)))
async def get_offers(request: web.Request) -> web.Response:
    return json_response({"items": engine_of(request.app).offers(me(request))})


@operation("Accept an offer", roles=EXPERT, path=ID)
async def accept(request: web.Request) -> web.Response:
    expert_id = me(request)
    return json_response(await engine_of(request.app).accept(expert_id,
                                                             request.match_info["id"]))


@operation("Decline an offer", roles=EXPERT, path=ID)
async def decline(request: web.Request) -> web.Response:
    expert_id = me(request)
    return json_response(await engine_of(request.app).decline(expert_id,
                                                              request.match_info["id"]))


@operation("Complete a session (or end its wrap-up early)", roles=EXPERT, path=ID,
           body=COMPLETE, body_required=False)
async def complete(request: web.Request) -> web.Response:
    expert_id = me(request)
    raw = await read_json(request) if request.body_exists else {}
    body = COMPLETE.read(raw)
    done = await engine_of(request.app).complete(
        expert_id, request.match_info["id"], distressing=bool(body.get("distressing")))
    return json_response(done)


@operation("Write to the citizen", roles=EXPERT, path=ID, body=MESSAGE,
           reply=Reply(202, obj(("sent",), sent={"type": "boolean"})))
async def message(request: web.Request) -> web.Response:
    expert_id = me(request)
    text = MESSAGE.read(await read_json(request)).get("text") or ""
    await engine_of(request.app).send_message(expert_id, request.match_info["id"], text)
    return json_response({"sent": True}, status=202)


@operation("A session's transcript", roles=EXPERT, path=ID, reply=Reply(schema=items(obj(
    ("at", "sender", "text"), sender=TEXT, text=TEXT))))
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


@operation("Contacts, newest first", roles=READERS,
           query=(STATE_Q, SKILL_Q, EXPERT_Q, SEARCH_Q, *PAGING),
           reply=Reply(schema=page(CONTACT_SCHEMA)))
async def list_contacts(request: web.Request) -> web.Response:
    return json_response(await contacts_page(request, _reader(request)))


@operation("A contact with its whole history", roles=READERS, path=ID,
           reply=Reply(schema=CONTACT_SCHEMA))
async def get_contact(request: web.Request) -> web.Response:
    return json_response(await contact_detail(request, _reader(request),
                                              request.match_info["id"]))


async def contacts_page(request: web.Request, caller: Principal) -> dict[str, Any]:
    """``?state=a,b&skill=&expert=&q=&limit=&offset=``: newest first; ``q`` is a contact's id
    or its channel reference (a CallSid, a chat id). The console's list reads this too."""
    states = [s for s in (STATE_Q.read(request) or "").split(",") if s]
    unknown = [s for s in states if s not in STATES]
    if unknown:
        raise BadRequest(f"unknown state {unknown[0]!r}; one of {', '.join(STATES)}")
    limit, offset = paging(request)
    engine = engine_of(request.app)
    scope = (None if caller.role is Role.ADMIN
             else (caller.orgs, engine.experts_of(caller.orgs)))
    rows, total = await engine.store.contacts(
        states=states, limit=limit, offset=offset, skill=SKILL_Q.read(request),
        expert_id=EXPERT_Q.read(request), search=SEARCH_Q.read(request), scope=scope)
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


@operation("Queue a contact by hand", roles=READERS, body=CONTACT,
           reply=Reply(201, obj(("id", "created", "state"), id=TEXT, state=TEXT,
                                created={"type": "boolean"}), also=(200,)))
async def create_contact(request: web.Request) -> web.Response:
    """A supervisor or a script queues a contact by hand (the channels use the engine)."""
    _reader(request)
    body = CONTACT.read(await read_json(request))
    channel = body.get("channel") or "voice"
    skill = body.get("skill") or ""
    ref = body.get("external_ref") or f"api-{datetime.now(UTC).timestamp()}"
    request_ = ContactRequest(
        channel=Channel(channel), medium=Medium.PHONE if channel == "voice" else Medium.WEB,
        skill=skill, language=body.get("language") or "en",
        external_ref=ref, priority=body.get("priority") or 0)
    accreditations = frozenset(body.get("accreditations") or ())
    org = body.get("org")
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


@operation("Mark a contact's session distressing", roles=READERS, path=ID,
           body=DISTRESSING, body_required=False)
async def distressing(request: web.Request) -> web.Response:
    caller = _reader(request)
    engine_of(request.app).visible(caller, request.match_info["id"])
    why = DISTRESSING.read(await _optional_json(request)).get("why") or "marked distressing"
    await engine_of(request.app).note_distressing(request.match_info["id"],
                                                  actor=caller.actor, why=check_why(why))
    return json_response({"distressing": True})


# -- supervisors act on live work (each audited with who and why) -------------------------------
@operation("Move a waiting contact to another skill or priority", roles=READERS, path=ID,
           body=MOVE)
async def move_contact(request: web.Request) -> web.Response:
    """``{"skill"?, "priority"?: 0..10, "why"}``: a waiting contact to another skill or
    priority; it keeps its arrival time and a pending offer is rescinded."""
    caller = _reader(request)
    engine_of(request.app).visible(caller, request.match_info["id"])
    body = MOVE.read(await read_json(request))
    skill, priority = body.get("skill"), body.get("priority")
    why = check_why(body.get("why"))
    if skill is None and priority is None:
        raise InvalidInput("say where to move it: skill, priority or both", field="skill")
    moved = await engine_of(request.app).move_contact(
        request.match_info["id"], skill=skill, priority=priority, actor=caller.actor, why=why)
    return json_response(moved)


@operation("End a contact's stuck session", roles=READERS, path=ID, body=END)
async def end_session(request: web.Request) -> web.Response:
    """``{"why"}``: end a contact's stuck session as if its expert had completed it."""
    caller = _reader(request)
    engine_of(request.app).visible(caller, request.match_info["id"])
    why = check_why(END.read(await read_json(request)).get("why"))
    ended = await engine_of(request.app).end_stuck_session(request.match_info["id"],
                                                           actor=caller.actor, why=why)
    return json_response(ended)


@operation("Set an expert's status", roles=READERS, path=ID, body=EXPERT_STATUS)
async def put_expert_status(request: web.Request) -> web.Response:
    """``{"status": "available"|"away"|"offline", "why"}`` for an expert in the caller's
    organisations (admins: anyone). Away or offline rescinds their pending offers."""
    caller = _reader(request)
    expert_id = request.match_info["id"]
    body = EXPERT_STATUS.read(await read_json(request))
    status = body.get("status") or ""
    why = check_why(body.get("why"))
    if not may_set_status(request, caller, expert_id):
        raise NotFound(f"expert {expert_id} is unknown or not in your organisations",
                       expert=expert_id)
    done = await engine_of(request.app).set_expert_status(expert_id, status,
                                                          actor=caller.actor, why=why)
    return json_response(done)


def may_set_status(request: web.Request, caller: Principal, expert_id: str) -> bool:
    """Whether ``caller`` may set this expert's status: an expert of the routing pool, and a
    supervisor's only when of their organisations. ``PUT /api/v1/experts/{id}/status`` and the
    console's contact page (which offers the form only then) both ask here."""
    org = engine_of(request.app).expert_org(expert_id)
    return org is not None and (caller.role is Role.ADMIN or org in caller.orgs)


async def _optional_json(request: web.Request) -> Any:
    return await read_json(request) if request.can_read_body else {}


@operation("Whether the routing engine and the database agree", roles=("admin",),
           reply=Reply(schema=obj(("agree", "differences", "count"), agree={"type": "boolean"},
                                  differences={"type": "array"}, count={"type": "integer"})))
async def consistency(request: web.Request) -> web.Response:
    """Admins: does the router agree with the database about every live contact, offer and
    session? (After a database fault it rebuilds until it does.)"""
    require_role(principal(request), Role.ADMIN)
    found = await engine_of(request.app).disagreements()
    return json_response({"agree": not found, "differences": found[:100],
                          "count": len(found)})


# -- live statistics -----------------------------------------------------------------------------
@operation("Live figures: today, the last 30 minutes, per skill", roles=READERS)
async def stats(request: web.Request) -> web.Response:
    return json_response(await live_stats(engine_of(request.app), _reader(request)))
