"""The scheduler and the real routing engine in one app: availability follows the rota."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from aiohttp.test_utils import TestClient

import scheduler.wiring
from expertline.app import DATABASE
from router.context import engine_of
from skills.watch import EVERYTHING
from tests.conftest import TokenFactory
from tests.engine_support import seed_pool

LONDON = ZoneInfo("Europe/London")


def one_off(start: datetime, hours: float) -> dict[str, str]:
    wall = start.astimezone(LONDON).replace(tzinfo=None, second=0, microsecond=0)
    return {"kind": "one_off", "start": wall.isoformat(timespec="minutes"),
            "end": (wall + timedelta(hours=hours)).isoformat(timespec="minutes")}


async def test_an_expert_off_shift_gets_no_offers_until_the_shift_starts(
        client: TestClient, auth: TokenFactory) -> None:
    await seed_pool(client.app[DATABASE])
    engine = engine_of(client.app)
    await engine._reload_pool(EVERYTHING)
    admin = await auth("admin")
    ann = await auth("expert", expert="e-ann")
    now = datetime.now(LONDON)
    later = await client.post("/api/v1/experts/e-ann/shifts",
                              json=one_off(now + timedelta(days=1), 5), headers=admin)
    assert later.status == 201, await later.text()
    await client.put("/api/v1/me/status", json={"status": "available"}, headers=ann)
    assert await scheduler.wiring.scheduler_of(client.app).reconcile_now()
    desk = await (await client.get("/api/v1/me", headers=ann)).json()
    assert (desk["state"], desk["reason"], desk["requested"]) == ("away", "off shift",
                                                                 "available")
    await client.post("/api/v1/contacts", json={"skill": "dementia"}, headers=admin)
    assert (await (await client.get("/api/v1/me/offers", headers=ann)).json())["items"] == []

    current = await client.post("/api/v1/experts/e-ann/shifts",
                                json=one_off(now - timedelta(hours=1), 4), headers=admin)
    assert current.status == 201, await current.text()
    assert await scheduler.wiring.scheduler_of(client.app).reconcile_now()
    offers = (await (await client.get("/api/v1/me/offers", headers=ann)).json())["items"]
    assert [o["contact"]["skill"] for o in offers] == ["dementia"]
