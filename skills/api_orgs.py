"""``/api/v1/organisations`` and ``/api/v1/sharing-agreements``: read by admins and
supervisors, written by admins only.

An organisation cannot be deleted while experts or sharing agreements refer to it (409). A sharing
agreement joins two different, known organisations, stored in order (``org_a < org_b``); a second
agreement for the same pair is a 409.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web
from sqlmodel.ext.asyncio.session import AsyncSession

from base.access import Principal, Role, require_pool_reader, require_role
from base.api_spec import NO_CONTENT, PAGING, Body, Day, Query, Reply, Text, operation, page
from base.clock import today_utc
from base.errors import Conflict, InvalidInput, NotFound
from base.http import json_response, page_of, paging, principal, read_json
from skills import pool
from skills.api_common import NUMERIC_PATH, SLUG, SLUG_PATH, api_of, path_int, path_slug
from skills.models import Organisation, SharingAgreement
from skills.serialise import (
    AGREEMENT_SCHEMA,
    ORGANISATION_SCHEMA,
    agreement_json,
    organisation_json,
)
from skills.watch import PoolChange

ORGANISATION = Body({
    "id": Text(64, required=True, pattern=SLUG),
    "name": Text(required=True, nullable=False),
    "kind": Text(32, nullable=False, pattern=SLUG),
    "nation": Text(32, nullable=False, pattern=SLUG),
    "region": Text(64),
})
ORGANISATION_PATCH = ORGANISATION.without("id").partial()
ORG_FIELDS = frozenset(ORGANISATION.fields)
AGREEMENT = Body({
    "org_a": Text(64, required=True, pattern=SLUG),
    "org_b": Text(64, required=True, pattern=SLUG),
    "purpose": Text(500),
    "starts_on": Day(),
    "ends_on": Day(),
})
AGREEMENT_FIELDS = frozenset(AGREEMENT.fields)
READERS, ADMIN = ("admin", "supervisor"), ("admin",)
ID, NUMBER = {"id": SLUG_PATH}, {"id": NUMERIC_PATH}
ORG_Q = Query("org", max_len=64, doc="only this organisation's agreements")


def routes() -> list[web.RouteDef]:
    orgs, agreements = "/api/v1/organisations", "/api/v1/sharing-agreements"
    return [
        web.get(orgs, list_organisations),
        web.post(orgs, create_organisation),
        web.get(orgs + "/{id}", get_organisation),
        web.patch(orgs + "/{id}", patch_organisation),
        web.delete(orgs + "/{id}", delete_organisation),
        web.get(agreements, list_agreements),
        web.post(agreements, create_agreement),
        web.get(agreements + "/{id}", get_agreement),
        web.delete(agreements + "/{id}", delete_agreement),
    ]


def _admin(request: web.Request) -> Principal:
    who = principal(request)
    require_role(who, Role.ADMIN)
    return who


# -- organisations ------------------------------------------------------------------------------


@operation("List the organisations", roles=READERS, query=PAGING,
           reply=Reply(schema=page(ORGANISATION_SCHEMA)))
async def list_organisations(request: web.Request) -> web.Response:
    require_pool_reader(principal(request))
    limit, offset = paging(request)
    async with api_of(request).reading() as session:
        rows, total = await pool.list_organisations(session, limit=limit, offset=offset)
    items = [organisation_json(r) for r in rows]
    return json_response(page_of(items, total=total, limit=limit, offset=offset))


@operation("Read one organisation", roles=READERS, path=ID,
           reply=Reply(schema=ORGANISATION_SCHEMA))
async def get_organisation(request: web.Request) -> web.Response:
    require_pool_reader(principal(request))
    org_id = path_slug(request, "organisation")
    async with api_of(request).reading() as session:
        return json_response(organisation_json(await _existing(session, org_id)))


async def _existing(session: AsyncSession, org_id: str) -> Organisation:
    found = await pool.get_organisation(session, org_id=org_id)
    if found is None:
        raise NotFound(f"no organisation {org_id!r}", organisation=org_id)
    return found


def parse_organisation(body: Mapping[str, Any], *, new: bool) -> dict[str, Any]:
    f = (ORGANISATION if new else ORGANISATION_PATCH).read(body)
    values: dict[str, Any] = {}
    if new:
        values["id"] = f.get("id")
    if new or f.has("name"):
        values["name"] = f.get("name")
    for key in ("kind", "nation"):
        if f.has(key):
            values[key] = f.get(key)
    if f.has("region"):
        values["region"] = f.get("region") or ""
    return values


@operation("Add an organisation", roles=ADMIN, body=ORGANISATION,
           reply=Reply(201, ORGANISATION_SCHEMA))
async def create_organisation(request: web.Request) -> web.Response:
    who = _admin(request)
    values = parse_organisation(await read_json(request), new=True)
    api = api_of(request)
    async with api.writing() as session:
        if await pool.get_organisation(session, org_id=values["id"]) is not None:
            raise Conflict(f"organisation {values['id']!r} already exists")
        await pool.insert_organisation(session, values=values)
        after = organisation_json(await _existing(session, values["id"]))
        api.record(
            session,
            who,
            action="create",
            entity="organisation",
            entity_id=values["id"],
            after=after,
        )
    return json_response(after, status=201)


@operation("Change an organisation", roles=ADMIN, path=ID, body=ORGANISATION_PATCH,
           reply=Reply(schema=ORGANISATION_SCHEMA))
async def patch_organisation(request: web.Request) -> web.Response:
    who = _admin(request)
    org_id = path_slug(request, "organisation")
    values = parse_organisation(await read_json(request), new=False)
    api = api_of(request)
    async with api.writing() as session:
        before = organisation_json(await _existing(session, org_id))
        if values:
            await pool.update_organisation(session, org_id=org_id, values=values)
        session.expire_all()
        after = organisation_json(await _existing(session, org_id))
        if after == before:
            return json_response(after)
        api.record(
            session,
            who,
            action="update",
            entity="organisation",
            entity_id=org_id,
            before=before,
            after=after,
        )
        renamed = after["name"] != before["name"]
        shown = await pool.shown_experts(session, org_id=org_id) if renamed else frozenset()
    if shown:  # the experts who show citizens their organisation's name show the new one
        await api.changed(PoolChange(experts=shown))
    return json_response(after)


@operation("Delete an organisation nobody refers to", roles=ADMIN, path=ID,
           reply=NO_CONTENT)
async def delete_organisation(request: web.Request) -> web.Response:
    who = _admin(request)
    org_id = path_slug(request, "organisation")
    api = api_of(request)
    async with api.writing() as session:
        before = organisation_json(await _existing(session, org_id))
        experts, agreements = await pool.org_usage(session, org_id=org_id)
        if experts or agreements:
            raise Conflict(
                f"organisation {org_id!r} still has {experts} expert(s) and "
                f"{agreements} sharing agreement(s): move or delete them first",
                experts=experts,
                agreements=agreements,
            )
        await pool.delete_organisation(session, org_id=org_id)
        api.record(
            session, who, action="delete", entity="organisation", entity_id=org_id, before=before
        )
    return web.Response(status=204)


# -- sharing agreements -------------------------------------------------------------------------


@operation("List the data-sharing agreements", roles=READERS, query=(ORG_Q, *PAGING),
           reply=Reply(schema=page(AGREEMENT_SCHEMA)))
async def list_agreements(request: web.Request) -> web.Response:
    """Every agreement (or ``?org=``'s), each saying whether it is ``in_force`` today."""
    require_pool_reader(principal(request))
    limit, offset = paging(request)
    async with api_of(request).reading() as session:
        rows, total = await pool.list_agreements(
            session, org=ORG_Q.read(request), limit=limit, offset=offset
        )
    day = today_utc()
    items = [agreement_json(r, today=day) for r in rows]
    return json_response(page_of(items, total=total, limit=limit, offset=offset))


@operation("Read one data-sharing agreement", roles=READERS, path=NUMBER,
           reply=Reply(schema=AGREEMENT_SCHEMA))
async def get_agreement(request: web.Request) -> web.Response:
    require_pool_reader(principal(request))
    agreement_id = path_int(request, "sharing agreement", "id")
    async with api_of(request).reading() as session:
        row = await _agreement(session, agreement_id)
    return json_response(agreement_json(row, today=today_utc()))


async def _agreement(session: AsyncSession, agreement_id: int) -> SharingAgreement:
    row = await pool.get_agreement(session, agreement_id=agreement_id)
    if row is None:
        raise NotFound(f"no sharing agreement {agreement_id}")
    return row


def parse_agreement(body: Mapping[str, Any]) -> dict[str, Any]:
    f = AGREEMENT.read(body)
    a, b = f.get("org_a") or "", f.get("org_b") or ""
    if a == b:
        raise InvalidInput(f"an agreement joins two organisations, got {a!r} twice", field="org_b")
    starts_on, ends_on = f.get("starts_on"), f.get("ends_on")
    if starts_on and ends_on and ends_on < starts_on:
        raise InvalidInput("'ends_on' is before 'starts_on'", field="ends_on")
    a, b = sorted((a, b))
    return {
        "org_a": a,
        "org_b": b,
        "purpose": f.get("purpose") or "",
        "starts_on": starts_on,
        "ends_on": ends_on,
    }


@operation("Add a data-sharing agreement", roles=ADMIN, body=AGREEMENT,
           reply=Reply(201, AGREEMENT_SCHEMA))
async def create_agreement(request: web.Request) -> web.Response:
    who = _admin(request)
    values = parse_agreement(await read_json(request))
    a, b = values["org_a"], values["org_b"]
    api = api_of(request)
    async with api.writing() as session:
        unknown = sorted({a, b} - await pool.existing_ids(session, model=Organisation, ids=[a, b]))
        if unknown:
            raise InvalidInput(f"unknown organisation(s): {', '.join(unknown)}", unknown=unknown)
        if await pool.find_agreement(session, org_a=a, org_b=b) is not None:
            raise Conflict(f"{a!r} and {b!r} already have a sharing agreement")
        row = await pool.insert_agreement(session, values=values)
        after = agreement_json(row)
        api.record(
            session,
            who,
            action="create",
            entity="sharing_agreement",
            entity_id=str(row.id),
            after=after,
        )
    await api.changed(PoolChange(sharing=True))
    return json_response(agreement_json(row, today=today_utc()), status=201)


@operation("Delete a data-sharing agreement", roles=ADMIN, path=NUMBER,
           reply=NO_CONTENT)
async def delete_agreement(request: web.Request) -> web.Response:
    who = _admin(request)
    agreement_id = path_int(request, "sharing agreement", "id")
    api = api_of(request)
    async with api.writing() as session:
        before = agreement_json(await _agreement(session, agreement_id))
        await pool.delete_agreement(session, agreement_id=agreement_id)
        api.record(
            session,
            who,
            action="delete",
            entity="sharing_agreement",
            entity_id=str(agreement_id),
            before=before,
        )
    await api.changed(PoolChange(sharing=True))
    return web.Response(status=204)
