"""``/console``: the live wallboard. The page is a frame; ``/static/console.js`` fills it from
the WebSocket ``/ws/console`` (``router.console_ws``), which pushes what ``GET /api/v1/stats``
answers and the contacts not yet finished."""

from __future__ import annotations

from aiohttp import web

from pages.console import console_page, sign_in_first, supervisor


def routes() -> list[web.RouteDef]:
    return [web.get("/console", wallboard)]


async def wallboard(request: web.Request) -> web.Response:
    who = await supervisor(request)
    if who is None:
        return sign_in_first(request)
    return console_page(request, who, "console.html", title="Wallboard")
