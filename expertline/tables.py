"""Imports every module that defines tables, so ``SQLModel.metadata`` knows the whole schema.

Alembic's env.py and the migration-drift test use ``metadata()``; add new table modules here.
"""

from __future__ import annotations

import importlib

from sqlalchemy import MetaData
from sqlmodel import SQLModel

TABLE_MODULES = (
    "skills.models",
    "expertline.auth",
    "base.audit",
    "base.access_log",
    "router.tables",
    "scheduler.tables",
    "telephony.tables",
    "pages.tables",
    "expertline.governance.tables",
)


def metadata() -> MetaData:
    for name in TABLE_MODULES:
        importlib.import_module(name)
    return SQLModel.metadata
