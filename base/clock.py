"""Clock helpers: aware UTC instants, and reading back what the database stored.

Every time column is written as timezone-aware UTC; SQLite hands it back naive, so read it
through ``utc()``. Code that decides things takes ``now`` as an argument (or an injected clock)
rather than calling these, so tests control time.
"""

from __future__ import annotations

from datetime import UTC, date, datetime


def now_utc() -> datetime:
    """The current instant, timezone-aware UTC."""
    return datetime.now(UTC)


def today_utc() -> date:
    return now_utc().date()


def utc(value: datetime | None) -> datetime | None:
    """Aware UTC whatever the database returned (SQLite drops the zone)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
