"""complaints taken at the window

``complaint``: a complaint (投诉) taken at this window, sealed to the hub as COMPLAINT, with the hub's answer as it
came back (COMPLAINT_ANSWER) and the kiosk's own lock on its code. A new table: no rows to fill.

Revision ID: 0014
Revises: 0013 (the lead chains it after 0013 at merge)
Create Date: 2026-12-04 21:31:14
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('complaint',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('complaint_no', sa.String(length=40), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('category', sa.String(length=16), nullable=False),
    sa.Column('subject', sa.String(length=16), nullable=False),
    sa.Column('about_case_id', sa.String(length=36), nullable=False),
    sa.Column('about_receipt_no', sa.String(length=40), nullable=False),
    sa.Column('department_code', sa.String(length=32), nullable=False),
    sa.Column('about_name', sa.String(length=128), nullable=False),
    sa.Column('anonymous', sa.Boolean(), nullable=False),
    sa.Column('contact_name', sa.String(length=64), nullable=False),
    sa.Column('contact_phone', sa.String(length=20), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('code_hash', sa.String(length=200), nullable=False),
    sa.Column('staff', sa.String(length=64), nullable=False),
    sa.Column('staff_name', sa.String(length=64), nullable=False),
    sa.Column('taken_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('hub_status', sa.String(length=16), nullable=False),
    sa.Column('department_name', sa.String(length=64), nullable=False),
    sa.Column('reply_due', sa.Date(), nullable=True),
    sa.Column('reply', sa.Text(), nullable=False),
    sa.Column('result', sa.Text(), nullable=False),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('kiosk_failures', sa.Integer(), nullable=False),
    sa.Column('kiosk_locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('complaint', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_complaint_complaint_no'), ['complaint_no'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('complaint', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_complaint_complaint_no'))

    op.drop_table('complaint')
