"""The console's skills, organisations and import pages through the real app on a real
database (SQLite and PostgreSQL): who may open them, that they show what the API holds, the
role scope (a supervisor reads, only an admin gets the forms; a supervisor sees only their own
organisations and the agreements that involve them), and the import: a dry run reports each
change and problem with its line or record and writes nothing, Apply writes exactly what was
read, and bad input is a 4xx page, never a 500."""

from __future__ import annotations

import html as htmllib
import io
import json
import re
from typing import Any, TypeAlias

import pytest
from aiohttp import FormData, web
from aiohttp.test_utils import TestClient
from sqlmodel import col, select

from base.access import Role
from base.audit import AuditEntry
from expertline.app import DATABASE
from router.context import engine_of
from skills import pool
from skills.models import Organisation, SharingAgreement
from skills.watch import EVERYTHING
from tests.engine_support import seed_pool
from tests.test_pages import csrf_of, link, sign_in

Client: TypeAlias = "TestClient[web.Request, web.Application]"
PAGES = ("/console/skills", "/console/skills/dementia", "/console/organisations",
         "/console/import")


@pytest.fixture
async def pool_seeded(client: Client) -> None:
    await seed_pool(client.app[DATABASE])
    async with client.app[DATABASE].transaction() as session:
        session.add(Organisation(id="fife-council", name="Fife Council", kind="council",
                                 nation="scotland"))
        await session.flush()
        session.add(SharingAgreement(org_a="council-b", org_b="nhs-a", purpose="Dementia"))
        session.add(SharingAgreement(org_a="council-b", org_b="fife-council", purpose="Housing"))
    await engine_of(client.app)._reload_pool(EVERYTHING)


async def as_supervisor(client: Client, orgs: frozenset[str] = frozenset({"nhs-a"})) -> None:
    resp = await sign_in(client, await link(client, Role.SUPERVISOR, expert=None, orgs=orgs))
    assert resp.status == 303


async def as_admin(client: Client) -> None:
    assert (await sign_in(client, await link(client, Role.ADMIN, expert=None))).status == 303


async def page(client: Client, path: str, status: int = 200) -> str:
    resp = await client.get(path)
    text = await resp.text()
    assert resp.status == status, text
    assert resp.content_type == "text/html"
    return text


def rows_of(html: str, caption: str) -> list[list[str]]:
    """The body rows of the table with this caption, each as its cells' text."""
    start = html.index(caption)
    body = html[html.index("<tbody", start):html.index("</tbody>", start)]
    rows = []
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S):
        cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        rows.append([" ".join(htmllib.unescape(re.sub(r"<[^>]+>", " ", c)).split())
                     for c in cells])
    return rows


def hidden(html: str, name: str) -> str:
    found = re.search(rf'<input type="hidden" name="{name}" value="([^"]*)">', html)
    assert found is not None, name
    return htmllib.unescape(found.group(1))


# -- who may open the pages ---------------------------------------------------------------------


async def test_the_pages_ask_a_stranger_to_sign_in(client: Client, pool_seeded: None) -> None:
    for path in PAGES:
        text = await page(client, path, 401)
        assert "Sign in first" in text and "--role supervisor" in text
        assert "Dementia" not in text and "NHS-A" not in text
    resp = await client.post("/console/import", data={"action": "dry-run"})
    assert resp.status == 401 and "Sign in first" in await resp.text()


async def test_an_expert_session_cannot_open_the_pages(client: Client,
                                                       pool_seeded: None) -> None:
    assert (await sign_in(client, await link(client, expert="e-ann"))).status == 303
    for path in PAGES:
        assert "Sign in first" in await page(client, path, 401)
    resp = await client.post("/console/import", data={"action": "dry-run"})
    assert resp.status == 401


# -- skills -------------------------------------------------------------------------------------


async def test_the_skills_list_shows_what_the_api_holds(client: Client,
                                                        pool_seeded: None) -> None:
    await as_admin(client)
    csrf = csrf_of(await page(client, "/console/skills"))
    change = {"related": {"carers-support": 2.5}, "synonyms": ["memory loss", "forgetful"]}
    resp = await client.patch("/api/v1/skills/dementia", json=change,
                              headers={"X-CSRF-Token": csrf})
    assert resp.status == 200, await resp.text()
    text = await page(client, "/console/skills")
    assert 'aria-current="page"' in text and ">Skills</a>" in text  # the console's navigation
    api = (await (await client.get("/api/v1/skills")).json())["items"]
    rows = rows_of(text, "Skills found")
    assert [r[0] for r in rows] == [s["id"] for s in api]  # by id, as the API lists them
    names = {s["id"]: s["name"] for s in api}
    for row, skill in zip(rows, api, strict=True):
        assert row[1] == skill["name"]
        assert row[2] == (names[skill["broader"]] if skill["broader"] else "None")
        related = [f"{names[o]} ({cost:g})" for o, cost in skill["related"].items()]
        assert row[3] == (" ".join(related) or "None")
        assert row[4] == (", ".join(skill["synonyms"]) or "None")
    active = {r[0]: r[5] for r in rows}
    assert active == {"carers-support": "1", "dementia": "2", "dementia-carers": "0",
                      "housing": "1"}
    by_id = {r[0]: r for r in rows}
    assert by_id["carers-support"][3] == "Dementia (2.5)"  # a pair shows on both skills
    assert by_id["dementia-carers"][2] == "Dementia"
    assert "Showing 1 to 4 of 4 skills." in text


async def test_the_skills_search_matches_ids_names_and_synonyms(client: Client,
                                                                pool_seeded: None) -> None:
    await as_supervisor(client)
    async with client.app[DATABASE].transaction() as session:
        record = await pool.get_skill(session, skill_id="housing")
        assert record is not None
        await pool.save_skill(session, record=pool.SkillRecord(
            id="housing", name="Housing", synonyms=("homeless",)), new=False)
    cases = {"q=CARERS": ["carers-support", "dementia-carers"], "q=homeless": ["housing"],
             "q=dementia-c": ["dementia-carers"], "q=%25": []}
    for query, expected in cases.items():
        text = await page(client, f"/console/skills?{query}")
        found = re.findall(r'href="/console/skills/([^"]+)"', text)
        assert found == expected, query
        if not expected:
            assert "No skills match this search." in text
    bad = await page(client, "/console/skills?q=" + "x" * 101, 400)
    assert "There is a problem" in bad and "100 characters or fewer" in bad
    assert "<title>Error: Skills" in bad


async def test_an_admin_gets_forms_that_call_the_api_and_a_supervisor_reads(
        client: Client, pool_seeded: None) -> None:
    await as_admin(client)
    text = await page(client, "/console/skills/dementia")
    assert '<script type="module" src="/static/console-forms.js"></script>' in text
    assert "<script>" not in text and "style=" not in text  # nothing inline
    for marker in ('data-method="PATCH" data-url="/api/v1/skills/dementia"',
                   'data-method="DELETE" data-url="/api/v1/skills/dementia?force=true"',
                   "Delete skill and remove it from 2 experts", ">Save details</button>",
                   ">Save related skills</button>", 'for="add-related">Related skill to add',
                   'for="add-cost">Cost<span class="govuk-visually-hidden"> of the skill to add',
                   'data-field="related"',
                   'data-list>', 'data-empty="null"', "2 experts, 2 of them active"):
        assert marker in text, marker
    broader = text[text.index('id="broader"'):]
    broader = broader[:broader.index("</select>")]
    assert '"housing"' in broader and '"dementia-carers"' not in broader  # not its own child
    assert '"dementia"' not in broader
    listing = await page(client, "/console/skills")
    assert 'data-method="POST" data-url="/api/v1/skills"' in listing
    assert 'data-next="/console/skills/{id}"' in listing
    for path in ("/console/skills/knitting", "/console/skills/%20x", "/console/skills/A"):
        missing = await page(client, path, 404)
        assert "Skill not found" in missing

    await client.post("/sign-out", data={"csrf_token": csrf_of(text)})
    await as_supervisor(client)
    read = await page(client, "/console/skills/dementia")
    assert "Only an administrator can change or delete a skill" in read
    assert "console-forms.js" not in read and "expertline-api-form" not in read
    assert "Dementia Carers" in read  # its narrower skill
    listing = await page(client, "/console/skills")
    assert "Only an administrator can add, change or delete skills" in listing
    assert "expertline-api-form" not in listing
    # what the page says is what the API does: a supervisor's change is refused
    refused = await client.patch("/api/v1/skills/dementia", json={"name": "X"},
                                 headers={"X-CSRF-Token": csrf_of(read)})
    assert refused.status == 403
    async with client.app[DATABASE].session() as session:
        still = await pool.get_skill(session, skill_id="dementia")
    assert still is not None and still.name == "Dementia"


async def test_a_change_sent_as_the_skill_page_sends_it_shows_on_the_page(
        client: Client, pool_seeded: None) -> None:
    await as_admin(client)
    headers = {"X-CSRF-Token": csrf_of(await page(client, "/console/skills"))}
    made = await client.post("/api/v1/skills", headers=headers,
                             json={"id": "benefits", "name": "Benefits advice"})
    assert made.status == 201, await made.text()
    body = {"name": "Benefits", "description": "", "broader": None,
            "related": {"housing": 3, "dementia": 7.5}, "synonyms": ["welfare"],
            "keywords": []}  # the shape console-forms.js sends
    saved = await client.patch("/api/v1/skills/benefits", json=body, headers=headers)
    assert saved.status == 200, await saved.text()
    text = await page(client, "/console/skills/benefits")
    assert '<h1 class="govuk-heading-l">Benefits</h1>' in text
    assert 'id="cost-housing" type="text" inputmode="decimal" spellcheck="false" value="3"' in text
    assert 'value="7.5"' in text and ">welfare</textarea>" in text
    assert "Nobody holds it." in text
    assert 'data-method="DELETE" data-url="/api/v1/skills/benefits"' in text
    gone = await client.delete("/api/v1/skills/benefits", headers=headers)
    assert gone.status == 204
    await page(client, "/console/skills/benefits", 404)


async def test_a_skill_contacts_wait_for_offers_no_delete_and_says_why(
        client: Client, pool_seeded: None) -> None:
    await as_admin(client)
    headers = {"X-CSRF-Token": csrf_of(await page(client, "/console/skills"))}
    made = await client.post("/api/v1/contacts", headers=headers,
                             json={"skill": "carers-support", "external_ref": "CA-carers"})
    assert made.status == 201, await made.text()
    contact = (await made.json())["id"]
    text = await page(client, "/console/skills/carers-support")
    assert ("It cannot be deleted now: 1 contact is waiting for this skill: move it to "
            "another skill first.") in text
    assert 'href="/console/contacts?skill=carers-support&amp;state=queued%2Coffered%2Ccallback"'\
        in text
    assert 'data-method="DELETE"' not in text and "Delete skill" not in text
    # what the page says is what the API does
    refused = await client.delete("/api/v1/skills/carers-support?force=true", headers=headers)
    assert refused.status == 409
    moved = await client.post(f"/api/v1/contacts/{contact}/move", headers=headers,
                              json={"skill": "dementia", "why": "carers-support is retired"})
    assert moved.status == 200, await moved.text()
    text = await page(client, "/console/skills/carers-support")
    assert "cannot be deleted now" not in text
    assert 'data-method="DELETE" data-url="/api/v1/skills/carers-support?force=true"' in text
    gone = await client.delete("/api/v1/skills/carers-support?force=true", headers=headers)
    assert gone.status == 204


# -- organisations ------------------------------------------------------------------------------


async def test_a_supervisor_sees_only_their_organisations_and_no_buttons(
        client: Client, pool_seeded: None) -> None:
    await as_supervisor(client)
    text = await page(client, "/console/organisations")
    orgs = rows_of(text, 'id="orgs-caption"')
    assert [r[:2] for r in orgs] == [["NHS-A", "nhs-a"]]
    agreements = rows_of(text, 'id="agreements-caption"')
    assert [r[0] for r in agreements] == ["COUNCIL-B and NHS-A"]  # not council-b and Fife
    assert "Fife Council" not in text
    assert "Only an administrator can add, rename or delete" in text
    assert "expertline-api-form" not in text and "console-forms.js" not in text
    assert ">Delete" not in text and ">Rename" not in text


async def test_an_admin_sees_every_organisation_and_agreement_with_their_forms(
        client: Client, pool_seeded: None) -> None:
    await as_admin(client)
    text = await page(client, "/console/organisations")
    api = (await (await client.get("/api/v1/organisations")).json())["items"]
    orgs = rows_of(text, 'id="orgs-caption"')
    assert [r[1] for r in orgs] == [o["id"] for o in api]
    assert orgs[1][:5] == ["Fife Council", "fife-council", "Council", "Scotland", "None"]
    agreements = rows_of(text, 'id="agreements-caption"')
    shown = (await (await client.get("/api/v1/sharing-agreements")).json())["items"]
    assert len(agreements) == len(shown) == 2
    assert [r[:5] for r in agreements] == [
        ["COUNCIL-B and Fife Council", "Housing", "No start date", "No end date", "Yes"],
        ["COUNCIL-B and NHS-A", "Dementia", "No start date", "No end date", "Yes"]]
    for marker in ('data-method="POST" data-url="/api/v1/organisations"',
                   'data-method="PATCH" data-url="/api/v1/organisations/fife-council"',
                   'data-method="DELETE" data-url="/api/v1/organisations/fife-council"',
                   'data-method="POST" data-url="/api/v1/sharing-agreements"',
                   f'data-method="DELETE" data-url="/api/v1/sharing-agreements/{shown[0]["id"]}"',
                   'for="rename-fife-council">New name for Fife Council</label>',
                   'data-field="starts_on" data-date="the start date"'):
        assert marker in text, marker
    headers = {"X-CSRF-Token": csrf_of(text)}
    added = await client.post("/api/v1/sharing-agreements", headers=headers, json={
        "org_a": "nhs-a", "org_b": "fife-council", "purpose": "Out of hours",
        "starts_on": "2099-01-01"})
    assert added.status == 201, await added.text()
    renamed = await client.patch("/api/v1/organisations/fife-council", headers=headers,
                                 json={"name": "Fife"})
    assert renamed.status == 200
    again = await page(client, "/console/organisations")
    row = [r for r in rows_of(again, 'id="agreements-caption"') if "Out of hours" in r]
    assert row[0][:5] == ["Fife and NHS-A", "Out of hours", "1 January 2099", "No end date",
                          "No"]


# -- import -------------------------------------------------------------------------------------

DOCUMENT = {
    "version": 1,
    "organisations": [{"id": "nhs-a", "name": "NHS A Trust"},
                      {"id": "age-cymru", "name": "Age Cymru", "nation": "wales"}],
    "skills": [{"id": "benefits", "name": "Benefits", "related": {"housing": 2}}],
    "sharing_agreements": [{"org_a": "nhs-a", "org_b": "age-cymru"}],
}


def upload(csrf: str, content: str | bytes, *, filename: str = "pool.json", action: str = "dry-run",
           **fields: str) -> FormData:
    form = FormData()
    form.add_field("csrf_token", csrf)
    form.add_field("action", action)
    raw = content.encode() if isinstance(content, str) else content
    form.add_field("file", io.BytesIO(raw), filename=filename,
                   content_type="application/octet-stream")
    for name, value in fields.items():
        form.add_field(name, value)
    return form


async def pool_state(client: Client) -> dict[str, Any]:
    async with client.app[DATABASE].session() as session:
        orgs, _ = await pool.list_organisations(session, limit=100, offset=0)
        skills, _ = await pool.list_skills(session, limit=100, offset=0)
        agreements, _ = await pool.list_agreements(session, limit=100, offset=0)
        imports = (await session.exec(select(AuditEntry.entity_id).where(
            col(AuditEntry.action) == "import"))).all()
    return {"orgs": {o.id: o.name for o in orgs}, "skills": {s.id: dict(s.related) for s in skills},
            "agreements": sorted((a.org_a, a.org_b) for a in agreements),
            "imports": sorted(imports)}


async def test_an_admin_s_dry_run_reports_each_row_and_apply_changes_the_pool(
        client: Client, pool_seeded: None) -> None:
    await as_admin(client)
    assert 'href="/console/import"' in await page(client, "/console/skills")  # in the sections
    form_page = await page(client, "/console/import")
    assert 'enctype="multipart/form-data"' in form_page and "<script" not in form_page.split(
        "</head>")[1]
    csrf = csrf_of(form_page)
    before = await pool_state(client)
    resp = await client.post("/console/import", data=upload(csrf, json.dumps(DOCUMENT)))
    report = await resp.text()
    assert resp.status == 200, report
    assert await pool_state(client) == before  # a dry run writes nothing
    assert "Nothing has been changed yet. Planned: 4 changes." in report
    assert rows_of(report, 'id="changes-caption"') == [
        ["organisations[0]", "Organisation", "nhs-a", "Update", 'name: "NHS-A" → "NHS A Trust"'],
        ["organisations[1]", "Organisation", "age-cymru", "Create", "New: Age Cymru"],
        ["skills[0]", "Skill", "benefits", "Create", "New: Benefits"],
        ["sharing_agreements[0]", "Sharing agreement", "age-cymru/nhs-a", "Create", "New"]]
    assert rows_of(report, 'id="counts-caption"')[0] == ["Organisations", "1", "1", "0", "0"]
    assert ">Apply 4 changes</button>" in report

    apply = upload(csrf, b"", action="apply", document=hidden(report, "document"),
                   format=hidden(report, "format"), replace=hidden(report, "replace"),
                   plan=hidden(report, "plan"))
    done = await client.post("/console/import", data=apply)
    applied = await done.text()
    assert done.status == 200, applied
    assert "Import applied: 4 changes." in applied
    after = await pool_state(client)
    assert after["orgs"]["nhs-a"] == "NHS A Trust" and after["orgs"]["age-cymru"] == "Age Cymru"
    assert after["skills"]["benefits"] == {"housing": 2.0}
    assert ("age-cymru", "nhs-a") in after["agreements"]
    assert after["imports"] == sorted(["age-cymru", "nhs-a", "benefits", "age-cymru/nhs-a"])
    api = await client.get("/api/v1/skills/housing")
    assert (await api.json())["related"] == {"benefits": 2.0}

    again = await client.post("/console/import", data=apply)  # Apply sent twice writes once
    assert again.status == 409
    assert "Nothing was applied" in await again.text()
    assert await pool_state(client) == after


async def test_a_replace_that_deletes_is_flagged_and_pasted_text_stays_in_the_form(
        client: Client, pool_seeded: None) -> None:
    """Replace with a one-line CSV would delete every other expert: the report warns with the
    count before the button, and the pasted text is still there to fix and check again."""
    await as_admin(client)
    csrf = csrf_of(await page(client, "/console/import"))
    pasted = "id,name,organisation,skills\ne-ann,Ann,nhs-a,dementia:4\n"
    form = FormData()
    for name, value in (("csrf_token", csrf), ("action", "dry-run"), ("text", pasted),
                        ("format", "csv"), ("replace", "true")):
        form.add_field(name, value)
    resp = await client.post("/console/import", data=form)
    report = await resp.text()
    assert resp.status == 200, report
    deletes = int(rows_of(report, 'id="counts-caption"')[0][3])
    assert deletes > 0 and 'id="deletes-warning"' in report
    assert f"This deletes {deletes} records the file does not name: {deletes} experts" in report
    assert f"deleting {deletes}</button>" in report and "govuk-button--warning" in report
    assert htmllib.escape(pasted, quote=False).strip() in report  # shown back in the textarea
    kept = await client.post("/console/import", data=upload(csrf, pasted, filename="hr.csv"))
    assert 'id="deletes-warning"' not in await kept.text()  # without Replace nothing goes


async def test_a_csv_dry_run_names_the_line_of_each_change_and_problem(
        client: Client, pool_seeded: None) -> None:
    await as_admin(client)
    csrf = csrf_of(await page(client, "/console/import"))
    good = ("id,name,organisation,skills\n"
            "e-new,New Person,nhs-a,dementia:3\n"
            "e-ann,Ann,nhs-a,dementia:4\n")
    resp = await client.post("/console/import", data=upload(csrf, good, filename="hr.csv"))
    report = await resp.text()
    assert resp.status == 200, report
    assert rows_of(report, 'id="changes-caption"') == [
        ["line 2", "Expert", "e-new", "Create", "New: New Person"],
        ["line 3", "Expert", "e-ann", "Update", 'skills: {"dementia": 5} → {"dementia": 4}']]
    bad = good + "e-zed,Zed,nowhere,dementia:3\ne-yan,Yan,nhs-a,dementia:9\ne-ann,Twice,nhs-a,\n"
    resp = await client.post("/console/import", data=upload(csrf, bad, filename="hr.csv"))
    report = await resp.text()
    assert resp.status == 422, report
    problems = rows_of(report, 'id="problems-caption"')
    assert [p[0] for p in problems] == ["line 4, organisation", "line 5, skills.dementia",
                                        "line 6, id"]
    assert "unknown organisation 'nowhere'" in problems[0][1]
    assert "duplicate id 'e-ann' (first on line 3)" in problems[2][1]
    assert "Apply" not in report.split('id="check-heading"')[0].split("report-heading")[1]
    assert (await pool_state(client))["imports"] == []


async def test_bad_input_gets_a_clear_4xx_page(client: Client, pool_seeded: None) -> None:
    await as_admin(client)
    csrf = csrf_of(await page(client, "/console/import"))
    before = await pool_state(client)
    both = upload(csrf, "{}", text='{"version": 1}')
    cases: list[tuple[Any, int, str]] = [
        (upload(csrf, ""), 400, "Choose a pool file, or paste its text"),
        (both, 400, "not both"),
        (upload(csrf, "{not json"), 400, "The file is not valid JSON"),
        (upload(csrf, b"\xff\xfe\x00bad", filename="x.csv"), 400, "must be UTF-8 text"),
        (upload(csrf, "a\x00b", filename="x.csv"), 400, "The file cannot be read"),
        (upload(csrf, "{}", format="xml"), 400, "Choose JSON, CSV"),
        (upload(csrf, "{}", action="launch"), 400, "Choose Check the file or Apply"),
        (upload("not-the-token", "{}"), 403, "This form has expired"),
        (upload(csrf, "", action="apply"), 400, "There is nothing to apply"),
        (upload(csrf, "[1, 2]"), 422, "the document must be a JSON object"),
        (upload(csrf, "x" * 1_100_000, filename="big.csv"), 413, "too large"),
        ({"action": "dry-run", "text": "{}"}, 403, "This form has expired"),
        (b"--nothing", 403, "This form has expired"),
    ]
    for body, status, message in cases:
        resp = await client.post("/console/import", data=body)
        text = await resp.text()
        assert resp.status == status, (message, text[:300])
        assert resp.content_type == "text/html" and message in text, message
        assert "There is a problem" in text or "problem" in text
    assert await pool_state(client) == before


async def test_a_supervisor_is_told_imports_are_for_admins(client: Client,
                                                           pool_seeded: None) -> None:
    await as_supervisor(client)
    assert 'href="/console/import"' not in await page(client, "/console/skills")  # not offered
    text = await page(client, "/console/import", 403)
    assert "Admins only" in text and "enctype" not in text
    before = await pool_state(client)
    resp = await client.post("/console/import",
                             data=upload(csrf_of(text), json.dumps(DOCUMENT)))
    assert resp.status == 403 and "Admins only" in await resp.text()
    api = await client.post("/api/v1/import?dry_run=true", json=DOCUMENT,
                            headers={"X-CSRF-Token": csrf_of(text)})
    assert api.status == 403  # the API refuses a supervisor too
    assert await pool_state(client) == before
