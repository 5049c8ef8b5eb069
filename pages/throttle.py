"""Sign-in throttling: an address whose sign-in links keep failing waits before it may try again.

A one-time link is 32 random bytes, so guessing one is hopeless; still, an address that spends
link after link that does not work (unknown, used or expired) is either guessing or broken, and
is slowed down like an address that sends wrong API tokens. Each refused link spends one from
the address's ``base.limits.RateLimit`` (``limits.sign_in_failures_per_min``, a burst of that
many); once they are spent, every sign-in from the address is answered 429 with Retry-After,
before the link is looked at, until the bucket refills. A link that works spends nothing.
"""

from __future__ import annotations

from aiohttp import web

from base.limits import RateLimit, client_of

SIGN_IN_FAILURES = web.AppKey("pages.sign_in_failures", RateLimit)


def wait_before_sign_in(request: web.Request) -> float:
    """Seconds this address must wait before its next sign-in is looked at (0: none)."""
    limit = request.app.get(SIGN_IN_FAILURES)
    return 0.0 if limit is None else limit.blocked(client_of(request))


def sign_in_failed(request: web.Request) -> None:
    limit = request.app.get(SIGN_IN_FAILURES)
    if limit is not None:
        limit.take(client_of(request))
