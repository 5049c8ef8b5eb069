"""Bounded memories for at-least-once delivery: keys seen recently, and replies to replay.

Twilio retries a webhook it got no answer to, with the same ``I-Twilio-Idempotency-Token``
header and the same CallSid/MessageSid. ``Replies`` returns the reply already given to a token;
``RecentKeys`` remembers MessageSids. Both forget after ``ttl_s`` and hold at most ``size``
entries, so memory stays flat whatever the traffic. The durable guarantee is the routing port's
idempotency on external refs; these only spare the work and keep replies identical.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

V = TypeVar("V")


class _Expiring(Generic[V]):
    def __init__(self, *, clock: Callable[[], float], ttl_s: float = 600.0,
                 size: int = 10_000) -> None:
        self._clock = clock
        self._ttl_s = ttl_s
        self._size = size
        self._items: OrderedDict[str, tuple[float, V]] = OrderedDict()

    def _get(self, key: str) -> V | None:
        self._expire()
        found = self._items.get(key)
        return None if found is None else found[1]

    def _put(self, key: str, value: V) -> None:
        self._items[key] = (self._clock(), value)
        self._items.move_to_end(key)
        while len(self._items) > self._size:
            self._items.popitem(last=False)

    def _expire(self) -> None:
        horizon = self._clock() - self._ttl_s
        while self._items:
            key, (at, _) = next(iter(self._items.items()))
            if at >= horizon:
                break
            del self._items[key]

    def __len__(self) -> int:
        self._expire()
        return len(self._items)


class RecentKeys(_Expiring[bool]):
    """``first_time(key)`` is True once per key (within the time-to-live)."""

    def first_time(self, key: str) -> bool:
        if self._get(key) is not None:
            return False
        self._put(key, True)
        return True

    def __repr__(self) -> str:
        return f"<RecentKeys {len(self)} remembered>"


class Replies(_Expiring[str]):
    """The reply (a TwiML document) given to each idempotency token."""

    def get(self, token: str) -> str | None:
        return self._get(token)

    def remember(self, token: str, reply: str) -> None:
        self._put(token, reply)

    def __repr__(self) -> str:
        return f"<Replies {len(self)} remembered>"


class CallIndex(_Expiring[str]):
    """CallSid -> contact id for the calls we queued, so a number-level status callback (which
    carries only the CallSid) finds its contact. Forgets after the time-to-live."""

    def remember(self, call_sid: str, contact_id: str) -> None:
        self._put(call_sid, contact_id)

    def get(self, call_sid: str) -> str | None:
        return self._get(call_sid)

    def __repr__(self) -> str:
        return f"<CallIndex {len(self)} calls>"
