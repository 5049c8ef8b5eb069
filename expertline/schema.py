"""The schema: Alembic migrations over every package's tables, applied on every start.

The composition root owns them because they describe the tables of all packages together
(``expertline.tables``). ``database(url)`` is a ``base.db.Database`` that migrates when opened;
``upgrade`` is the ``schema`` hook it passes down.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy.engine import Connection

from base.db import Database

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(connection: Connection | None = None) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


MIGRATION_LOCK = 0x45584C4D  # "EXLM": one pg_advisory_xact_lock key for migrations


def upgrade(connection: Connection, revision: str = "head") -> None:
    """Apply every pending migration on ``connection`` (idempotent). On PostgreSQL several
    processes may start at once: a transaction-scoped advisory lock lets one migrate while the
    others wait, then find nothing left to do."""
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"),
                           {"key": MIGRATION_LOCK})
    command.upgrade(alembic_config(connection), revision)


def database(url: str, *, echo: bool = False, busy_timeout_ms: int = 5000) -> Database:
    """A database that is migrated to the latest schema when opened."""
    return Database(url, echo=echo, schema=upgrade, busy_timeout_ms=busy_timeout_ms)
