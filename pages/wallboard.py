"""``/console``: the live wallboard. The page is a frame; ``/static/console.js`` fills it from
the WebSocket ``/ws/console`` (``router.console_ws``), which pushes what ``GET /api/v1/stats``
answers, the contacts not yet finished and the skills heading for a breach of their promise.

The breach alerts are also drawn on the server, so the page shows them before its script
connects (and without script): a GOV.UK notification banner per skill naming the predicted
service level for the next 30 and 60 minutes against the promise, and what would help. Pages
may not import the scheduler, so the composition root hands in an ``AlertsSource``, ``(caller)
-> the alerts GET /api/v1/alerts shows them`` (``scheduler.breach.Forecast.to_json`` dicts),
with ``setup_alerts``; without one the page shows none.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from base.access import Principal, Role
from pages.console import console_page, sign_in_first, supervisor

AlertsSource = Callable[[Principal], list[dict[str, Any]]]
ALERTS_SOURCE = web.AppKey[AlertsSource]("pages.alerts_source")


def routes() -> list[web.RouteDef]:
    return [web.get("/console", wallboard)]


def setup_alerts(app: web.Application, source: AlertsSource) -> None:
    app[ALERTS_SOURCE] = source


def _percent(share: float) -> str:
    return f"{share * 100:.1f}%"


def alert_words(alert: dict[str, Any]) -> dict[str, str]:
    """A breach alert in words (``/static/console.js`` words a pushed one the same way)."""
    by_horizon = {o["horizon_min"]: o["service_level"] for o in alert["outlook"]}
    predicted = " and ".join(f"{_percent(level)} in the next {minutes} minutes"
                             for minutes, level in sorted(by_horizon.items()))
    return {
        "skill": alert["skill"],
        "heading": f"{alert['skill'].replace('-', ' ').capitalize()} is heading for a breach",
        "outlook": (f"Predicted service level: {predicted}, against a promise of "
                    f"{_percent(alert['service_level_target'])} answered within "
                    f"{alert['target_s']:g} s."),
        "suggestion": f"Suggestion: {alert['suggestion'] or 'call in cover'}.",
    }


async def wallboard(request: web.Request) -> web.Response:
    who = await supervisor(request)
    if who is None:
        return sign_in_first(request)
    source = request.app.get(ALERTS_SOURCE)
    alerts = [] if source is None else source(who.principal)
    orgs = sorted(who.principal.orgs) if who.principal.role is Role.SUPERVISOR else []
    return console_page(request, who, "console.html", title="Wallboard",
                        alerts=[alert_words(a) for a in alerts], remit=orgs)
