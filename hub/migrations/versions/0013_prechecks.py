"""pre-checks (网上预审)

Residents' pre-checks (``precheck``) and the photos of their materials (``precheckphoto``), issue 22.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 04:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('precheck',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('precheck_no', sa.String(length=24), nullable=False),
    sa.Column('item_code', sa.String(length=64), nullable=False),
    sa.Column('item_name', sa.String(length=128), nullable=False),
    sa.Column('point_id', sa.Uuid(), nullable=False),
    sa.Column('reviewer', sa.String(length=16), nullable=False),
    sa.Column('department_code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('id_number', sa.String(length=18), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('id_key', sa.String(length=64), nullable=False),
    sa.Column('client_key', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('notes', sa.JSON(), nullable=False),
    sa.Column('answered_by', sa.String(length=64), nullable=False),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('case_id', sa.String(length=36), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('stored_bytes', sa.BigInteger(), nullable=False),
    sa.Column('code_hash', sa.String(length=200), nullable=False),
    sa.Column('lookup_failures', sa.Integer(), nullable=False),
    sa.Column('lookup_locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['point_id'], ['point.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('precheck', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_precheck_precheck_no'), ['precheck_no'], unique=True)
        batch_op.create_index(batch_op.f('ix_precheck_point_id'), ['point_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_precheck_id_key'), ['id_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_precheck_client_key'), ['client_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_precheck_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_precheck_created_at'), ['created_at'], unique=False)

    op.create_table('precheckphoto',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('precheck_id', sa.String(length=36), nullable=False),
    sa.Column('material', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('key_b64', sa.String(length=44), nullable=False),
    sa.Column('sealed_size', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['precheck_id'], ['precheck.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('precheckphoto', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_precheckphoto_precheck_id'), ['precheck_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('precheckphoto', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_precheckphoto_precheck_id'))
    op.drop_table('precheckphoto')
    with op.batch_alter_table('precheck', schema=None) as batch_op:
        for column in ('created_at', 'status', 'client_key', 'id_key', 'point_id', 'precheck_no'):
            batch_op.drop_index(batch_op.f(f'ix_precheck_{column}'))
    op.drop_table('precheck')
