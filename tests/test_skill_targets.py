"""A skill's own promise (``[staffing.skills.ID]``): real contacts carry its priority, so they
are offered first, and the stats count them answered in time against its own target."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from base.config import Config, SkillTarget
from expertline.app import DATABASE, create_app
from router.context import engine_of
from skills.watch import EVERYTHING
from tests.conftest import TokenFactory
from tests.engine_support import arrive, seed_pool
from tests.test_console_live import NOON, Frozen

PROMISES = {"housing": SkillTarget(priority=8),
            "dementia": SkillTarget(service_level=0.95, target_s=60)}


@pytest.fixture
async def client(aiohttp_client: Callable[..., Awaitable[TestClient]],
                 config: Config) -> TestClient:
    """The real app, with two skills promising more than the [staffing] default."""
    found = await aiohttp_client(create_app(config.replace(staffing={"skills": PROMISES})))
    await seed_pool(found.app[DATABASE], {  # ann takes dementia and housing alike
        "e-ann": ("nhs-a", {"dementia": 5, "housing": 5}, ("en",), "+447700900001")})
    await engine_of(found.app)._reload_pool(EVERYTHING)
    return found



async def test_a_call_for_a_skill_with_a_priority_is_offered_before_an_earlier_one(
        client: TestClient, auth: TokenFactory) -> None:
    first = await arrive(client.app, "CA-first", "dementia")
    urgent = await arrive(client.app, "CA-urgent", "housing")
    ann = await auth("expert", expert="e-ann")
    await client.put("/api/v1/me/status", json={"status": "available"}, headers=ann)
    offers = await (await client.get("/api/v1/me/offers", headers=ann)).json()
    assert [o["contact"]["id"] for o in offers["items"]] == [urgent]
    admin = await auth("admin")
    shown = await (await client.get(f"/api/v1/contacts/{urgent}", headers=admin)).json()
    assert shown["priority"] == 8
    waiting = await (await client.get(f"/api/v1/contacts/{first}", headers=admin)).json()
    assert (waiting["priority"], waiting["state"]) == (0, "queued")


async def test_the_stats_count_a_skills_contacts_against_its_own_target(
        client: TestClient, auth: TokenFactory) -> None:
    engine = engine_of(client.app)
    engine.clock = clock = Frozen(NOON)
    await arrive(client.app, "CA-slow", "dementia")
    clock.at = NOON + 40  # answered after 40 s: late for 20 s, in time for dementia's 60 s
    await engine.set_status("e-ann", "available")
    [offer] = engine.offers("e-ann")
    await engine.accept("e-ann", offer["id"])
    stats: Any = await (await client.get("/api/v1/stats",
                                         headers=await auth("admin"))).json()
    dementia = stats["by_skill"]["dementia"]["today"]
    assert (dementia["service_level"], dementia["target_s"], dementia["goal"]) == (1.0, 60, 0.95)
    assert stats["today"]["service_level"] == 1.0  # each contact against its skill's target
    assert (stats["today"]["target_s"], stats["today"]["goal"]) == (20.0, 0.8)


async def test_a_contact_moved_to_a_skill_with_a_priority_takes_it_on(
        client: TestClient, auth: TokenFactory) -> None:
    contact = await arrive(client.app, "CA-moved", "dementia")
    admin = await auth("admin")
    moved = await client.post(f"/api/v1/contacts/{contact}/move", headers=admin,
                              json={"skill": "housing", "why": "it is about her tenancy"})
    assert (await moved.json())["priority"] == 8
