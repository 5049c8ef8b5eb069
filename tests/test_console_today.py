"""The console's "Today" page: the pure arithmetic per interval (``router.stats.by_interval``:
arrivals, the service level by ``summarise``'s rule, the queue reconstructed from arrival,
answer and end times), the two SVG charts read back with xml.etree, and the page through the
real app and routing engine on a real database (SQLite and PostgreSQL), its clock frozen."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from xml.etree import ElementTree as ET
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from base.access import Role
from expertline.app import DATABASE
from pages.picture_data import Today, percent, today_slots
from pages.pictures import BLUE, queue_svg, service_svg
from router.context import engine_of
from router.stats import Arrival, answered_within, by_interval, summarise, waiting_at
from skills.watch import EVERYTHING
from tests.engine_support import arrive, seed_pool
from tests.test_pictures import SVG, sign_in_as, supervisor, tooltip

LONDON = ZoneInfo("Europe/London")
HALF = 1800.0
MIDNIGHT = datetime(2026, 12, 4, tzinfo=LONDON).timestamp()  # a Friday; London is on UTC


def at(hh_mm: str) -> float:
    """Epoch seconds of a London wall time on 4 December 2026 (``09:05:10``)."""
    parts = [int(p) for p in hh_mm.split(":")]
    hours, minutes, seconds = (*parts, 0)[:3]
    return MIDNIGHT + hours * 3600 + minutes * 60 + seconds


# -- the pure arithmetic ------------------------------------------------------------------------

# (skill, state, arrived_at, answered_at, ended_at, waited_s)
IN_TIME: Arrival = ("dementia", "completed", at("09:05"), at("09:05:10"), at("09:20"), 10.0)
LATE: Arrival = ("dementia", "connected", at("09:10"), at("09:40"), None, 1800.0)
GAVE_UP: Arrival = ("dementia", "abandoned", at("09:50"), None, at("09:55"), 300.0)
WAITING: Arrival = ("dementia", "queued", at("10:05"), None, None, None)
ROWS = [IN_TIME, LATE, GAVE_UP, WAITING]


def test_each_interval_counts_its_arrivals_service_level_and_the_queue_at_its_end() -> None:
    found = by_interval(ROWS, MIDNIGHT, at("10:15"), HALF, 20.0)
    assert len(found) == 21  # 00:00-00:30 up to the current 10:00-10:30
    assert [s["start"] for s in found[:2]] == [MIDNIGHT, MIDNIGHT + HALF]
    quiet, nine, half_nine, ten = found[0], found[18], found[19], found[20]
    assert (quiet["offered"], quiet["service_level"], quiet["waiting"]) == (0, None, 0)
    assert (nine["start"], nine["end"]) == (at("09:00"), at("09:30"))
    assert (nine["offered"], nine["answered"], nine["within_target"], nine["abandoned"],
            nine["service_level"], nine["waiting"]) == (2, 2, 1, 0, 0.5, 1)  # the late one
    assert (half_nine["offered"], half_nine["answered"], half_nine["abandoned"],
            half_nine["service_level"], half_nine["waiting"]) == (1, 0, 1, 0.0, 0)
    assert (ten["offered"], ten["service_level"], ten["waiting"]) == (1, None, 1)
    assert (nine["waiting_at"], ten["waiting_at"]) == (at("09:30"), at("10:15"))  # now


def test_the_service_level_is_summarises_rule() -> None:
    failed: Arrival = ("dementia", "failed", at("09:12"), at("09:12:05"), at("09:13"), 5.0)
    rows = [*ROWS, failed]
    nine = by_interval(rows, MIDNIGHT, at("09:29"), HALF, 20.0)[-1]
    settled = [(s, state, w) for s, state, a, _, _, w in rows if at("09:00") <= a < at("09:30")]
    assert nine["service_level"] == summarise(settled, 20.0)["service_level"] == 0.6667
    assert nine["within_target"] == answered_within(settled, 20.0) == 2


def test_the_queue_is_rebuilt_from_arrival_answer_and_end_times() -> None:
    assert waiting_at(ROWS, at("09:05")) == 1  # arrived that very second
    assert waiting_at(ROWS, at("09:05:10")) == 0  # answered then
    assert waiting_at(ROWS, at("09:20")) == 1  # the late one, answered at 09:40
    assert waiting_at(ROWS, at("09:45")) == 0
    assert waiting_at(ROWS, at("09:52")) == 1  # the one who gives up at 09:55
    assert waiting_at(ROWS, at("09:55")) == 0
    assert waiting_at(ROWS, at("11:00")) == 1


def test_the_day_the_clocks_go_forward_has_46_half_hours_named_by_the_wall_clock() -> None:
    midnight = datetime(2026, 3, 29, tzinfo=LONDON).timestamp()  # 01:00 GMT becomes 02:00 BST
    last = midnight + 23 * 3600 - 1
    data = {"skill": None, "start": midnight, "now": last, "interval_s": HALF,
            "target_s": 20.0, "goal": 0.8, "intervals": by_interval([], midnight, last, HALF, 20)}
    today = today_slots(data, LONDON)
    assert len(today.slots) == 46
    assert [today.label(s) for s in today.slots[1:3]] == ["00:30\u201302:00", "02:00\u201302:30"]
    root = ET.fromstring(queue_svg(today, svg_id="q", caption_id="c"))
    assert len(slots_of(root)) == 46


def test_the_first_second_of_the_day_is_one_interval_and_a_bad_interval_is_refused() -> None:
    assert len(by_interval([], MIDNIGHT, MIDNIGHT, HALF, 20.0)) == 1
    with pytest.raises(ValueError, match="positive"):
        by_interval([], MIDNIGHT, MIDNIGHT, 0, 20.0)


# -- the charts ---------------------------------------------------------------------------------


def figures(rows: list[Arrival], now: float, skill: str | None = None) -> dict[str, Any]:
    return {"skill": skill, "start": MIDNIGHT, "now": now, "interval_s": HALF, "target_s": 20.0,
            "goal": 0.8, "intervals": by_interval(rows, MIDNIGHT, now, HALF, 20.0)}


def slots_of(root: ET.Element) -> list[ET.Element]:
    return [g for g in root.iter(f"{SVG}g") if "xl-slot" in g.attrib.get("class", "").split()]


def test_the_service_chart_has_a_bar_or_ring_per_interval_against_a_dashed_goal() -> None:
    today = today_slots(figures(ROWS, at("10:15")), LONDON)
    root = ET.fromstring(service_svg(today, svg_id="sl", caption_id="cap"))
    assert root.attrib["role"] == "img" and root.attrib["aria-describedby"] == "cap"
    slots = slots_of(root)
    assert len(slots) == len(today.slots) == 21
    nine, half_nine, ten = slots[18], slots[19], slots[20]
    assert tooltip(nine) == ("09:00\u201309:30: 2 contacts arrived; service level 50%: 1 of 2 "
                             "answered within 20 s, 0 abandoned")
    assert "xl-missed" in nine.attrib["class"]
    assert nine.find(f"{SVG}rect").attrib["fill"] == "url(#sl-missed)"  # type: ignore[union-attr]
    assert float(nine.find(f"{SVG}rect").attrib["height"]) == 100  # type: ignore[union-attr]
    assert tooltip(half_nine).endswith("service level 0%: 0 of 1 answered within 20 s, "
                                       "1 abandoned")
    assert "xl-none" in ten.attrib["class"] and ten.find(f"{SVG}circle") is not None
    assert tooltip(ten) == ("10:00\u201310:30 (so far): 1 contact arrived; no service level "
                            "(none answered or abandoned yet)")
    goal = next(g for g in root.iter(f"{SVG}g") if g.attrib.get("class") == "xl-goal")
    line = goal.find(f"{SVG}line")
    assert line is not None and line.attrib["stroke-dasharray"]
    assert tooltip(goal) == "Goal: 80% within 20 s"
    axis = [t.text for t in root.iter(f"{SVG}text")]
    assert {"Service level", "0%", "100%", "09:00", "21:00"} <= set(axis)
    assert not [e for e in root.iter() if "style" in e.attrib]


def test_a_service_level_at_the_goal_is_solid() -> None:
    rows: list[Arrival] = [("x", "completed", at("08:0" + str(n)), at("08:0" + str(n)) + 5,
                            None, 5.0) for n in range(4)]
    rows.append(("x", "completed", at("08:10"), at("08:11"), None, 60.0))
    today = today_slots(figures(rows, at("08:20")), LONDON)
    (eight,) = [g for g in slots_of(ET.fromstring(service_svg(today, svg_id="s",
                                                              caption_id="c")))
                if g.attrib["data-start"] == datetime.fromtimestamp(at("08:00"), UTC).isoformat()]
    assert "xl-met" in eight.attrib["class"] and "80%" in tooltip(eight)
    assert eight.find(f"{SVG}rect").attrib["fill"] == BLUE  # type: ignore[union-attr]


def test_the_queue_chart_has_a_bar_per_interval_saying_how_many_waited() -> None:
    today: Today = today_slots(figures(ROWS, at("10:15")), LONDON)
    root = ET.fromstring(queue_svg(today, svg_id="q", caption_id="cap"))
    slots = slots_of(root)
    assert len(slots) == 21 and all(s.find(f"{SVG}rect") is not None for s in slots)
    assert tooltip(slots[18]) == "09:00\u201309:30: 1 waiting at 09:30"
    assert tooltip(slots[20]) == "10:00\u201310:30 (so far): 1 waiting at 10:15"
    heights = [float(s.find(f"{SVG}rect").attrib["height"]) for s in slots]  # type: ignore[union-attr]
    assert heights[18] == heights[20] == 50 and heights[19] == 0  # 1 of an axis of 4
    assert {"Contacts waiting", "0", "4"} <= {t.text for t in root.iter(f"{SVG}text")}


def test_percentages_read_as_people_write_them() -> None:
    assert (percent(0.5), percent(2 / 3), percent(1.0), percent(0.0)) == (
        "50%", "66.7%", "100%", "0%")
    assert percent(None) == "\u2013"


# -- the page, through the real app and engine --------------------------------------------------


class Frozen:
    """The engine's clock, moved only by the test."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now



async def answer(app: web.Application, clock: Frozen, expert: str, when: str) -> None:
    """``expert`` becomes available and accepts the contact offered at ``when``."""
    engine = engine_of(app)
    heard: list[dict[str, Any]] = []
    engine.connect_desk(expert, heard.append)
    clock.now = at(when)
    await engine.set_status(expert, "available")
    [offer] = engine.offers(expert)
    await engine.accept(expert, offer["id"])


async def seed_day(app: web.Application) -> Frozen:
    """The engine tests' pool, and through the real engine (its clock frozen): one contact
    answered in time (09:05, after 10 s), one late (09:10, answered at 09:40), one abandoned
    (09:50, gone at 09:55), and two still waiting at 10:15 (dementia, housing)."""
    await seed_pool(app[DATABASE])
    engine = engine_of(app)
    await engine._reload_pool(EVERYTHING)
    engine.clock = clock = Frozen(at("09:05"))
    await arrive(app, "CA-in-time")
    await answer(app, clock, "e-ann", "09:05:10")
    clock.now = at("09:10")
    await arrive(app, "CA-late")
    await answer(app, clock, "e-bob", "09:40")
    clock.now = at("09:50")
    gave_up = await arrive(app, "CA-gave-up")
    clock.now = at("09:55")
    await engine.abandon(gave_up, reason="hung up")
    clock.now = at("10:05")
    await arrive(app, "CA-waiting")
    clock.now = at("10:10")
    await arrive(app, "CA-housing", skill="housing")
    clock.now = at("10:15")
    return clock


@pytest.fixture
async def day(client: TestClient) -> Frozen:
    return await seed_day(client.app)


def pictures_in(html: str) -> dict[str, ET.Element]:
    found = [ET.fromstring(m) for m in re.findall(r"<svg .*?</svg>", html, re.S)]
    return {svg.attrib["id"]: svg for svg in found}


def rows_of(html: str) -> dict[str, list[str]]:
    """The today table's rows (their cells' text) by ``data-start``."""
    table = re.search(r'<table class="govuk-table" id="today-table">(.*?)</table>', html, re.S)
    assert table is not None
    return {start: [" ".join(re.sub(r"<[^>]+>", "", cell).split())
                    for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", inner, re.S)]
            for start, inner in re.findall(r'<tr [^>]*data-start="([^"]+)"[^>]*>(.*?)</tr>',
                                           table.group(1), re.S)}


async def test_the_table_and_both_charts_give_the_computed_figures(
        client: TestClient, day: Frozen) -> None:
    await supervisor(client)
    resp = await client.get("/console/today")
    html = await resp.text()
    assert resp.status == 200 and resp.headers["Content-Security-Policy"]
    expected = by_interval(await engine_of(client.app).store.arrivals_since(MIDNIGHT),
                           MIDNIGHT, at("10:15"), HALF, 20.0)
    rows = rows_of(html)
    assert len(rows) == len(expected) == 21
    for figures_ in expected:
        start = datetime.fromtimestamp(figures_["start"], UTC).isoformat()
        assert rows[start][1:] == [str(figures_["offered"]), str(figures_["answered"]),
                                   str(figures_["within_target"]), str(figures_["abandoned"]),
                                   percent(figures_["service_level"]), str(figures_["waiting"])]
    nine = datetime.fromtimestamp(at("09:00"), UTC).isoformat()
    half_nine = datetime.fromtimestamp(at("09:30"), UTC).isoformat()
    ten = datetime.fromtimestamp(at("10:00"), UTC).isoformat()
    assert rows[nine] == ["09:00\u201309:30", "2", "2", "1", "0", "50%", "1"]
    assert rows[half_nine] == ["09:30\u201310:00", "1", "0", "0", "1", "0%", "0"]
    assert rows[ten] == ["10:00\u201310:30 (so far)", "2", "0", "0", "0", "\u2013", "2"]
    pictures = pictures_in(html)
    service, queue = pictures["service-picture"], pictures["queue-picture"]
    for svg in (service, queue):
        assert [g.attrib["data-start"] for g in slots_of(svg)] == list(rows)
    by_start = {g.attrib["data-start"]: tooltip(g) for g in slots_of(service)}
    assert by_start[nine].startswith("09:00\u201309:30: 2 contacts arrived; service level 50%")
    assert {g.attrib["data-start"]: tooltip(g) for g in slots_of(queue)}[ten] == (
        "10:00\u201310:30 (so far): 2 waiting at 10:15")
    assert 'aria-describedby="service-caption"' in html and 'id="queue-caption"' in html
    assert "All skills: today until 10:15" in html


async def test_one_skill_counts_only_its_contacts(client: TestClient, day: Frozen) -> None:
    await supervisor(client)
    resp = await client.get("/console/today?skill=dementia")
    html = await resp.text()
    assert resp.status == 200 and "Dementia (dementia): today until 10:15" in html
    ten = datetime.fromtimestamp(at("10:00"), UTC).isoformat()
    assert rows_of(html)[ten] == ["10:00\u201310:30 (so far)", "1", "0", "0", "0", "\u2013", "1"]
    housing = rows_of(await (await client.get("/console/today?skill=housing")).text())
    assert housing[ten][1] == "1" and sum(int(r[1]) for r in housing.values()) == 1


async def test_an_unknown_skill_is_a_404_with_an_error_summary(client: TestClient,
                                                               day: Frozen) -> None:
    await supervisor(client)
    resp = await client.get("/console/today?skill=%3Cnope%3E")
    html = await resp.text()
    assert resp.status == 404 and "govuk-error-summary" in html and "<svg" not in html
    assert "There is no skill with the id “&lt;nope&gt;”" in html


async def test_the_page_asks_a_stranger_and_an_expert_to_sign_in(client: TestClient,
                                                                 day: Frozen) -> None:
    stranger = await client.get("/console/today")
    assert stranger.status == 401 and "Sign in first" in await stranger.text()
    await sign_in_as(client, Role.EXPERT, expert_id="e-ann", orgs=frozenset())
    expert = await client.get("/console/today")
    assert expert.status == 401 and "<svg" not in await expert.text()
