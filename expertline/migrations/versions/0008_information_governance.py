"""information governance: the access log, the key of citizen references, and audit records
that retention may delete past their period

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 09:00:00
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

APPEND_ONLY = "RAISE EXCEPTION 'audit log is append-only'; END; $$ LANGUAGE plpgsql"
# a DELETE goes through only for a record older than the purge's row (expertline.governance)
PURGEABLE = "SELECT 1 FROM audit_purge WHERE OLD.at < audit_purge.before"


def upgrade() -> None:
    op.create_table('access_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('contact_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('via', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('what', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('access_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_access_log_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_access_log_contact_id'), ['contact_id'], unique=False)

    key = op.create_table('pseudonym_key',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    # the key of citizen references when EXPERTLINE_PSEUDONYM_KEY is not set: random, once
    op.bulk_insert(key, [{"id": 1, "key": secrets.token_hex(32), "created_at": datetime.now(UTC)}])
    op.create_table('audit_purge',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('before', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    _purgeable_audit()


def _purgeable_audit() -> None:
    """Still append-only, except a DELETE of records older than the purge's row."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE OR REPLACE FUNCTION audit_entry_append_only() RETURNS trigger AS $$ BEGIN "
            f"IF TG_OP = 'DELETE' AND EXISTS ({PURGEABLE}) THEN RETURN OLD; END IF; "
            + APPEND_ONLY)
        return
    op.execute("DROP TRIGGER audit_entry_no_delete")
    op.execute(
        "CREATE TRIGGER audit_entry_no_delete BEFORE DELETE ON audit_entry "
        f"WHEN NOT EXISTS ({PURGEABLE}) "
        "BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE OR REPLACE FUNCTION audit_entry_append_only() RETURNS trigger AS $$ "
                   "BEGIN " + APPEND_ONLY)
    else:
        op.execute("DROP TRIGGER audit_entry_no_delete")
        op.execute("CREATE TRIGGER audit_entry_no_delete BEFORE DELETE ON audit_entry "
                   "BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END")
    op.drop_table('audit_purge')
    op.drop_table('pseudonym_key')
    with op.batch_alter_table('access_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_access_log_contact_id'))
        batch_op.drop_index(batch_op.f('ix_access_log_at'))

    op.drop_table('access_log')
