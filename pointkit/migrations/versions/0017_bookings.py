"""appointments (预约)

``bookingplan``: the point's opening periods, residents per half-hour and days ahead; ``booking``: its ledger of
booked half-hours (kiosk, phone, the hub's requests). New tables: no rows to fill.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 04:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('booking',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('booking_no', sa.String(length=40), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('start', sa.String(length=5), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('origin', sa.String(length=8), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('precheck_no', sa.String(length=40), nullable=False),
    sa.Column('code_hash', sa.String(length=200), nullable=False),
    sa.Column('staff', sa.String(length=64), nullable=False),
    sa.Column('refusal', sa.String(length=16), nullable=False),
    sa.Column('wanted_slot', sa.String(length=16), nullable=False),
    sa.Column('alternatives', sa.String(length=120), nullable=False),
    sa.Column('request_id', sa.String(length=36), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lookup_failures', sa.Integer(), nullable=False),
    sa.Column('lookup_locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('booking', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_booking_booking_no'), ['booking_no'], unique=True)
        batch_op.create_index(batch_op.f('ix_booking_day'), ['day'], unique=False)

    op.create_table('bookingplan',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('periods', sa.String(length=64), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('days_ahead', sa.Integer(), nullable=False),
    sa.Column('updated_by', sa.String(length=64), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )


def downgrade() -> None:
    op.drop_table('bookingplan')
    with op.batch_alter_table('booking', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_booking_day'))
        batch_op.drop_index(batch_op.f('ix_booking_booking_no'))

    op.drop_table('booking')
