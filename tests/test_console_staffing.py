"""``/console/staffing`` through the real app on a real database (SQLite and PostgreSQL): its
figures are ``scheduler.erlang``'s for a textbook queue, bad input is a GOV.UK error summary with
status 400 (never a 500), and only a signed-in supervisor or admin may open it."""

from __future__ import annotations

import html
import re

import pytest
from aiohttp.test_utils import TestClient

from base.access import Role
from base.clock import now_utc
from expertline.app import DATABASE
from pages import sessions
from scheduler import erlang

# 200 contacts an hour, 180 s each (10 Erlangs), 80 % answered within 20 s
TEXTBOOK = {"calls_per_hour": "200", "aht_s": "180", "target_s": "20", "service_level": "80"}


async def sign_in(client: TestClient, role: Role, *, orgs: frozenset[str] = frozenset(),
                  expert: str | None = None) -> None:
    async with client.app[DATABASE].transaction() as session:
        token = sessions.make_link(session, role=role, orgs=orgs, expert_id=expert,
                                   minutes=10, now=now_utc())
    resp = await client.post(f"/sign-in/{token}", allow_redirects=False)
    assert resp.status == 303


def text_of(page: str, element_id: str) -> str:
    """The text inside the element with this id (tags dropped, spaces collapsed)."""
    found = re.search(rf'id="{element_id}"[^>]*>(.*?)</(?:dd|strong|span|p)>', page, re.S)
    assert found is not None, f"no #{element_id} on the page"
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", found.group(1))).split())


def pct(x: float) -> str:
    return f"{x * 100:.1f}%"


async def staffing(client: TestClient, **query: str) -> tuple[int, str]:
    resp = await client.get("/console/staffing", params=query)
    return resp.status, await resp.text()


async def test_the_textbook_queue_gets_scheduler_erlangs_figures(client: TestClient) -> None:
    await sign_in(client, Role.SUPERVISOR, orgs=frozenset({"nhs-a"}))
    status, page = await staffing(client, **TEXTBOOK)
    assert status == 200
    assert text_of(page, "traffic") == f"{erlang.traffic(200, 180):.2f} Erlangs" == "10.00 Erlangs"
    fewest = erlang.staff(200, 180, 20, 0.8)
    assert text_of(page, "fewest-c") == str(fewest.agents)
    assert text_of(page, "fewest-c-sl") == pct(fewest.figures.service_level)
    below = erlang.erlang_c(200, 180, fewest.agents - 1, 20)
    assert below.service_level < 0.8 <= fewest.figures.service_level  # the fewest, truly
    assert "Erlang C" in page and "fewest-a" not in page  # no patience given: no Erlang A
    rows = re.findall(r'<th scope="row"[^>]*>(\d+)</th>\s*<td[^>]*>([\d.]+%)', page)
    assert len(rows) == 8
    for agents, shown in rows:  # the curve, row by row
        n = int(agents)
        if n > 10:
            assert shown == pct(erlang.erlang_c(200, 180, n, 20).service_level)
    assert "<script>" not in page and "style=" not in page  # nothing inline: the CSP holds


async def test_agents_and_patience_add_erlang_a_and_the_figures_for_that_staffing(
        client: TestClient) -> None:
    await sign_in(client, Role.ADMIN)
    status, page = await staffing(client, **TEXTBOOK, patience_s="120", agents="14")
    assert status == 200
    staffed_a = erlang.staff(200, 180, 20, 0.8, 120)
    at_a = erlang.erlang_a(200, 180, staffed_a.agents, 20, 120)
    assert text_of(page, "fewest-a") == str(staffed_a.agents)
    assert text_of(page, "fewest-a-sl") == pct(at_a.service_level)
    assert text_of(page, "fewest-a-abandon") == pct(at_a.abandon_rate)
    c, a = erlang.erlang_c(200, 180, 14, 20), erlang.erlang_a(200, 180, 14, 20, 120)
    assert text_of(page, "agents-c-sl") == f"{pct(c.service_level)} answered within 20 seconds"
    assert text_of(page, "agents-c-pw") == pct(c.pw)
    assert text_of(page, "agents-c-asa") == f"{c.asa_s:.1f} seconds"
    assert text_of(page, "agents-c-occupancy") == pct(c.occupancy)
    assert text_of(page, "agents-a-sl") == f"{pct(a.service_level)} answered within 20 seconds"
    assert text_of(page, "agents-a-pw") == pct(a.pw)
    assert text_of(page, "agents-a-asa") == f"{a.asa_s:.1f} seconds"
    assert text_of(page, "agents-a-abandon") == pct(a.abandon_rate)
    first = re.search(r'<th scope="row"[^>]*>(\d+)</th>', page)
    assert first is not None and first.group(1) == "14"  # the curve starts at the agents given
    assert 'value="120"' in page and 'value="14"' in page  # the form keeps what was typed


async def test_too_few_agents_for_erlang_c_is_said_in_words_not_an_error(
        client: TestClient) -> None:
    await sign_in(client, Role.SUPERVISOR, orgs=frozenset({"nhs-a"}))
    status, page = await staffing(client, **TEXTBOOK, agents="9", patience_s="60")
    assert status == 200
    assert "grows without end" in text_of(page, "agents-c-sl")
    a = erlang.erlang_a(200, 180, 9, 20, 60)  # with patience, any staffing is stable
    assert text_of(page, "agents-a-abandon") == pct(a.abandon_rate)


@pytest.mark.parametrize(("query", "field", "message"), [
    ({"calls_per_hour": "lots"}, "calls_per_hour", "Contacts offered per hour must be a number"),
    ({"calls_per_hour": "0"}, "calls_per_hour",
     "Contacts offered per hour must be more than 0 and at most 10,000"),
    ({"calls_per_hour": "nan"}, "calls_per_hour", "Contacts offered per hour must be a number"),
    ({"calls_per_hour": "1e999"}, "calls_per_hour", "Contacts offered per hour must be a number"),
    ({"aht_s": "-5"}, "aht_s", "Average handling time must be between 1 and 3,600"),
    ({"service_level": "0.8"}, "service_level", "Service level target must be between 1 and 99.9"),
    ({"service_level": "100"}, "service_level", "Service level target must be between 1 and 99.9"),
    ({"target_s": ""}, "target_s", "Enter the target answer time"),
    ({"patience_s": "soon"}, "patience_s", "Average patience must be a number"),
    ({"agents": "2.5"}, "agents", "Agents on duty must be a whole number"),
    ({"agents": "999999"}, "agents", "Agents on duty must be between 1 and 20,000"),
])
async def test_bad_input_gets_the_error_summary_and_400(
        client: TestClient, query: dict[str, str], field: str, message: str) -> None:
    await sign_in(client, Role.SUPERVISOR, orgs=frozenset({"nhs-a"}))
    status, page = await staffing(client, **{**TEXTBOOK, **query})
    assert status == 400
    assert "<title>Error: Staffing" in page
    assert 'class="govuk-error-summary"' in page and "There is a problem" in page
    assert f'<a href="#{field}">{message}</a>' in page  # the summary links to the field
    assert f'id="{field}-error"' in page
    assert f'aria-describedby="{field}-hint {field}-error"' in page
    assert 'id="answer-heading"' not in page  # no answer from bad input


async def test_hostile_and_empty_input_never_breaks_the_page(client: TestClient) -> None:
    await sign_in(client, Role.SUPERVISOR, orgs=frozenset({"nhs-a"}))
    status, page = await staffing(client)
    assert status == 200 and "There is a problem" not in page  # the empty form first
    status, page = await staffing(client, calls_per_hour="<script>x</script>" * 20,
                                  aht_s="1,200", target_s=" 20 ", service_level="80%",
                                  patience_s="2,5", agents="1_4")
    assert status == 400 and "<script>x" not in page  # escaped, and cut short
    for bad in ("calls_per_hour", "patience_s", "agents"):  # "2,5" is neither 25 nor 2.5
        assert f'id="{bad}-error"' in page
    for fine in ("aht_s", "target_s", "service_level"):  # "1,200", " 20 " and "80%" are numbers
        assert f'id="{fine}-error"' not in page
    status, page = await staffing(client, **{**TEXTBOOK, "calls_per_hour": "10000",
                                             "aht_s": "3600", "service_level": "99.9",
                                             "patience_s": "3600", "agents": "20000"})
    assert status == 200 and text_of(page, "traffic") == "10000.00 Erlangs"


async def test_strangers_and_experts_are_asked_to_sign_in(client: TestClient) -> None:
    resp = await client.get("/console/staffing", params=TEXTBOOK)
    assert resp.status == 401 and "Sign in first" in await resp.text()
    await sign_in(client, Role.EXPERT, expert="e-ann")
    resp = await client.get("/console/staffing", params=TEXTBOOK)
    page = await resp.text()
    assert resp.status == 401 and "Sign in first" in page and 'id="fewest-c"' not in page
