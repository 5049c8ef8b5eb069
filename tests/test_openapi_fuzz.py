"""Schemathesis fuzzes every operation of ``/api/v1/openapi.json`` against the real app (issue 18,
item 5): no 5xx, every status, content type and body as the document says (every error the
JSON error shape), for data the document allows and for data it does not.

The app runs on a SQLite file, served by aiohttp on 127.0.0.1 in a thread of its own with a
seeded pool; schemathesis (synchronous, through ``requests``) calls it as an admin. Its
session refuses any URL but that loopback address and port, and ignores proxy settings from
the environment, so the fuzzer cannot reach anything else.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import threading
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pytest
import requests
import schemathesis
from aiohttp import ClientSession, web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from base import openapi
from base.access import Role
from expertline.app import DATABASE, create_app
from expertline.auth import issue_token
from router.context import engine_of
from router.ports import Channel, ContactRequest, Medium
from skills.watch import EVERYTHING
from tests.conftest import make_config
from tests.engine_support import seed_pool

T = TypeVar("T")
HOST = "127.0.0.1"
EXAMPLES = 25  # per operation: about 1,500 requests, 25-35 s on the shared 2-core machine
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


class LoopbackOnly(requests.Session):
    """A session that can reach one address: the app under test."""

    def __init__(self, port: int) -> None:
        super().__init__()
        self.port = port
        self.trust_env = False  # no HTTP(S)_PROXY, no .netrc

    def request(self, method: str | bytes, url: str | bytes,  # type: ignore[override]
                *args: Any, **kwargs: Any) -> requests.Response:
        target = urlsplit(url if isinstance(url, str) else url.decode())
        if (target.scheme, target.hostname, target.port) != ("http", HOST, self.port):
            raise AssertionError(f"the fuzzer may call only the app under test, not {url!r}")
        kwargs.setdefault("allow_redirects", False)
        return super().request(method, url, *args, **kwargs)


class LiveApp:
    """The real app on loopback, in its own thread and event loop (schemathesis is
    synchronous)."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.runner = web.AppRunner(app)
        self.port = 0

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout=60)

    def __enter__(self) -> LiveApp:
        self.thread.start()
        self.run(self._start())
        return self

    async def _start(self) -> None:
        await self.runner.setup()
        site = web.TCPSite(self.runner, HOST, 0)
        await site.start()
        self.port = self.runner.addresses[0][1]

    def __exit__(self, *_exc: object) -> None:
        self.run(self.runner.cleanup())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@dataclass
class World:
    """What the fuzzer calls with: the tokens, and ids that name something (a contact, a
    shift pattern), so that the handlers past the 404 are reached too."""

    admin: str
    expert: str  # e-cat's, for /api/v1/me…; e-cat is left out of the ids the fuzzer changes
    ids: dict[str, tuple[str, ...]]

    def token(self, path: str) -> str:
        return self.expert if path.startswith("/api/v1/me") else self.admin

    def path_parameters(self, path: str) -> list[dict[str, str]]:
        """Known values for the path's parameters, by the collection the path names."""
        names = re.findall(r"\{([^}]+)\}", path)
        if not names:
            return []
        collection = path.split("/")[3]
        choices = [self.ids.get(f"{collection}.{name}", ()) for name in names]
        if not all(choices):
            return []
        return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*choices)]


async def _prepare(app: web.Application, port: int) -> World:
    await seed_pool(app[DATABASE])
    engine = engine_of(app)
    await engine._reload_pool(EVERYTHING)
    async with app[DATABASE].transaction() as session:
        admin, _ = await issue_token(session, role=Role.ADMIN, orgs=frozenset(), expert_id=None)
        expert, _ = await issue_token(session, role=Role.EXPERT, orgs=frozenset(),
                                      expert_id="e-cat")
    ticket = await engine.submit(ContactRequest(
        channel=Channel.VOICE, medium=Medium.PHONE, skill="dementia", language="en",
        external_ref="fuzz-1", address="+447700900123"))
    weekly = {"kind": "weekly", "days": ["mon", "tue"], "start": "09:00", "end": "17:00",
              "breaks": [{"at": "12:30", "minutes": 30}]}
    async with ClientSession() as http, http.post(
            f"http://{HOST}:{port}/api/v1/experts/e-bob/shifts", json=weekly,
            headers={"Authorization": f"Bearer {admin}"}) as resp:
        assert resp.status == 201, await resp.text()
        shift = (await resp.json())["id"]
    experts, skills = ("e-ann", "e-bob"), ("dementia", "housing", "carers-support")
    return World(admin, expert, {
        "experts.id": experts, "experts.skill": skills, "experts.acc": ("1",),
        "skills.id": skills, "organisations.id": ("nhs-a", "council-b"),
        "sharing-agreements.id": ("1",), "contacts.id": (ticket.contact_id,),
        "shifts.sid": (shift,),
    })


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveApp, World]]:
    tmp: Path = tmp_path_factory.mktemp("openapi")
    config = make_config(f"sqlite+aiosqlite:///{tmp / 'test.db'}", tmp,
                         limits={"chat_opens_per_min": 0, "auth_failures_per_min": 0,
                                 "sign_in_failures_per_min": 0})
    with LiveApp(create_app(config)) as server:
        yield server, server.run(_prepare(server.app, server.port))


def _operations() -> list[str]:
    """Every operation of the document, those that delete or replace data last (an import
    with ``replace`` may empty the pool)."""
    document = openapi.document(create_app(make_config("sqlite+aiosqlite://", Path("."))))
    names = [f"{method.upper()} {path}" for path, methods in document["paths"].items()
             for method in methods]
    return sorted(names, key=lambda n: n.startswith(("DELETE", "POST /api/v1/import",
                                                     "POST /api/v1/erasure")))


@pytest.fixture(scope="module")
def schema(live: tuple[LiveApp, World]) -> Any:
    server, _token = live
    session = LoopbackOnly(server.port)
    document = session.get(f"http://{HOST}:{server.port}{openapi.DOCUMENT_PATH}").json()
    return schemathesis.openapi.from_dict(document)


@pytest.mark.parametrize("name", _operations())
def test_every_operation_answers_as_its_description_says(
        name: str, live: tuple[LiveApp, World], schema: Any) -> None:
    server, world = live
    method, path = name.split(" ", 1)
    operation = schema[path][method]
    session = LoopbackOnly(server.port)
    base_url = f"http://{HOST}:{server.port}"
    token = world.token(path)
    strategies = [operation.as_strategy(GenerationMode.POSITIVE),
                  operation.as_strategy(GenerationMode.NEGATIVE)]
    known = world.path_parameters(path)
    if known:  # real ids, twice as often: past the 404 into the handler
        real = st.sampled_from(known).flatmap(
            lambda ids: operation.as_strategy(GenerationMode.POSITIVE, path_parameters=ids))
        strategies += [real, real]
    cases = st.one_of(strategies)

    @given(case=cases)
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def fuzz(case: Any) -> None:
        response = case.call_and_validate(base_url=base_url, session=session,
                                          headers={"Authorization": f"Bearer {token}"},
                                          checks=CHECKS)
        if response.status_code >= 400:
            error = json.loads(response.content)["error"]
            assert isinstance(error["code"], str) and isinstance(error["message"], str)

    fuzz()
