"""Per-client limits (issue 13, item 8): one client opened 1,000 web chats in 6 s, pushing real
citizens down the queue, and 300 wrong tokens in 0.4 s met no slowdown. Over a limit the
client gets 429 with Retry-After; others are not affected."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import WSServerHandshakeError
from aiohttp.test_utils import TestClient

from base.config import Config
from base.limits import RateLimit
from expertline.app import DATABASE
from router.context import engine_of
from skills.watch import EVERYTHING
from tests.conftest import TokenFactory, make_config
from tests.engine_support import seed_pool
from tests.telephony_support import TwilioPlayer


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(("per_minute", "script", "expected"), [
    # (seconds to wait before each take) -> what each take answers (0 = allowed, else wait)
    (3, [0, 0, 0, 0], [0, 0, 0, 20.0]),          # a burst of 3, then one every 20 s
    (3, [0, 0, 0, 20, 0], [0, 0, 0, 0, 20.0]),   # 20 s later one more is free
    (60, [0] * 61, [0] * 60 + [1.0]),
    (0, [0] * 100, [0] * 100),                   # 0 turns the limit off
])
def test_rate_limit_is_a_token_bucket(per_minute: float, script: list[float],
                                      expected: list[float]) -> None:
    clock = Clock()
    limit = RateLimit(per_minute, clock=clock)
    answers = []
    for wait in script:
        clock.now += wait
        answers.append(round(limit.take("client"), 6))
    assert answers == expected
    assert limit.take("another client") == 0


def test_rate_limit_memory_stays_bounded() -> None:
    clock = Clock()
    limit = RateLimit(1, clock=clock, max_keys=100)
    for n in range(1_000):
        clock.now += 1
        limit.take(f"client {n}")
    assert len(limit._buckets) <= 100
    assert limit.blocked("client 999") > 0 and limit.blocked("never seen") == 0


@pytest.fixture
def config(db_url: str, tmp_path: Any) -> Config:
    return make_config(db_url, tmp_path, limits={"chat_opens_per_min": 3,
                                                 "messages_per_number_per_min": 2,
                                                 "auth_failures_per_min": 4})


async def test_a_client_opening_too_many_chats_gets_429(client: TestClient) -> None:
    for _ in range(3):
        async with client.ws_connect("/ws/chat") as ws:
            await ws.close()
    with pytest.raises(WSServerHandshakeError) as refused:
        await client.ws_connect("/ws/chat")
    assert refused.value.status == 429
    resp = await client.get("/ws/chat")
    assert resp.status == 429 and int(resp.headers["Retry-After"]) >= 1
    assert (await resp.json())["error"]["code"] == "too_many_requests"


async def test_wrong_tokens_from_one_address_soon_make_it_wait(
        client: TestClient, auth: TokenFactory) -> None:
    good = await auth("admin")
    for n in range(4):
        resp = await client.get("/api/v1/skills", headers={"Authorization": f"Bearer xl_{n}"})
        assert resp.status == 401
    resp = await client.get("/api/v1/skills", headers=good)  # even a right one, for a while
    assert resp.status == 429 and int(resp.headers["Retry-After"]) >= 1


async def test_a_number_texting_too_fast_gets_429_and_others_do_not(
        client: TestClient) -> None:
    await seed_pool(client.app[DATABASE])
    await engine_of(client.app)._reload_pool(EVERYTHING)
    player = TwilioPlayer(client, token=None)  # loopback mode: nothing to sign

    async def text(sender: str, n: int) -> int:
        sid = f"SM{n:032d}"
        resp = await player.send("/twilio/messaging", {"MessageSid": sid, "From": sender,
                                                       "Body": "my mum has dementia"})
        return resp.status

    assert [await text("+447700900001", n) for n in range(3)] == [200, 200, 429]
    assert await text("+447700900002", 9) == 200
