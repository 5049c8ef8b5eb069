"""The admin's governance API, and the daily purge job.

``POST /api/v1/subject-access`` and ``POST /api/v1/erasure`` take ``{"number": "+447700900123"}``
in the body (never the URL, so the number stays out of access logs) and answer the records
found, or what erasure did. Admins only (anyone else: 403, before the body is read); bad JSON
is a 400, a body without a phone number a 422, an erasure refused because a contact is still
open a 409; none of them changes anything. ``setup`` also asks the scheduler to run the purge
every day at ``retention.purge_at``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from aiohttp import web

from base.access import Role, require_role
from base.api_spec import Body, Text, operation
from base.config import RetentionConfig
from base.db import Sessions
from base.http import json_response, principal, read_json
from expertline.governance import subjects
from expertline.governance.purge import purge
from scheduler.service import Scheduler

log = logging.getLogger("expertline.governance")
PURGE_JOB = "retention-purge"
NUMBER = Body({"number": Text(40, required=True, doc="a phone number, in any form")})


@dataclass(frozen=True, slots=True)
class Governance:
    sessions: Sessions
    retention: RetentionConfig


GOVERNANCE = web.AppKey("expertline.governance", Governance)


def setup(app: web.Application, *, sessions: Sessions, retention: RetentionConfig,
          scheduler: Scheduler) -> None:
    app[GOVERNANCE] = Governance(sessions, retention)
    app.router.add_post("/api/v1/subject-access", post_subject_access)
    app.router.add_post("/api/v1/erasure", post_erasure)
    scheduler.every_day(PURGE_JOB, retention.purge_at,
                        daily_purge(sessions, retention, scheduler.now))


def daily_purge(sessions: Sessions, retention: RetentionConfig,
                clock: Callable[[], datetime]) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        report = await purge(sessions, now=clock(), policy=retention)
        log.info("retention purge: %s", report.totals())

    return run


async def _number(request: web.Request) -> str:
    """The admin's ``number``, after the role check (a non-admin never gets this far)."""
    require_role(principal(request), Role.ADMIN)
    return NUMBER.read(await read_json(request)).get("number") or ""


@operation("Every record of a citizen's number", roles=("admin",), body=NUMBER)
async def post_subject_access(request: web.Request) -> web.Response:
    raw = await _number(request)
    gov = request.app[GOVERNANCE]
    found = await subjects.subject_access(gov.sessions, raw, retention=gov.retention,
                                          actor=principal(request).actor, via="api")
    return json_response(found.to_json())


@operation("Erase a citizen's number (409 while a contact of it is open)", roles=("admin",),
           body=NUMBER)
async def post_erasure(request: web.Request) -> web.Response:
    raw = await _number(request)
    gov = request.app[GOVERNANCE]
    done = await subjects.erase(gov.sessions, raw, retention=gov.retention,
                                actor=principal(request).actor)
    return json_response(done)
