"""The hub's schema as the previous release (4315ee0) made it: the baseline of every later revision.

An unversioned hub database (one made before migrations) is stamped here by ``upgrade``; an empty one
built by running every revision starts here. Generated from that release's own models, not edited.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('auditentry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('subject', sa.String(length=128), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('entry_hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('entry_hash')
    )
    with op.batch_alter_table('auditentry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_auditentry_action'), ['action'], unique=False)
        batch_op.create_index(batch_op.f('ix_auditentry_subject'), ['subject'], unique=False)

    op.create_table('catalogversion',
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('signed', sa.JSON(), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('version')
    )
    op.create_table('department',
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name_zh', sa.String(length=64), nullable=False),
    sa.Column('name_en', sa.String(length=128), nullable=False),
    sa.PrimaryKeyConstraint('code')
    )
    op.create_table('enrollmenttoken',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('point_name', sa.String(length=128), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('enrollmenttoken', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enrollmenttoken_token_hash'), ['token_hash'], unique=True)

    op.create_table('hubkey',
    sa.Column('generation', sa.Integer(), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('suites', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('purged_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('generation')
    )
    op.create_table('point',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('sign_public_key', sa.String(length=64), nullable=False),
    sa.Column('enc_public_key', sa.String(length=64), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('enrolled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_contact', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('relay_id', sa.Uuid(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('point', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_point_name'), ['name'], unique=True)
        batch_op.create_index(batch_op.f('ix_point_relay_id'), ['relay_id'], unique=False)

    op.create_table('case',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('point_id', sa.Uuid(), nullable=False),
    sa.Column('receipt_no', sa.String(length=40), nullable=False),
    sa.Column('item_code', sa.String(length=64), nullable=False),
    sa.Column('item_name', sa.String(length=128), nullable=False),
    sa.Column('catalog_version', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('applicant', sa.JSON(), nullable=False),
    sa.Column('form', sa.JSON(), nullable=False),
    sa.Column('materials', sa.JSON(), nullable=False),
    sa.Column('staff', sa.String(length=64), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('hub_received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('promised_date', sa.Date(), nullable=True),
    sa.Column('due_date', sa.Date(), nullable=True),
    sa.Column('decision', sa.String(length=16), nullable=True),
    sa.Column('reason', sa.String(length=4000), nullable=False),
    sa.Column('certificate_no', sa.String(length=64), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['point_id'], ['point.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_point_id'), ['point_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_receipt_no'), ['receipt_no'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_status'), ['status'], unique=False)

    op.create_table('catalogitem',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('name_zh', sa.String(length=128), nullable=False),
    sa.Column('name_en', sa.String(length=200), nullable=False),
    sa.Column('route', sa.String(length=16), nullable=False),
    sa.Column('promised_days', sa.Integer(), nullable=False),
    sa.Column('item', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['version'], ['catalogversion.version'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code', 'version')
    )
    with op.batch_alter_table('catalogitem', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_catalogitem_code'), ['code'], unique=False)

    op.create_table('outmessage',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('point_id', sa.Uuid(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.String(length=36), nullable=True),
    sa.Column('envelope', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['point_id'], ['point.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('point_id', 'seq')
    )
    with op.batch_alter_table('outmessage', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outmessage_point_id'), ['point_id'], unique=False)

    op.create_table('pointkey',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('point_id', sa.Uuid(), nullable=False),
    sa.Column('sign_public_key', sa.String(length=64), nullable=False),
    sa.Column('enc_public_key', sa.String(length=64), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['point_id'], ['point.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('pointkey', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pointkey_point_id'), ['point_id'], unique=False)

    op.create_table('rawenvelope',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('envelope_id', sa.String(length=36), nullable=False),
    sa.Column('point_id', sa.Uuid(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Integer(), nullable=False),
    sa.Column('header', sa.LargeBinary(), nullable=False),
    sa.Column('ciphertext', sa.LargeBinary(), nullable=False),
    sa.Column('signature', sa.LargeBinary(), nullable=False),
    sa.Column('sender_clock_ms', sa.Integer(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=64), nullable=False),
    sa.Column('case_id', sa.String(length=36), nullable=True),
    sa.ForeignKeyConstraint(['point_id'], ['point.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('rawenvelope', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rawenvelope_envelope_id'), ['envelope_id'], unique=True)
        batch_op.create_index(batch_op.f('ix_rawenvelope_point_id'), ['point_id'], unique=False)
        batch_op.create_index('ux_rawenvelope_point_seq', ['point_id', 'seq'], unique=True, sqlite_where=sa.text("outcome != 'conflict'"), postgresql_where=sa.text("outcome != 'conflict'"))

    op.create_table('seennonce',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('point_id', sa.Uuid(), nullable=False),
    sa.Column('nonce', sa.String(length=64), nullable=False),
    sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['point_id'], ['point.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('point_id', 'nonce')
    )
    with op.batch_alter_table('seennonce', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_seennonce_point_id'), ['point_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_seennonce_seen_at'), ['seen_at'], unique=False)

    op.create_table('staff',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('department_code', sa.String(length=32), nullable=True),
    sa.Column('display_name', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('failed_logins', sa.Integer(), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['department_code'], ['department.code'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_username'), ['username'], unique=True)

    op.create_table('apitoken',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('staff_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('apitoken', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_apitoken_staff_id'), ['staff_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_apitoken_token_hash'), ['token_hash'], unique=True)

    op.create_table('caseevent',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('case_id', sa.String(length=36), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('note', sa.String(length=2000), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['case.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('caseevent', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_caseevent_case_id'), ['case_id'], unique=False)

    op.create_table('casescan',
    sa.Column('scan_id', sa.String(length=36), nullable=False),
    sa.Column('case_id', sa.String(length=36), nullable=False),
    sa.Column('point_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('material', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('key_b64', sa.String(length=44), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('received', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('problem', sa.String(length=500), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['case.id'], ),
    sa.ForeignKeyConstraint(['point_id'], ['point.id'], ),
    sa.PrimaryKeyConstraint('scan_id')
    )
    with op.batch_alter_table('casescan', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_casescan_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_casescan_point_id'), ['point_id'], unique=False)

    op.create_table('reviewtask',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('case_id', sa.String(length=36), nullable=False),
    sa.Column('department_code', sa.String(length=32), nullable=False),
    sa.Column('stage', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('decided_by', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.String(length=2000), nullable=False),
    sa.Column('certificate_no', sa.String(length=64), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['case.id'], ),
    sa.ForeignKeyConstraint(['department_code'], ['department.code'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('reviewtask', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reviewtask_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_reviewtask_department_code'), ['department_code'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('reviewtask', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reviewtask_department_code'))
        batch_op.drop_index(batch_op.f('ix_reviewtask_case_id'))

    op.drop_table('reviewtask')
    with op.batch_alter_table('casescan', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_casescan_point_id'))
        batch_op.drop_index(batch_op.f('ix_casescan_case_id'))

    op.drop_table('casescan')
    with op.batch_alter_table('caseevent', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_caseevent_case_id'))

    op.drop_table('caseevent')
    with op.batch_alter_table('apitoken', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_apitoken_token_hash'))
        batch_op.drop_index(batch_op.f('ix_apitoken_staff_id'))

    op.drop_table('apitoken')
    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_username'))

    op.drop_table('staff')
    with op.batch_alter_table('seennonce', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_seennonce_seen_at'))
        batch_op.drop_index(batch_op.f('ix_seennonce_point_id'))

    op.drop_table('seennonce')
    with op.batch_alter_table('rawenvelope', schema=None) as batch_op:
        batch_op.drop_index('ux_rawenvelope_point_seq', sqlite_where=sa.text("outcome != 'conflict'"), postgresql_where=sa.text("outcome != 'conflict'"))
        batch_op.drop_index(batch_op.f('ix_rawenvelope_point_id'))
        batch_op.drop_index(batch_op.f('ix_rawenvelope_envelope_id'))

    op.drop_table('rawenvelope')
    with op.batch_alter_table('pointkey', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pointkey_point_id'))

    op.drop_table('pointkey')
    with op.batch_alter_table('outmessage', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outmessage_point_id'))

    op.drop_table('outmessage')
    with op.batch_alter_table('catalogitem', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_catalogitem_code'))

    op.drop_table('catalogitem')
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_status'))
        batch_op.drop_index(batch_op.f('ix_case_receipt_no'))
        batch_op.drop_index(batch_op.f('ix_case_point_id'))

    op.drop_table('case')
    with op.batch_alter_table('point', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_point_relay_id'))
        batch_op.drop_index(batch_op.f('ix_point_name'))

    op.drop_table('point')
    op.drop_table('hubkey')
    with op.batch_alter_table('enrollmenttoken', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enrollmenttoken_token_hash'))

    op.drop_table('enrollmenttoken')
    op.drop_table('department')
    op.drop_table('catalogversion')
    with op.batch_alter_table('auditentry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_auditentry_subject'))
        batch_op.drop_index(batch_op.f('ix_auditentry_action'))

    op.drop_table('auditentry')
