"""call bridges: a phone bridge in progress outlives the process that set it up

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 21:03:48.881537
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('call_bridge',
    sa.Column('contact_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('state', sa.JSON(), nullable=False),
    sa.Column('context', sa.JSON(), nullable=False),
    sa.Column('retry_at', sa.Float(), nullable=True),
    sa.Column('updated_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('contact_id')
    )


def downgrade() -> None:
    op.drop_table('call_bridge')
