"""Per-client rate limits: a token bucket per key (a client address, a phone number).

``RateLimit(per_minute)`` lets a key spend up to ``per_minute`` at once (the burst) and refills
at ``per_minute`` a minute. ``take(key)`` spends one and returns 0, or returns the seconds until
one is free (the ``Retry-After``) and spends nothing. ``blocked(key)`` says the same without
spending. Pure apart from the injected clock; memory stays bounded (the fullest, i.e. idlest,
buckets are forgotten first). ``per_minute = 0`` turns the limit off.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from base.errors import TooManyRequests

MAX_KEYS = 100_000


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimit:
    def __init__(self, per_minute: float, *, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = MAX_KEYS) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: dict[str, _Bucket] = {}

    def __repr__(self) -> str:
        return f"<RateLimit {self.per_minute:g}/min, {len(self._buckets)} keys>"

    def take(self, key: str) -> float:
        """Spend one for ``key``: 0 when allowed, else the seconds until it would be."""
        if self.per_minute <= 0:
            return 0.0
        bucket = self._refill(key)
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) * 60 / self.per_minute

    def blocked(self, key: str) -> float:
        """Seconds until ``key`` may spend again (0 when it may now); spends nothing."""
        if self.per_minute <= 0 or key not in self._buckets:
            return 0.0
        bucket = self._refill(key)
        return 0.0 if bucket.tokens >= 1 else (1 - bucket.tokens) * 60 / self.per_minute

    def _refill(self, key: str) -> _Bucket:
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            self._forget_if_full()
            bucket = self._buckets[key] = _Bucket(self.per_minute, now)
        else:
            gained = (now - bucket.at) * self.per_minute / 60
            bucket.tokens = min(self.per_minute, bucket.tokens + gained)
            bucket.at = now
        return bucket

    def _forget_if_full(self) -> None:
        if len(self._buckets) < self._max_keys:
            return
        idlest = sorted(self._buckets, key=lambda k: self._buckets[k].at)
        for key in idlest[: max(1, self._max_keys // 10)]:
            del self._buckets[key]


def enforce(limit: RateLimit, key: str, what: str) -> None:
    """Spend one for ``key`` or raise ``TooManyRequests`` (429 with ``Retry-After``)."""
    wait = limit.take(key)
    if wait > 0:
        raise TooManyRequests(f"too many {what}; try again in {wait:.0f} s",
                              retry_after_s=wait)


TRUST_FORWARDED_FOR = web.AppKey("base.trust_forwarded_for", bool)
RELAY_SECRET = web.AppKey("base.relay_secret", str)
RELAY_HEADER = "X-Expertline-Relay"  # the leader's relay secret, on a request a follower relays
CLIENT_HEADER = "X-Expertline-Client"  # the client that follower saw


def client_of(request: web.Request) -> str:
    """The caller's address: the peer, or, behind a proxy the operator trusts
    (``server.trust_forwarded_for``), the address that proxy put last in X-Forwarded-For; on a
    request another process of ours relayed (it knows the relay secret), the client it saw."""
    secret = request.app.get(RELAY_SECRET, "")
    if secret and hmac.compare_digest(request.headers.get(RELAY_HEADER, ""), secret):
        relayed = request.headers.get(CLIENT_HEADER, "")
        if relayed:
            return relayed
    if request.app.get(TRUST_FORWARDED_FOR, False):
        forwarded = request.headers.get("X-Forwarded-For", "")
        last = forwarded.rsplit(",", 1)[-1].strip()
        if last:
            return last
    return request.remote or "unknown"
