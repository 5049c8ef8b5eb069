"""Supervisor API for the skills pool (placeholder until the pool API lands)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web


def setup(app: web.Application, *, sessions: Callable[[], Any], audit: Callable[..., Any]) -> None:
    """Register the pool routes on ``app``."""
    del app, sessions, audit
