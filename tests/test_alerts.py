"""Breach alerts in the running service (issue 17, item 4, the live half): the gathering of each
skill's ``SkillNow`` from plain inputs, then the real app on a real database with the routing
engine's clock frozen: ``GET /api/v1/alerts``, the wallboard's socket and its page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient

from base.access import Principal, Role
from base.config import StaffingConfig
from base.db import Database
from expertline.app import DATABASE
from expertline.schema import database
from router.context import engine_of
from router.ports import Floor, OnDuty
from router.tables import ContactRow
from scheduler import breach
from scheduler.alerts import (
    AlertBoard,
    Gathered,
    Outlook,
    Plan,
    gather,
    make_plan,
    today_figures,
)
from scheduler.service import Scheduler
from scheduler.wiring import alerts_of
from skills.watch import EVERYTHING
from tests.conftest import TokenFactory, make_config
from tests.engine_support import arrive, seed_pool
from tests.test_pages import link, sign_in

LONDON = ZoneInfo("Europe/London")
NOON = datetime(2026, 12, 4, 12, 0, tzinfo=LONDON)  # a Friday
STAFFING = StaffingConfig()  # 80 % in 20 s for every skill
POOL = {  # dementia-carers is narrower than dementia (cost 0.5): Dee could flex in
    "e-ann": ("nhs-a", {"dementia": 5}, ("en",), "+447700900001"),
    "e-dee": ("council-b", {"dementia-carers": 4}, ("en",), "+447700900004"),
    "e-cat": ("council-b", {"housing": 5}, ("en",), "+447700900003"),
}


class Frozen:
    def __init__(self, at: float) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at


def history(per_half_hour: dict[str, tuple[int, float]], *, weeks: int = 4,
            hours: tuple[int, int] = (10, 14)) -> list[tuple[float, str, float, float]]:
    """``(arrived, skill, answered, ended)`` rows: on each of the ``weeks`` Fridays before
    NOON's, ``n`` contacts of each skill per half-hour between ``hours``, each taking ``aht``
    from answer to the end of its wrap-up."""
    rows = []
    for week in range(1, weeks + 1):
        day = NOON.date() - timedelta(weeks=week)
        for half in range(hours[0] * 2, hours[1] * 2):
            start = datetime(day.year, day.month, day.day, half // 2, 30 * (half % 2),
                             tzinfo=LONDON).timestamp()
            for skill, (n, aht) in per_half_hour.items():
                for i in range(n):
                    arrived = start + i * 1800 / n
                    rows.append((arrived, skill, arrived + 5, arrived + 5 + aht))
    return rows


def plan_of(rows: list[tuple[float, str, float, float]]) -> Plan:
    midnight = datetime(NOON.year, NOON.month, NOON.day, tzinfo=LONDON)
    return make_plan(NOON.date(), rows, interval_min=30, until=midnight)


# -- the gathering, pure ----------------------------------------------------------------------
def test_the_plan_is_the_history_forecast_for_the_next_half_hours() -> None:
    plan = plan_of(history({"dementia": (20, 600.0)}))
    now = NOON.timestamp()
    assert plan.per_hour("dementia", now, now + 1800) == pytest.approx(40.0)
    assert plan.planned("dementia", now - 900, now) == pytest.approx(10.0)
    assert plan.planned("dementia", now + 2 * 3600 - 900, now + 3 * 3600) == pytest.approx(10.0)
    assert plan.aht("dementia") == pytest.approx(600.0) and plan.skills() == {"dementia"}
    assert plan.aht("unknown") == pytest.approx(600.0)  # every skill's mean


def test_gather_reads_each_field_from_the_floor_the_plan_and_today() -> None:
    now = NOON.timestamp()
    floor = Floor(at=now, waiting={"dementia": 6, "carers-support": 1}, on_duty=(
        OnDuty("e-ann", "Ann", "nhs-a", frozenset({"dementia"}), idle=False),
        OnDuty("e-bob", "Bob", "nhs-a", frozenset({"dementia", "dementia-carers"}), idle=True),
        OnDuty("e-dee", "Dee", "council-b", frozenset({"dementia-carers"}), idle=True),
        OnDuty("e-eve", "Eve", "council-b", frozenset({"dementia-carers"}), idle=False),
        OnDuty("e-cat", "Cat", "council-b", frozenset({"housing"}), idle=True),
    ), orgs={"dementia": frozenset({"nhs-a"})})
    found = gather(floor, plan_of(history({"dementia": (20, 600.0), "housing": (1, 300.0)})),
                   recent={"dementia": 30}, handle_today={"housing": 240.0},
                   related={"dementia": ("dementia-carers",)}, staffing=STAFFING)
    assert sorted(found) == ["carers-support", "dementia", "housing"]  # planned or waiting
    dementia = found["dementia"].now
    assert (dementia.waiting, dementia.staffed) == (6, 2)
    assert dementia.nearby_spare == 1.0  # Dee: free, one step away; Bob holds dementia itself
    assert dementia.flex == ("Dee", "Eve")  # free first
    assert dementia.planned_per_hour == pytest.approx((40.0, 40.0))
    assert (dementia.recent_arrivals, dementia.recent_planned) == (30, pytest.approx(10.0))
    assert (dementia.target_s, dementia.level) == (20.0, 0.8)
    assert found["housing"].now.aht_s == 240.0  # today's, once there are enough
    assert dementia.aht_s == pytest.approx(600.0)  # else the history's
    assert found["carers-support"].now.planned_per_hour == (0.0, 0.0)
    assert found["dementia"].orgs == {"nhs-a"}


async def test_today_figures_count_the_last_quarter_hour_and_trust_five_answers(
        db_url: str) -> None:
    now = NOON.timestamp()
    rows = [(now - 60 * i, "dementia", now - 60 * i + 1, now - 60 * i + 101) for i in range(20)]
    rows += [(now - 60 * i, "housing", now - 60 * i + 1, now - 60 * i + 31) for i in range(4)]
    rows.append((now - 13 * 3600, "dementia", now - 13 * 3600, now - 12 * 3600))  # yesterday
    async with database(db_url) as db:
        await seed_history(db, rows)
        async with db.session() as session:
            recent, handle = await today_figures(session, now=now, midnight=now - 12 * 3600)
    assert recent == {"dementia": 16, "housing": 4}
    assert handle == {"dementia": pytest.approx(100.0)}  # housing: too few answered yet


def test_a_supervisor_sees_their_organisations_skills_and_only_their_own_flex() -> None:
    def outlook(skill: str, orgs: set[str], level: float, flex: tuple[OnDuty, ...]) -> Outlook:
        found = breach.Forecast(skill, 0.8, 20.0, 1.0, (
            breach.Outlook(30, 10.0, 1.0, level), breach.Outlook(60, 10.0, 1.0, level)),
            more_experts=2 if level < 0.8 else 0, flex=tuple(e.name for e in flex))
        now = breach.SkillNow(skill, 20.0, 0.8, 0, 1, 0.0, 600.0, (10.0, 10.0), 0, 0.0)
        return Outlook(found, Gathered(now, flex, frozenset(orgs)))

    ann = OnDuty("e-ann", "Ann", "nhs-a", frozenset({"x"}), idle=True)
    cat = OnDuty("e-cat", "Cat", "council-b", frozenset({"x"}), idle=True)
    board = AlertBoard()
    assert board.view(Principal(Role.ADMIN)) == {"at": None, "alerts": [], "outlook": []}
    board.put(NOON.timestamp(), {"dementia": outlook("dementia", {"nhs-a"}, 0.5, (ann, cat)),
                                 "housing": outlook("housing", {"council-b"}, 0.3, ()),
                                 "calm": outlook("calm", {"nhs-a"}, 0.95, ())})
    admin = board.view(Principal(Role.ADMIN))
    assert [a["skill"] for a in admin["alerts"]] == ["housing", "dementia"]  # worst first
    assert [o["skill"] for o in admin["outlook"]] == ["calm", "dementia", "housing"]
    assert admin["alerts"][1]["flex"] == ["Ann", "Cat"]
    nhs = board.view(Principal(Role.SUPERVISOR, orgs=frozenset({"nhs-a"})))
    assert [a["skill"] for a in nhs["alerts"]] == ["dementia"]
    assert nhs["alerts"][0]["flex"] == ["Ann"] and "Cat" not in nhs["alerts"][0]["suggestion"]
    assert nhs["at"] == NOON.astimezone(UTC).isoformat()
    assert board.view(Principal(Role.ADMIN), "calm")["alerts"] == []


async def test_the_scheduler_runs_the_forecast_as_an_interval_job(sqlite_url: str,
                                                                  tmp_path: Path) -> None:
    ran: list[bool] = []

    async def job() -> None:
        ran.append(True)

    async with database(sqlite_url) as db:
        config = make_config(db.url, tmp_path, scheduler={"enabled": True})
        sched = Scheduler(sessions=db.session, config=config, availability=lambda: None,
                          routing=lambda: None)
        sched.every("breach-alerts", config.staffing.breach_every_s, job)
        async with sched:
            assert "breach-alerts" in sched.job_ids
            first = sched._aps.get_job("breach-alerts").next_run_time  # type: ignore[union-attr]
            # not at once: on start every expert is offline until their desk reconnects
            assert (first - datetime.now(UTC)).total_seconds() > 50
            assert ran == []
    assert config.staffing.breach_every_s == 60


# -- the running service ----------------------------------------------------------------------
async def seed_history(db: Database, rows: list[tuple[float, str, float, float]]) -> None:
    """Past contacts, with seqs below the engine's own (it numbers from the highest at start)."""
    async with db.transaction() as session:
        for i, (arrived, skill, answered, ended) in enumerate(rows, start=1):
            session.add(ContactRow(id=f"hist-{i}", seq=-i, external_ref=f"hist-{i}",
                                   channel="voice", medium="phone", skill=skill,
                                   state="completed", arrived_at=arrived, answered_at=answered,
                                   ended_at=ended, waited_s=5.0))


@pytest.fixture
async def floor(client: TestClient) -> Frozen:
    """Dementia: 40 contacts an hour planned for noon, ten minutes of handling each, eight
    waiting and one expert (Ann) on it. Housing: two an hour planned, Cat free for them."""
    db = client.app[DATABASE]
    await seed_pool(db, POOL)
    await seed_history(db, history({"dementia": (20, 600.0), "housing": (1, 300.0)}))
    engine = engine_of(client.app)
    await engine._reload_pool(EVERYTHING)
    engine.clock = clock = Frozen(NOON.timestamp())
    for expert in ("e-ann", "e-dee", "e-cat"):
        await engine.set_status(expert, "available")
    for i in range(8):
        await arrive(client.app, f"CA-{i}")
    return clock


async def get_alerts(client: TestClient, headers: dict[str, str], query: str = "") -> Any:
    resp = await client.get(f"/api/v1/alerts{query}", headers=headers)
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def test_a_long_queue_with_few_experts_raises_an_alert_a_calm_skill_none(
        client: TestClient, floor: Frozen, auth: TokenFactory) -> None:
    admin = await auth("admin")
    assert await get_alerts(client, admin) == {"at": None, "alerts": [], "outlook": []}
    alerts = alerts_of(client.app)
    assert alerts is not None and await alerts.refresh()
    found = await get_alerts(client, admin)
    assert found["at"] == NOON.astimezone(UTC).isoformat()
    (alert,) = found["alerts"]
    assert alert["skill"] == "dementia" and alert["breach"]
    assert all(o["service_level"] < 0.8 for o in alert["outlook"])
    assert alert["more_experts"] >= 5
    assert f"{alert['more_experts']} more experts on dementia" in alert["suggestion"]
    calm = {o["skill"]: o for o in found["outlook"]}["housing"]
    assert not calm["breach"] and calm["suggestion"] is None
    assert all(o["service_level"] >= 0.8 for o in calm["outlook"])
    # a supervisor of nhs-a: dementia (Ann's skill), not housing, and not Dee by name
    nhs = await get_alerts(client, await auth("supervisor", orgs={"nhs-a"}))
    assert [a["skill"] for a in nhs["alerts"]] == ["dementia"]
    assert [o["skill"] for o in nhs["outlook"]] == ["dementia"]
    assert "Dee" not in nhs["alerts"][0]["suggestion"]
    assert (await get_alerts(client, admin, "?skill=housing"))["alerts"] == []
    assert (await get_alerts(client, admin, "?skill=nothing-here"))["outlook"] == []


async def test_only_supervisors_and_admins_read_alerts_and_a_bad_query_is_a_400(
        client: TestClient, floor: Frozen, auth: TokenFactory) -> None:
    expert = await client.get("/api/v1/alerts", headers=await auth("expert", expert="e-ann"))
    assert expert.status == 403
    assert (await client.get("/api/v1/alerts")).status == 401
    admin = await auth("admin")
    for query in ("?skill=Not%20a%20skill", "?skill=" + "a" * 65):
        resp = await client.get(f"/api/v1/alerts{query}", headers=admin)
        assert resp.status == 400 and (await resp.json())["error"]["code"]


async def test_the_wallboard_socket_pushes_the_alerts_and_its_page_shows_a_banner(
        client: TestClient, floor: Frozen, auth: TokenFactory) -> None:
    alerts = alerts_of(client.app)
    assert alerts is not None and await alerts.refresh()
    headers = await auth("supervisor", orgs={"nhs-a"})
    expected = (await get_alerts(client, headers))["alerts"]
    async with client.ws_connect("/ws/console", headers=headers) as ws:
        frame = await ws.receive_json(timeout=5)
    assert frame["type"] == "wallboard" and frame["alerts"] == expected
    assert frame["alerts"][0]["skill"] == "dementia"
    await sign_in(client, await link(client, Role.SUPERVISOR, expert=None,
                                     orgs=frozenset({"nhs-a"})))
    page = await client.get("/console")
    html = await page.text()
    assert page.status == 200 and 'class="govuk-notification-banner"' in html
    assert "Dementia is heading for a breach" in html
    level = expected[0]["outlook"][0]["service_level"] * 100
    assert f"Predicted service level: {level:.1f}% in the next 30 minutes" in html
    assert "against a promise of 80.0% answered within 20 s" in html
    assert f"{expected[0]['more_experts']} more experts on dementia" in html


async def test_the_wallboard_shows_no_banner_before_any_forecast(
        client: TestClient, floor: Frozen) -> None:
    await sign_in(client, await link(client, Role.ADMIN, expert=None))
    html = await (await client.get("/console")).text()
    assert "govuk-notification-banner__heading" not in html and 'id="alerts"' in html
