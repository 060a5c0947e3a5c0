"""Conflicts, held messages, case revisions, ratings and 补正 rounds; case versions, resident keys, legal due dates
and paused days; point clocks and protocols; result fields; disabled staff (all since the previous release, 4315ee0).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 21:33:18.147925
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('conflict',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('point_id', sa.Uuid(), nullable=False),
    sa.Column('other_point_id', sa.Uuid(), nullable=True),
    sa.Column('case_id', sa.String(length=36), nullable=True),
    sa.Column('other_case_id', sa.String(length=36), nullable=True),
    sa.Column('envelope_id', sa.String(length=36), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('left', sa.JSON(), nullable=False),
    sa.Column('right', sa.JSON(), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_by', sa.String(length=64), nullable=False),
    sa.Column('resolution', sa.String(length=24), nullable=False),
    sa.Column('resolution_note', sa.String(length=2000), nullable=False),
    sa.ForeignKeyConstraint(['other_point_id'], ['point.id'], ),
    sa.ForeignKeyConstraint(['point_id'], ['point.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('conflict', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_conflict_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_conflict_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_conflict_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_conflict_other_case_id'), ['other_case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_conflict_point_id'), ['point_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_conflict_status'), ['status'], unique=False)

    op.create_table('heldmessage',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('point_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.String(length=36), nullable=True),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['point_id'], ['point.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('heldmessage', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_heldmessage_point_id'), ['point_id'], unique=False)

    op.create_table('caserevision',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('case_id', sa.String(length=36), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('point_id', sa.Uuid(), nullable=True),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['case.id'], ),
    sa.ForeignKeyConstraint(['point_id'], ['point.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('caserevision', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_caserevision_case_id'), ['case_id'], unique=False)

    op.create_table('rating',
    sa.Column('case_id', sa.String(length=36), nullable=False),
    sa.Column('point_id', sa.Uuid(), nullable=False),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('comment', sa.String(length=500), nullable=False),
    sa.Column('rated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('follow_up', sa.String(length=16), nullable=False),
    sa.Column('follow_up_note', sa.String(length=2000), nullable=False),
    sa.Column('followed_up_by', sa.String(length=64), nullable=False),
    sa.Column('followed_up_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['case.id'], ),
    sa.ForeignKeyConstraint(['point_id'], ['point.id'], ),
    sa.PrimaryKeyConstraint('case_id')
    )
    with op.batch_alter_table('rating', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rating_point_id'), ['point_id'], unique=False)

    op.create_table('supplementround',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('case_id', sa.String(length=36), nullable=False),
    sa.Column('department_code', sa.String(length=32), nullable=False),
    sa.Column('materials', sa.JSON(), nullable=False),
    sa.Column('note', sa.String(length=2000), nullable=False),
    sa.Column('requested_by', sa.String(length=64), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('supplemented_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('supplement_note', sa.String(length=2000), nullable=False),
    sa.Column('paused_days', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['case.id'], ),
    sa.ForeignKeyConstraint(['department_code'], ['department.code'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('supplementround', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_supplementround_case_id'), ['case_id'], unique=False)

    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.add_column(sa.Column('version', sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column('resident_key', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('merged_into', sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column('legal_due_date', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('clock_offset_ms', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('paused_days', sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column('paused_since', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_case_resident_key'), ['resident_key'], unique=False)

    with op.batch_alter_table('point', schema=None) as batch_op:
        batch_op.add_column(sa.Column('clock_offset_ms', sa.BigInteger(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column('protocol', sa.Integer(), nullable=False, server_default="1"))

    with op.batch_alter_table('rawenvelope', schema=None) as batch_op:
        batch_op.alter_column('sender_clock_ms',
               existing_type=sa.INTEGER(),
               type_=sa.BigInteger(),
               existing_nullable=False)

    with op.batch_alter_table('reviewtask', schema=None) as batch_op:
        batch_op.add_column(sa.Column('result_fields', sa.JSON(), nullable=True))

    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.add_column(sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True))

    _fill_resident_keys()
    for table, columns in (("case", ("version", "paused_days")), ("point", ("clock_offset_ms", "protocol"))):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in columns:
                batch_op.alter_column(column, server_default=None)


def _fill_resident_keys() -> None:
    """hub.reconcile.arrival.resident_key as of this revision (a migration must not change when that code does)."""
    case = sa.table("case", sa.column("id", sa.String), sa.column("applicant", sa.JSON),
                    sa.column("resident_key", sa.String))
    connection = op.get_bind()
    for case_id, applicant in connection.execute(sa.select(case.c.id, case.c.applicant)).all():
        id_number = str((applicant or {}).get("id_number", ""))
        key = hashlib.sha256(b"pointkit resident\0" + id_number.strip().upper().encode("ascii", "replace")).hexdigest()
        connection.execute(sa.update(case).where(case.c.id == case_id).values(resident_key=key))


def downgrade() -> None:
    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.drop_column('disabled_at')

    with op.batch_alter_table('reviewtask', schema=None) as batch_op:
        batch_op.drop_column('result_fields')

    with op.batch_alter_table('rawenvelope', schema=None) as batch_op:
        batch_op.alter_column('sender_clock_ms',
               existing_type=sa.BigInteger(),
               type_=sa.INTEGER(),
               existing_nullable=False)

    with op.batch_alter_table('point', schema=None) as batch_op:
        batch_op.drop_column('protocol')
        batch_op.drop_column('clock_offset_ms')

    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_resident_key'))
        batch_op.drop_column('paused_since')
        batch_op.drop_column('paused_days')
        batch_op.drop_column('clock_offset_ms')
        batch_op.drop_column('legal_due_date')
        batch_op.drop_column('merged_into')
        batch_op.drop_column('resident_key')
        batch_op.drop_column('version')

    with op.batch_alter_table('supplementround', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_supplementround_case_id'))

    op.drop_table('supplementround')
    with op.batch_alter_table('rating', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rating_point_id'))

    op.drop_table('rating')
    with op.batch_alter_table('caserevision', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_caserevision_case_id'))

    op.drop_table('caserevision')
    with op.batch_alter_table('heldmessage', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_heldmessage_point_id'))

    op.drop_table('heldmessage')
    with op.batch_alter_table('conflict', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_conflict_status'))
        batch_op.drop_index(batch_op.f('ix_conflict_point_id'))
        batch_op.drop_index(batch_op.f('ix_conflict_other_case_id'))
        batch_op.drop_index(batch_op.f('ix_conflict_kind'))
        batch_op.drop_index(batch_op.f('ix_conflict_created_at'))
        batch_op.drop_index(batch_op.f('ix_conflict_case_id'))

    op.drop_table('conflict')
