"""the clerk's real name and repeat applications

``case.staff_name`` and ``onetimenotice.staff_name``: the clerk's real name as receipts and notices print it
(经办人), filled for the rows already there from the staff account's display name, else its login.
``case.duplicate_of`` and ``case.duplicate_reason``: the open case of the same resident and item a clerk was warned
of at intake, and why she received the new one anyway.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 18:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

# The name a row's login had: the account's display name, else the login itself (an account since removed).
_BACKFILL = ('UPDATE "{table}" SET staff_name = COALESCE((SELECT NULLIF(staff.display_name, \'\') FROM staff '
             'WHERE staff.username = "{table}".staff), staff)')


def upgrade() -> None:
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.add_column(sa.Column('staff_name', sa.String(length=64), nullable=False, server_default=""))
        batch_op.add_column(sa.Column('duplicate_of', sa.String(length=40), nullable=False, server_default=""))
        batch_op.add_column(sa.Column('duplicate_reason', sa.String(length=500), nullable=False, server_default=""))
    with op.batch_alter_table('onetimenotice', schema=None) as batch_op:
        batch_op.add_column(sa.Column('staff_name', sa.String(length=64), nullable=False, server_default=""))
    for table in ('case', 'onetimenotice'):
        op.execute(_BACKFILL.format(table=table))
    # The defaults were for the rows already there; new rows get theirs from the model.
    with op.batch_alter_table('case', schema=None) as batch_op:
        for column in ('staff_name', 'duplicate_of', 'duplicate_reason'):
            batch_op.alter_column(column, server_default=None)
    with op.batch_alter_table('onetimenotice', schema=None) as batch_op:
        batch_op.alter_column('staff_name', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('onetimenotice', schema=None) as batch_op:
        batch_op.drop_column('staff_name')
    with op.batch_alter_table('case', schema=None) as batch_op:
        for column in ('duplicate_reason', 'duplicate_of', 'staff_name'):
            batch_op.drop_column(column)
