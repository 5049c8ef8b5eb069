"""The console's "Rota" page: a team's week drawn from the scheduler's rota expansion. Shifts,
an absence and leave are made through the real API (``POST /api/v1/experts/{id}/shifts``) on
the real app and database (SQLite and PostgreSQL); the week view and its table show them on
the right days and hours. The pure week arithmetic and the SVG are read back with xml.etree.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any
from xml.etree import ElementTree as ET
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient

from base.access import Role
from expertline.app import DATABASE
from pages.picture_data import day_label, monday_of, piece_time, rota_week
from pages.pictures import DAY_W, NAME_W, rota_svg
from router.context import engine_of
from skills.watch import EVERYTHING
from tests.conftest import TokenFactory
from tests.engine_support import seed_pool
from tests.test_pictures import SVG, sign_in_as, tooltip

LONDON = ZoneInfo("Europe/London")
MONDAY = date(2026, 12, 7)  # London is on UTC in December
WEEKDAYS = {"kind": "weekly", "days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00",
            "end": "17:00", "breaks": [{"at": "12:30", "minutes": 30}]}
NIGHT = {"kind": "one_off", "start": "2026-12-08T19:00", "end": "2026-12-09T07:00",
         "breaks": [{"offset_min": 300, "minutes": 30}]}
AWAY = {"kind": "absence", "start": "2026-12-08T14:00", "end": "2026-12-08T15:00",
        "reason": "dentist"}
LEAVE = {"kind": "absence", "start": "2026-12-10", "end": "2026-12-10", "reason": "leave"}


def utc(text: str) -> str:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).isoformat()


# -- the pure week ------------------------------------------------------------------------------

DATA: dict[str, Any] = {
    "experts": [{"id": "e-bob", "name": "Bob"}, {"id": "e-ann", "name": "Ann <&> \"A\""}],
    "shifts": [
        {"expert_id": "e-ann", "start": utc("2026-12-07T09:00"), "end": utc("2026-12-07T17:00"),
         "breaks": [{"start": utc("2026-12-07T12:30"), "end": utc("2026-12-07T13:00")}]},
        {"expert_id": "e-bob", "start": utc("2026-12-06T22:00"), "end": utc("2026-12-07T06:00"),
         "breaks": []},
        {"expert_id": "e-bob", "start": utc("2026-12-13T20:00"), "end": utc("2026-12-14T04:00"),
         "breaks": []}],
    "absences": [
        {"expert_id": "e-ann", "kind": "leave", "start": utc("2026-12-09T00:00"),
         "end": utc("2026-12-11T00:00")},
        {"expert_id": "e-bob", "kind": "absence", "start": utc("2026-12-08T10:00"),
         "end": utc("2026-12-08T11:30")}],
}


def entries_of(root: ET.Element) -> list[ET.Element]:
    return [g for g in root.iter(f"{SVG}g") if "xl-entry" in g.attrib.get("class", "")]


def test_the_week_cuts_everything_at_midnight_and_keeps_it_inside_the_week() -> None:
    week = rota_week(DATA, MONDAY, LONDON)
    assert [d.isoformat() for d in (week.days[0], week.days[-1])] == ["2026-12-07",
                                                                       "2026-12-13"]
    assert week.experts == (("e-ann", 'Ann <&> "A"'), ("e-bob", "Bob"))  # by name
    found = [(p.entry.expert, p.day, p.entry.kind, p.from_h, p.to_h) for p in week.pieces()]
    assert found == [("e-ann", 0, "shift", 9.0, 17.0), ("e-ann", 2, "leave", 0.0, 24.0),
                     ("e-ann", 3, "leave", 0.0, 24.0), ("e-bob", 0, "shift", 0.0, 6.0),
                     ("e-bob", 1, "absence", 10.0, 11.5), ("e-bob", 6, "shift", 20.0, 24.0)]
    ann_monday, leave, _, bob_monday, away, sunday = week.pieces()
    assert piece_time(ann_monday, LONDON) == "09:00\u201317:00 (break 12:30\u201313:00)"
    assert piece_time(leave, LONDON) == "All day"
    assert piece_time(bob_monday, LONDON) == "00:00\u201306:00 (from 22:00 Sun 6 Dec)"
    assert piece_time(away, LONDON) == "10:00\u201311:30"
    assert piece_time(sunday, LONDON) == "20:00\u201324:00 (until 04:00 Mon 14 Dec)"
    assert monday_of(date(2026, 12, 13)) == monday_of(date(2026, 12, 7)) == MONDAY


def test_the_week_view_draws_each_piece_at_its_hours_marked_by_more_than_colour() -> None:
    svg = rota_svg(rota_week(DATA, MONDAY, LONDON), svg_id="rota", caption_id="cap")
    root = ET.fromstring(svg)
    assert root.attrib["role"] == "img" and root.attrib["aria-describedby"] == "cap"
    assert "<&>" not in svg and "Ann &lt;&amp;&gt;" in svg
    entries = entries_of(root)
    assert [(g.attrib["data-expert"], g.attrib["data-day"], g.attrib["data-kind"])
            for g in entries] == [
        ("e-ann", "2026-12-07", "shift"), ("e-ann", "2026-12-09", "leave"),
        ("e-ann", "2026-12-10", "leave"), ("e-bob", "2026-12-07", "shift"),
        ("e-bob", "2026-12-08", "absence"), ("e-bob", "2026-12-13", "shift")]
    shift, leave, _, _, away, _ = entries
    bar = shift.find(f"{SVG}rect")
    assert bar is not None
    assert float(bar.attrib["x"]) == pytest.approx(NAME_W + 9 / 24 * DAY_W, abs=0.01)
    assert float(bar.attrib["width"]) == pytest.approx(8 / 24 * DAY_W, abs=0.01)
    assert [t.text for t in shift.iter(f"{SVG}text")] == ["09\u201317"]
    assert tooltip(shift) == ('Ann <&> "A", Mon 7 Dec: Shift, 09:00\u201317:00 '
                              "(break 12:30\u201313:00)")
    assert [t.text for t in leave.iter(f"{SVG}text")] == ["Leave"]
    outline = away.find(f"{SVG}rect")
    assert outline is not None and outline.attrib["stroke-dasharray"]
    assert [t.text for t in away.iter(f"{SVG}text")] == []  # too narrow for "Away": dashed
    assert "stroke-dasharray" not in bar.attrib
    assert float(outline.attrib["x"]) == pytest.approx(NAME_W + DAY_W + 10 / 24 * DAY_W, abs=0.01)
    days = [t.text for t in root.iter(f"{SVG}text")][:1]
    assert days == ["Mon 7 Dec"]
    assert not [e for e in root.iter() if "style" in e.attrib]


# -- the page, through the real app -------------------------------------------------------------


@pytest.fixture
async def team(client: TestClient, auth: TokenFactory) -> None:
    """nhs-a's Ann works weekdays 09:00-17:00 but is away 14:00-15:00 on Tuesday and on
    leave on Thursday; Bob works one night, Tuesday 19:00 to Wednesday 07:00."""
    await seed_pool(client.app[DATABASE])
    await engine_of(client.app)._reload_pool(EVERYTHING)
    admin = await auth("admin")
    for expert, body in (("e-ann", WEEKDAYS), ("e-ann", AWAY), ("e-ann", LEAVE),
                         ("e-bob", NIGHT)):
        made = await client.post(f"/api/v1/experts/{expert}/shifts", json=body, headers=admin)
        assert made.status == 201, await made.text()


class Rows:
    """The rota table's rows: (data-expert, data-day, data-kind) and their cells."""

    def __init__(self, html: str) -> None:
        body = re.search(r'<table class="govuk-table" id="rota-table">(.*?)</table>', html, re.S)
        assert body is not None
        self.rows = []
        for attrs, inner in re.findall(r"<tr ([^>]*data-expert[^>]*)>(.*?)</tr>", body.group(1),
                                       re.S):
            data = dict(re.findall(r'data-(\w+)="([^"]*)"', attrs))
            cells = [" ".join(re.sub(r"<[^>]+>", "", c).split())
                     for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", inner, re.S)]
            self.rows.append(((data["expert"], data.get("day", ""), data["kind"]), cells))


def svg_in(html: str) -> ET.Element:
    found = re.search(r"<svg .*?</svg>", html, re.S)
    assert found is not None
    return ET.fromstring(found.group(0))


async def supervisor_of(client: TestClient, org: str) -> None:
    await sign_in_as(client, Role.SUPERVISOR, expert_id=None, orgs=frozenset({org}))


async def test_the_week_view_and_its_table_show_the_shifts_on_their_days_and_hours(
        client: TestClient, team: None) -> None:
    await supervisor_of(client, "nhs-a")
    resp = await client.get("/console/rota?org=nhs-a&week=2026-12-10")
    html = await resp.text()
    assert resp.status == 200 and resp.headers["Content-Security-Policy"]
    rows = Rows(html).rows
    assert rows == [
        (("e-ann", "2026-12-07", "shift"),
         ["Ann", "Mon 7 Dec", "09:00\u201317:00 (break 12:30\u201313:00)", "Shift"]),
        (("e-ann", "2026-12-08", "shift"),
         ["Ann", "Tue 8 Dec", "09:00\u201314:00 (break 12:30\u201313:00)", "Shift"]),
        (("e-ann", "2026-12-08", "absence"),
         ["Ann", "Tue 8 Dec", "14:00\u201315:00", "Away (part of a day)"]),
        (("e-ann", "2026-12-08", "shift"), ["Ann", "Tue 8 Dec", "15:00\u201317:00", "Shift"]),
        (("e-ann", "2026-12-09", "shift"),
         ["Ann", "Wed 9 Dec", "09:00\u201317:00 (break 12:30\u201313:00)", "Shift"]),
        (("e-ann", "2026-12-10", "leave"), ["Ann", "Thu 10 Dec", "All day", "Leave"]),
        (("e-ann", "2026-12-11", "shift"),
         ["Ann", "Fri 11 Dec", "09:00\u201317:00 (break 12:30\u201313:00)", "Shift"]),
        (("e-bob", "2026-12-08", "shift"),
         ["Bob", "Tue 8 Dec", "19:00\u201324:00 (until 07:00 Wed 9 Dec)", "Shift"]),
        (("e-bob", "2026-12-09", "shift"),
         ["Bob", "Wed 9 Dec", "00:00\u201307:00 (from 19:00 Tue 8 Dec; break 00:00\u201300:30)",
          "Shift"]),
    ]
    entries = entries_of(svg_in(html))
    assert [(g.attrib["data-expert"], g.attrib["data-day"], g.attrib["data-kind"])
            for g in entries] == [key for key, _ in rows]
    for g, (_, cells) in zip(entries, rows, strict=True):
        assert tooltip(g) == f"{cells[0]}, {cells[1]}: {cells[3]}, {cells[2]}"
    night = entries[-2].find(f"{SVG}rect")
    assert night is not None
    assert float(night.attrib["x"]) == pytest.approx(NAME_W + DAY_W + 19 / 24 * DAY_W, abs=0.01)
    assert "e-cat" not in html  # council-b's expert is not in nhs-a's team
    assert "nhs-a: week of Mon 7 Dec 2026" in html.replace("NHS-A", "nhs-a")
    assert 'href="/console/rota?org=nhs-a&amp;week=2026-11-30"' in html
    assert 'href="/console/rota?org=nhs-a&amp;week=2026-12-14"' in html


async def test_a_quiet_week_lists_each_expert_with_nothing(client: TestClient,
                                                            team: None) -> None:
    await supervisor_of(client, "council-b")
    html = await (await client.get("/console/rota?week=2026-12-07")).text()
    assert Rows(html).rows == [(("e-cat", "", "none"), ["Cat", "\u2013", "\u2013",
                                                         "Nothing this week"])]
    assert entries_of(svg_in(html)) == []


async def test_another_organisations_rota_is_not_found_for_a_supervisor(
        client: TestClient, team: None) -> None:
    await supervisor_of(client, "council-b")
    for query in ("org=nhs-a", "org=nope&week=2026-12-07"):
        resp = await client.get(f"/console/rota?{query}")
        html = await resp.text()
        assert resp.status == 404 and "govuk-error-summary" in html and "<svg" not in html
        assert "that you can see" in html and "Ann" not in html


async def test_an_admin_sees_any_organisation_and_starts_with_the_first(
        client: TestClient, team: None) -> None:
    await sign_in_as(client, Role.ADMIN, expert_id=None, orgs=frozenset())
    first = await client.get("/console/rota?week=2026-12-07")
    assert first.status == 200 and [k for k, _ in Rows(await first.text()).rows] == [
        ("e-cat", "", "none")]  # council-b comes first by id
    nhs = await client.get("/console/rota?org=nhs-a&week=2026-12-07")
    assert nhs.status == 200 and len(Rows(await nhs.text()).rows) == 9


@pytest.mark.parametrize("week", ["2026-13-01", "monday", "1999-12-31", "2026-12-7"])
async def test_a_bad_week_is_a_400_with_an_error_summary(client: TestClient, team: None,
                                                          week: str) -> None:
    await supervisor_of(client, "nhs-a")
    resp = await client.get(f"/console/rota?org=nhs-a&week={week}")
    html = await resp.text()
    assert resp.status == 400 and "govuk-error-summary" in html and "<svg" not in html
    assert "Enter a day of the week as a date" in html


async def test_this_week_is_the_default_and_strangers_and_experts_are_refused(
        client: TestClient, team: None) -> None:
    stranger = await client.get("/console/rota")
    assert stranger.status == 401 and "Sign in first" in await stranger.text()
    await sign_in_as(client, Role.EXPERT, expert_id="e-ann", orgs=frozenset())
    assert (await client.get("/console/rota?org=nhs-a")).status == 401
    await supervisor_of(client, "nhs-a")
    html = await (await client.get("/console/rota")).text()
    monday = monday_of(datetime.now(LONDON).date())
    week = {(monday + timedelta(days=n)).isoformat() for n in range(7)}
    shifts = {g.attrib["data-day"] for g in entries_of(svg_in(html))
              if g.attrib["data-expert"] == "e-ann" and g.attrib["data-kind"] == "shift"}
    assert shifts <= week and len(shifts) >= 4  # Ann's weekdays (one may be her leave)
    assert f"week of {day_label(monday)} {monday.year}" in html
