"""The skills pool: tables, the skills graph, pool queries and the supervisor API."""

from skills.api import setup

__all__ = ["setup"]
