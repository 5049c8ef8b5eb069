"""``GET /api/v1/alerts[?skill=ID]``: the latest breach forecasts (``scheduler.alerts``).

Admins and supervisors. The answer is ``{"at", "alerts", "outlook"}``: ``at`` when the
forecasts were made (ISO, the routing engine's clock; null before the first computation),
``alerts`` the forecasts of the skills heading for a breach, worst first, and ``outlook`` every
skill's forecast, by skill id (``scheduler.breach.Forecast.to_json``). A supervisor sees the
skills their organisations' experts hold, and only their own experts among those who could
flex in. ``skill`` keeps one skill (an unknown one: empty lists); a malformed one is a 400.
"""

from __future__ import annotations

from aiohttp import web

from base.access import Role, require_role
from base.api_spec import Query, Reply, obj, operation
from base.errors import BadRequest
from base.http import json_response, principal
from scheduler.alerts import BreachAlerts
from skills.transfer_check import SLUG, SLUG_HINT

ALERTS = web.AppKey("scheduler.alerts", BreachAlerts)
SKILL = Query("skill", max_len=64, doc=f"keep one skill: its id, {SLUG_HINT}")
FORECAST = obj(("skill", "service_level_target", "target_s", "outlook", "breach", "suggestion"),
               skill={"type": "string"}, service_level_target={"type": "number"},
               target_s={"type": "number"}, deviation={"type": "number"},
               outlook={"type": "array", "items": obj(
                   ("horizon_min", "service_level"), horizon_min={"type": "integer"},
                   per_hour={"type": "number"}, agents={"type": "number"},
                   service_level={"type": "number"})},
               breach={"type": "boolean"}, more_experts={"type": "integer"},
               flex={"type": "array", "items": {"type": "string"}},
               suggestion={"type": ["string", "null"]})
ANSWER = obj(("at", "alerts", "outlook"), at={"type": ["string", "null"]},
             alerts={"type": "array", "items": FORECAST},
             outlook={"type": "array", "items": FORECAST})


def routes() -> list[web.RouteDef]:
    return [web.get("/api/v1/alerts", get_alerts)]


@operation("Skills heading for a breach of their service level in the next 30 or 60 minutes",
           roles=("admin", "supervisor"), query=(SKILL,), reply=Reply(schema=ANSWER))
async def get_alerts(request: web.Request) -> web.Response:
    caller = principal(request)
    require_role(caller, Role.ADMIN, Role.SUPERVISOR)
    skill = SKILL.read(request)
    if skill is not None and SLUG.fullmatch(skill) is None:
        raise BadRequest(f"query parameter 'skill' must be {SLUG_HINT}")
    return json_response(request.app[ALERTS].board.view(caller, skill))
