"""calendar years

``calendaryear``: the holiday schedules county IT imports at the hub (``pointkit-hub calendar import``), one
signed version per row; the newest version of a year is in force and replaces the shipped file of that year.
Empty until the first import. ``point.catalog_held`` and ``point.calendar_held``: the catalog version and
calendar years each point says it holds, so a hub bundle carries what it lacks (unknown until it next asks).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 13:23:34.128840
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('calendaryear',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('signed', sa.JSON(), nullable=False),
    sa.Column('source', sa.String(length=500), nullable=False),
    sa.Column('imported_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('year', 'version')
    )
    with op.batch_alter_table('calendaryear', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_calendaryear_year'), ['year'], unique=False)
    with op.batch_alter_table('point', schema=None) as batch_op:
        batch_op.add_column(sa.Column('catalog_held', sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column('calendar_held', sa.String(length=400), nullable=False, server_default=""))
    # The defaults were for the rows already there; new rows get theirs from the models.
    with op.batch_alter_table('point', schema=None) as batch_op:
        batch_op.alter_column('catalog_held', server_default=None)
        batch_op.alter_column('calendar_held', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('point', schema=None) as batch_op:
        batch_op.drop_column('calendar_held')
        batch_op.drop_column('catalog_held')
    with op.batch_alter_table('calendaryear', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calendaryear_year'))
    op.drop_table('calendaryear')
