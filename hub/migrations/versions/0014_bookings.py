"""appointments (预约)

``pointbookingplan``: what each point last published of its booking ledger (plan, residents per slot);
``booking``: bookings asked for on the hub's site and those the points report. New tables: no rows to fill.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 04:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('booking',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('booking_no', sa.String(length=40), nullable=False),
    sa.Column('point_id', sa.Uuid(), nullable=False),
    sa.Column('slot', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('origin', sa.String(length=8), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('precheck_no', sa.String(length=40), nullable=False),
    sa.Column('code_hash', sa.String(length=200), nullable=False),
    sa.Column('pending_request_id', sa.String(length=36), nullable=False),
    sa.Column('pending_action', sa.String(length=8), nullable=False),
    sa.Column('pending_slot', sa.String(length=16), nullable=False),
    sa.Column('refusal', sa.String(length=16), nullable=False),
    sa.Column('wanted_slot', sa.String(length=16), nullable=False),
    sa.Column('alternatives', sa.JSON(), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('point_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lookup_failures', sa.Integer(), nullable=False),
    sa.Column('lookup_locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['point_id'], ['point.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('booking', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_booking_booking_no'), ['booking_no'], unique=True)
        batch_op.create_index(batch_op.f('ix_booking_point_id'), ['point_id'], unique=False)

    op.create_table('pointbookingplan',
    sa.Column('point_id', sa.Uuid(), nullable=False),
    sa.Column('periods', sa.JSON(), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('days_ahead', sa.Integer(), nullable=False),
    sa.Column('taken', sa.JSON(), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['point_id'], ['point.id'], ),
    sa.PrimaryKeyConstraint('point_id')
    )


def downgrade() -> None:
    op.drop_table('pointbookingplan')
    with op.batch_alter_table('booking', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_booking_point_id'))
        batch_op.drop_index(batch_op.f('ix_booking_booking_no'))

    op.drop_table('booking')
