"""routing lease: one fenced routing leader per PostgreSQL database; contact events say
which leader's epoch wrote them

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 20:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('routing_lease',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('holder', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('address', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('secret', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('epoch', sa.BigInteger(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('contact_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('epoch', sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('contact_event', schema=None) as batch_op:
        batch_op.drop_column('epoch')
    op.drop_table('routing_lease')
