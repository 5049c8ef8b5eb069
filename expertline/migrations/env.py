"""Alembic environment: runs on the connection handed over by ``expertline.schema``.

For a new revision against a scratch database, see README ("Schema changes").
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from expertline.tables import metadata

target_metadata = metadata()


def run() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:  # command-line use: a plain sync URL
        url = context.config.get_main_option("sqlalchemy.url")
        if url is None:
            raise RuntimeError("set sqlalchemy.url (or pass a connection) to run migrations")
        with create_engine(url).connect() as conn:
            _run_on(conn)
            conn.commit()
        return
    _run_on(connection)


def _run_on(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=True, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


run()
