"""The console's pictures: the pure SVG renderers read back with xml.etree (nodes, cost labels,
fragile and unheld skills, heatmap cells, tooltips, escaping), and the two pages through the
real app on a real database (SQLite and PostgreSQL): who may open them, bad input, and that
each table says what its picture shows."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from html.parser import HTMLParser
from typing import Any
from xml.etree import ElementTree as ET
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient

from base.access import Role
from base.clock import now_utc
from base.db import Database
from expertline.app import DATABASE
from pages import sessions
from pages.picture_data import (
    CoverCell,
    coverage_cells,
    figure,
    heatmap,
    neighbourhood,
    shortfalls,
    totals,
)
from pages.pictures import RED, graph_svg, heatmap_svg
from router.context import engine_of
from router.tables import ContactRow
from scheduler import rota
from scheduler.tables import ShiftPatternRow
from skills.graph import Holder, SkillGraph, SkillSpec
from skills.models import SkillEdge
from skills.watch import EVERYTHING
from tests.engine_support import EXPERTS, seed_pool

SVG = "{http://www.w3.org/2000/svg}"
LONDON = ZoneInfo("Europe/London")

# -- the pure renderers -------------------------------------------------------------------------


def small_graph(carers_name: str = "Carers") -> SkillGraph:
    return SkillGraph.build([
        SkillSpec("dementia", "Dementia", related={"memory": 0.4}),
        SkillSpec("dementia-carers", "Dementia carers", broader="dementia",
                  related={"carers": 0.3}),
        SkillSpec("memory", "Memory"),
        SkillSpec("carers", carers_name),
        SkillSpec("housing", "Housing"),
    ])


HOLDERS = {
    "dementia": [Holder("e1", "nhs-a"), Holder("e2", "council-b")],
    "dementia-carers": [Holder("e3", "nhs-a"), Holder("e3", "nhs-a")],  # one expert, one org
    "carers": [Holder("e4", "council-b"), Holder("e5", "nhs-a")],
    "housing": [Holder("e6", "council-b")],
}


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def nodes_of(root: ET.Element) -> dict[str, ET.Element]:
    return {g.attrib["data-skill"]: g for g in root.iter(f"{SVG}g")
            if "xl-node" in g.attrib.get("class", "").split()}


def texts(element: ET.Element) -> list[str]:
    return [t.text or "" for t in element.iter(f"{SVG}text")]


def cost_labels(root: ET.Element) -> dict[str, str]:
    return {g.attrib["data-link"]: texts(g)[0] for g in root.iter(f"{SVG}g")
            if g.attrib.get("class") == "xl-cost"}


def test_the_graph_picture_shows_the_skills_one_step_away_and_each_link_cost() -> None:
    hood = neighbourhood(small_graph(), HOLDERS, "dementia", 1)
    root = parse(graph_svg(hood, svg_id="g", caption_id="cap"))
    assert set(nodes_of(root)) == {"dementia", "dementia-carers", "memory"}
    assert cost_labels(root) == {"dementia dementia-carers": "0.5", "dementia memory": "0.4"}
    centre = nodes_of(root)["dementia"]
    assert "xl-centre" in centre.attrib["class"]
    assert texts(centre)[:2] == ["Dementia", "2 experts, 2 orgs"]


def test_two_steps_reach_further_and_count_the_substitution_cost_along_the_way() -> None:
    hood = neighbourhood(small_graph(), HOLDERS, "dementia", 2)
    assert [(n.id, n.steps, n.cost) for n in hood.nodes] == [
        ("dementia", 0, 0.0), ("memory", 1, 0.4), ("dementia-carers", 1, 0.5),
        ("carers", 2, 0.8)]
    root = parse(graph_svg(hood, svg_id="g", caption_id="cap"))
    assert set(nodes_of(root)) == {"dementia", "dementia-carers", "memory", "carers"}
    assert cost_labels(root)["carers dementia-carers"] == "0.3"
    assert "housing" not in nodes_of(root)  # not linked at all


def test_fragile_and_unheld_skills_are_marked_by_more_than_colour() -> None:
    hood = neighbourhood(small_graph(), HOLDERS, "dementia", 2)
    nodes = nodes_of(parse(graph_svg(hood, svg_id="g", caption_id="cap")))
    fragile, nobody, fine = nodes["dementia-carers"], nodes["memory"], nodes["carers"]
    assert "xl-fragile" in fragile.attrib["class"]
    assert "! One organisation only" in texts(fragile)
    assert fragile.find(f"{SVG}rect") is not None
    assert fragile.find(f"{SVG}rect").attrib["stroke-dasharray"]  # type: ignore[union-attr]
    assert "1 expert, 1 org" in texts(fragile)
    assert "xl-uncovered" in nobody.attrib["class"] and "\u00d7 Nobody holds it" in texts(nobody)
    outline, stripes = nobody.findall(f"{SVG}rect")
    assert outline.attrib["stroke"] == RED and outline.attrib["stroke-dasharray"]
    assert stripes.attrib["fill"] == "url(#g-stripes)"
    assert "xl-fragile" not in fine.attrib["class"] and "xl-uncovered" not in fine.attrib["class"]
    assert tooltip(fragile) == (
        "Dementia carers (dementia-carers): 1 step away, substitution cost 0.5; 1 expert from "
        "1 organisation; held by one organisation only")


def test_each_picture_is_an_image_named_by_its_title_and_described_by_the_caption() -> None:
    hood = neighbourhood(small_graph(), HOLDERS, "dementia", 1)
    grid = heatmap(coverage_cells(CELLS), NAMES, LONDON)
    for svg in (graph_svg(hood, svg_id="pic", caption_id="cap"),
                heatmap_svg(grid, svg_id="pic", caption_id="cap")):
        root = parse(svg)
        assert root.attrib["role"] == "img" and root.attrib["aria-describedby"] == "cap"
        title = root.find(f"{SVG}title")
        assert title is not None and title.attrib["id"] == root.attrib["aria-labelledby"]
        assert title.text
        assert "style" not in svg and "<script" not in svg  # the CSP allows neither
        assert not [e for e in root.iter() if "style" in e.attrib]


T0 = datetime(2026, 12, 8, 10, 0, tzinfo=UTC)  # a Tuesday; London is on UTC in December


def cell(skill: str, n: int, required: int, scheduled: float) -> dict[str, Any]:
    start = T0 + n * timedelta(minutes=30)
    return {"skill": skill, "start": start.isoformat(), "contacts": 1.0, "required": required,
            "scheduled": scheduled, "heads": 1, "gap": scheduled - required}


CELLS = [cell("dementia", 0, 3, 1.0), cell("dementia", 1, 2, 2.0), cell("dementia", 2, 1, 2.5),
         cell("dementia", 3, 0, 0.0), cell("housing", 0, 0, 1.0), cell("housing", 1, 0, 0.0),
         cell("housing", 2, 1, 0.25), cell("housing", 3, 2, 3.0)]
NAMES = {"dementia": "Dementia", "housing": "Housing"}


def tooltip(element: ET.Element) -> str:
    title = element.find(f"{SVG}title")
    assert title is not None and title.text is not None
    return title.text


def cells_of(root: ET.Element) -> list[ET.Element]:
    return [r for r in root.iter(f"{SVG}rect") if "xl-cell" in r.attrib.get("class", "")]


def test_the_heatmap_has_a_cell_per_skill_and_interval_coloured_by_the_gap() -> None:
    grid = heatmap(coverage_cells(CELLS), NAMES, LONDON)
    root = parse(heatmap_svg(grid, svg_id="heat", caption_id="cap"))
    found = cells_of(root)
    assert len(found) == len(grid.rows) * len(grid.starts) == 2 * 4
    states = [c.attrib["class"].split()[1] for c in found]
    assert states == ["xl-short", "xl-enough", "xl-spare", "xl-idle",
                      "xl-spare", "xl-idle", "xl-short", "xl-spare"]
    short = found[0]
    pattern = next(p for p in root.iter(f"{SVG}pattern") if p.attrib["id"] == "heat-short")
    assert short.attrib["fill"] == "url(#heat-short)"
    assert pattern.find(f"{SVG}rect").attrib["fill"] == RED  # type: ignore[union-attr]
    assert tooltip(short) == (
        "Dementia, Tue 8 Dec 10:00\u201310:30: 3 needed, 1.0 scheduled, short by 2.0")
    legend = [t.text for g in root.iter(f"{SVG}g") if g.attrib.get("class") == "xl-legend"
              for t in g.iter(f"{SVG}text")]
    assert legend == ["Short of staff (striped red)", "Just enough (yellow)",
                      "One or more spare (green)", "None needed, nobody on (grey)"]


def test_the_coverage_table_lists_the_short_intervals_and_totals_per_skill() -> None:
    grid = heatmap(coverage_cells(CELLS), NAMES, LONDON)
    assert [(c.skill, c.start, c.gap) for c in shortfalls(grid)] == [
        ("dementia", T0, -2.0), ("housing", T0 + timedelta(hours=1), -0.75)]
    dementia, housing = totals(grid)
    assert (dementia.short, dementia.worst_gap, dementia.required_hours,
            dementia.scheduled_hours) == (1, -2.0, 3.0, 2.75)
    assert (housing.name, housing.short, housing.intervals) == ("Housing", 1, 4)


def test_names_are_escaped_in_both_pictures() -> None:
    nasty = 'Carers <&> "co"'
    hood = neighbourhood(small_graph(nasty), HOLDERS, "carers", 1)
    svg = graph_svg(hood, svg_id="g", caption_id="cap")
    assert "<&>" not in svg and "&lt;&amp;&gt;" in svg
    assert texts(nodes_of(parse(svg))["carers"])[0] == 'Carers <&> "co"'
    grid = heatmap([CoverCell("carers", T0, 2, 1.0)], {"carers": nasty}, LONDON)
    heat = heatmap_svg(grid, svg_id="h", caption_id="cap")
    assert "<&>" not in heat
    (only,) = cells_of(parse(heat))
    assert tooltip(only).startswith(nasty)


def test_figures_keep_a_small_gap_visible_and_use_a_true_minus() -> None:
    assert figure(2) == "2.0" and figure(-2.25) == "\u22122.2"
    assert figure(-0.004) == "\u22120.004" and figure(0) == "0.0"


# -- the pages, through the real app --------------------------------------------------------------

EXTRA = {**EXPERTS, "e-dan": ("council-b", {"dementia": 3}, ("en",), "+447700900004")}
ALL_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def target_day() -> date:
    """Two days ahead in London: every week of its forecast history is in the past."""
    return now_utc().astimezone(LONDON).date() + timedelta(days=2)


async def seed_pictures(db: Database, first: date) -> None:
    """The engine tests' pool and one more dementia expert in another organisation; dementia
    related to carers-support; everyone on shift 09:00-17:00; and 12 dementia contacts in the
    10:00 half-hour on the same weekday in each of the four weeks before ``first``."""
    await seed_pool(db, EXTRA)
    async with db.transaction() as session:
        session.add(SkillEdge(source_id="dementia", target_id="carers-support", kind="related",
                              cost=0.3))
        for expert in EXTRA:
            pattern = rota.pattern_from_json({"kind": "weekly", "id": f"shp-{expert}",
                                              "expert_id": expert, "tz": "Europe/London",
                                              "days": ALL_DAYS, "start": "09:00",
                                              "end": "17:00"}).to_json()
            session.add(ShiftPatternRow(id=f"shp-{expert}", expert_id=expert, kind="weekly",
                                        pattern=pattern))
        for week in range(1, 5):
            ten = datetime.combine(first - timedelta(weeks=week), time(10, 0), LONDON)
            for n in range(12):
                at = (ten + timedelta(minutes=2 * n)).timestamp()
                session.add(ContactRow(id=f"c-{week}-{n}", seq=1000 + week * 100 + n,
                                       external_ref=f"r-{week}-{n}", channel="voice",
                                       medium="phone", skill="dementia", state="completed",
                                       arrived_at=at))


@pytest.fixture
async def pool(client: TestClient) -> None:
    await seed_pictures(client.app[DATABASE], target_day())
    await engine_of(client.app)._reload_pool(EVERYTHING)


async def sign_in_as(client: TestClient, role: Role, **who: Any) -> None:
    async with client.app[DATABASE].transaction() as session:
        token = sessions.make_link(session, role=role, minutes=10, now=now_utc(), **who)
    assert (await client.post(f"/sign-in/{token}", allow_redirects=False)).status == 303


async def supervisor(client: TestClient) -> None:
    await sign_in_as(client, Role.SUPERVISOR, expert_id=None, orgs=frozenset({"nhs-a"}))


class Tables(HTMLParser):
    """Each table's rows (by the table's id) as lists of cell texts, and each row's
    ``data-*``."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.rows: dict[str, list[tuple[dict[str, str], list[str]]]] = {}
        self._table: str | None = None
        self._cell: list[str] | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        if tag == "table":
            self._table = found.get("id", "")
            self.rows[self._table] = []
        elif tag == "tr" and self._table is not None and "data-skill" in found:
            self.rows[self._table].append(({k: v for k, v in found.items()
                                            if k.startswith("data-")}, []))
        elif tag in ("td", "th") and self._table and self.rows[self._table]:
            self._cell = []

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._table:
            self.rows[self._table][-1][1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "table":
            self._table = None


def svg_in(html: str) -> ET.Element:
    found = re.search(r"<svg .*?</svg>", html, re.S)
    assert found is not None
    return ET.fromstring(found.group(0))


@pytest.mark.parametrize("path", ["/console/graph?skill=dementia", "/console/coverage"])
async def test_the_pictures_ask_a_stranger_and_an_expert_to_sign_in(
        client: TestClient, pool: None, path: str) -> None:
    stranger = await client.get(path)
    assert stranger.status == 401 and "Sign in first" in await stranger.text()
    await sign_in_as(client, Role.EXPERT, expert_id="e-ann", orgs=frozenset())
    expert = await client.get(path)
    assert expert.status == 401 and "<svg" not in await expert.text()


async def test_the_graph_page_without_a_skill_shows_the_form_and_says_what_it_is_for(
        client: TestClient, pool: None) -> None:
    await supervisor(client)
    resp = await client.get("/console/graph")
    html = await resp.text()
    assert resp.status == 200 and "<svg" not in html
    assert '<label class="govuk-label govuk-label--s" for="skill">Skill</label>' in html
    assert "Choose a skill to see the skills around it" in html
    assert '<option value="dementia">Dementia (dementia)</option>' in html


async def test_an_unknown_skill_is_a_404_that_says_so(client: TestClient, pool: None) -> None:
    await supervisor(client)
    for path in ("/console/graph?skill=nope", "/console/coverage?skill=nope"):
        resp = await client.get(path)
        html = await resp.text()
        assert resp.status == 404 and "There is no skill with the id “nope”" in html
        assert "<svg" not in html and "govuk-error-summary" in html
    hostile = await client.get("/console/graph?skill=%3Cb%3E%26")
    assert hostile.status == 404 and "“&lt;b&gt;&amp;”" in await hostile.text()


@pytest.mark.parametrize("query", ["depth=3", "depth=x"])
async def test_a_bad_depth_is_a_400(client: TestClient, pool: None, query: str) -> None:
    await supervisor(client)
    resp = await client.get(f"/console/graph?skill=dementia&{query}")
    assert resp.status == 400 and "Choose 1 to 2 steps" in await resp.text()


async def test_the_graph_table_says_what_the_picture_shows(client: TestClient,
                                                           pool: None) -> None:
    await supervisor(client)
    resp = await client.get("/console/graph?skill=dementia&depth=1")
    html = await resp.text()
    assert resp.status == 200 and resp.headers["Content-Security-Policy"]
    root = svg_in(html)
    nodes = nodes_of(root)
    rows = {data["data-skill"]: cells for data, cells in Tables(html).rows["graph-table"]}
    assert set(nodes) == set(rows) == {"dementia", "dementia-carers", "carers-support"}
    assert rows["dementia"] == ["dementia", "Dementia", "0", "0", "3", "2", "No"]
    assert rows["carers-support"] == ["carers-support", "Carers Support", "1", "0.3", "1", "1",
                                      "Yes: one organisation only"]
    assert rows["dementia-carers"] == ["dementia-carers", "Dementia Carers", "1", "0.5", "0",
                                       "0", "No: nobody holds it"]
    for skill, cells in rows.items():
        assert texts(nodes[skill])[1].startswith(f"{cells[4]} expert")
        assert ("xl-fragile" in nodes[skill].attrib["class"]) == cells[6].startswith("Yes")
        assert ("xl-uncovered" in nodes[skill].attrib["class"]) == (cells[4] == "0")
    assert cost_labels(root) == {"dementia dementia-carers": "0.5",
                                 "carers-support dementia": "0.3"}
    assert 'aria-describedby="graph-caption"' in html and 'id="graph-caption"' in html


async def test_the_coverage_heatmap_and_its_table_agree(client: TestClient, pool: None) -> None:
    await supervisor(client)
    first = target_day()
    resp = await client.get(f"/console/coverage?from={first.isoformat()}&days=1")
    html = await resp.text()
    assert resp.status == 200
    root = svg_in(html)
    found = cells_of(root)
    starts = {c.attrib["data-start"] for c in found}
    assert len(found) == 4 * len(starts)  # four skills, every interval of the day
    short = {(tooltip(c).split(",")[0], c.attrib["data-start"])
             for c in found if "xl-short" in c.attrib["class"]}
    tables = Tables(html).rows
    listed = {(cells[0], data["data-start"]) for data, cells in tables["coverage-short"]}
    assert short == listed and short  # the 10:00 half-hour of dementia is short
    ten = datetime.combine(first, time(10, 0), LONDON).astimezone(UTC).isoformat()
    assert ("Dementia", ten) in listed
    (row,) = [cells for data, cells in tables["coverage-short"] if data["data-start"] == ten]
    assert row[1].endswith("10:00\u201310:30") and int(row[2]) > 3 and row[4].startswith("\u2212")
    totals_rows = {data["data-skill"]: cells for data, cells in tables["coverage-totals"]}
    assert set(totals_rows) == {"dementia", "dementia-carers", "carers-support", "housing"}
    assert totals_rows["dementia"][1] == f"{len(listed)} of {len(starts)}"
    one = await client.get(f"/console/coverage?from={first.isoformat()}&days=2&skill=housing")
    html = await one.text()
    rows = {g.attrib["data-skill"] for g in svg_in(html).iter(f"{SVG}g")
            if g.attrib.get("class") == "xl-row"}
    assert one.status == 200 and rows == {"housing"}
    assert len(cells_of(svg_in(html))) == len(Tables(html).rows["coverage-totals"]) * len(
        {c.attrib["data-start"] for c in cells_of(svg_in(html))}) >= 2 * 46


async def test_the_coverage_page_starts_today_in_london_and_refuses_bad_input(
        client: TestClient, pool: None) -> None:
    await supervisor(client)
    before = now_utc().astimezone(LONDON).date()
    html = await (await client.get("/console/coverage")).text()
    after = now_utc().astimezone(LONDON).date()
    assert f'value="{before.isoformat()}"' in html or f'value="{after.isoformat()}"' in html
    assert 'value="3"' in html and "<svg" in html
    for query, words in (("from=yesterday", "Enter the first day as a date"),
                         ("days=15", "Enter a number of days from 1 to 14"),
                         ("days=0", "Enter a number of days from 1 to 14")):
        resp = await client.get(f"/console/coverage?{query}")
        assert resp.status == 400 and words in await resp.text()
