"""pre-checks (网上预审)

``precheck``: the hub's copy of each pre-check a resident sent for this point (issue 22), to answer, to show at
the kiosk and to take into an intake.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 04:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('precheck',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('precheck_no', sa.String(length=24), nullable=False),
    sa.Column('item_code', sa.String(length=64), nullable=False),
    sa.Column('reviewer', sa.String(length=16), nullable=False),
    sa.Column('applicant_name', sa.String(length=64), nullable=False),
    sa.Column('id_number', sa.String(length=18), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('files_json', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('notes_json', sa.Text(), nullable=False),
    sa.Column('answered_by', sa.String(length=64), nullable=False),
    sa.Column('answered_at', sa.DateTime(), nullable=True),
    sa.Column('submitted_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('hub_at', sa.DateTime(), nullable=False),
    sa.Column('code_hash', sa.String(length=200), nullable=False),
    sa.Column('case_id', sa.String(length=36), nullable=False),
    sa.Column('kiosk_failures', sa.Integer(), nullable=False),
    sa.Column('kiosk_locked_until', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('precheck', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_precheck_precheck_no'), ['precheck_no'], unique=True)
        batch_op.create_index(batch_op.f('ix_precheck_status'), ['status'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('precheck', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_precheck_status'))
        batch_op.drop_index(batch_op.f('ix_precheck_precheck_no'))
    op.drop_table('precheck')
