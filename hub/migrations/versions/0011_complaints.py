"""complaints: the point a complaint names, as named

``complaint.about_point_name``: the service point a complaint is about, as the complainant named it (``about_point_id``
is set only when the name is an enrolled point's), so a name the hub does not know is kept, not lost.

Revision ID: 0011 (the file's prefix: sync/kit/migrate.py reads revision ids from file names)
Revises: 0010
Create Date: 2026-12-04 21:31:12
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('complaint', schema=None) as batch_op:
        batch_op.add_column(sa.Column('about_point_name', sa.String(length=128), nullable=False, server_default=''))
    # The default was for the rows already there; new rows get theirs from the model.
    with op.batch_alter_table('complaint', schema=None) as batch_op:
        batch_op.alter_column('about_point_name', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('complaint', schema=None) as batch_op:
        batch_op.drop_column('about_point_name')
