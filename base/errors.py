"""Domain errors that carry their HTTP status.

Every package raises these (never ``web.HTTP*``); one middleware (``base.http.error_middleware``)
turns them into a JSON error for the API, and the Twilio webhooks turn them into safe TwiML.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A failure the caller can act on: it knows its HTTP status, a stable code and a message."""

    status: int = 400
    code: str = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return {"error": body}


class InvalidInput(DomainError):
    status = 422
    code = "invalid"


class BadRequest(DomainError):
    status = 400
    code = "bad_request"


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class UriTooLong(DomainError):
    status = 414
    code = "uri_too_long"


class HeadersTooLarge(DomainError):
    status = 431
    code = "headers_too_large"


class RequestTimeout(DomainError):
    """The client did not send what it promised in time."""

    status = 408
    code = "timeout"


class TooManyRequests(DomainError):
    """A client went over a limit; ``retry_after_s`` says when it may try again."""

    status = 429
    code = "too_many_requests"

    def __init__(self, message: str, *, retry_after_s: float, **details: Any) -> None:
        super().__init__(message, retry_after_s=round(retry_after_s, 1), **details)
        self.retry_after_s = retry_after_s


class Conflict(DomainError):
    status = 409
    code = "conflict"


class PayloadTooLarge(DomainError):
    status = 413
    code = "too_large"


class Unavailable(DomainError):
    """A dependency (the database) failed; nothing the caller sent was wrong."""

    status = 503
    code = "unavailable"


class NotLeader(Unavailable):
    """Another process leads routing now: this one may not write what only the leader writes
    (several processes on one PostgreSQL database)."""

    code = "not_leader"


class GraphCycle(InvalidInput):
    """A broader/narrower change would make the taxonomy cyclic."""

    code = "cycle"


class Busy(Unavailable):
    """The database could not take the change just now (locked, or unreachable): retry."""

    code = "busy"
