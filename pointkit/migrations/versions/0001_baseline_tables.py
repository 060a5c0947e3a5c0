"""The point's schema as the previous release (4315ee0) made it: the baseline of every later revision.

An unversioned point database (one made before migrations) is stamped here by ``upgrade``; an empty one
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
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('subject', sa.String(length=64), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('entry_hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('auditentry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_auditentry_action'), ['action'], unique=False)

    op.create_table('audithead',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('last_id', sa.Integer(), nullable=False),
    sa.Column('last_hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('case',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('receipt_no', sa.String(length=40), nullable=False),
    sa.Column('item_code', sa.String(length=64), nullable=False),
    sa.Column('item_name', sa.String(length=128), nullable=False),
    sa.Column('applicant_name', sa.String(length=64), nullable=False),
    sa.Column('id_number', sa.String(length=18), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('form_json', sa.Text(), nullable=False),
    sa.Column('materials_json', sa.Text(), nullable=False),
    sa.Column('pickup_code_hash', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('hub_status', sa.String(length=64), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('promised_date', sa.Date(), nullable=True),
    sa.Column('decision', sa.String(length=16), nullable=False),
    sa.Column('result_document', sa.Text(), nullable=False),
    sa.Column('result_signature', sa.String(length=200), nullable=False),
    sa.Column('collected_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('staff', sa.String(length=64), nullable=False),
    sa.Column('collected_by', sa.String(length=64), nullable=False),
    sa.Column('pickup_failures', sa.Integer(), nullable=False),
    sa.Column('pickup_locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_item_code'), ['item_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_receipt_no'), ['receipt_no'], unique=True)
        batch_op.create_index(batch_op.f('ix_case_status'), ['status'], unique=False)

    op.create_table('catalogitem',
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name_zh', sa.String(length=128), nullable=False),
    sa.Column('item_json', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('code')
    )
    op.create_table('hubkey',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('generation', sa.Integer(), nullable=False),
    sa.Column('sign_public_key', sa.String(length=64), nullable=False),
    sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('sign_public_key')
    )
    op.create_table('inboxmessage',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('envelope_id', sa.String(length=36), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.String(length=36), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('error', sa.String(length=500), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('envelope_id')
    )
    op.create_table('outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('envelope_id', sa.String(length=36), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.String(length=36), nullable=False),
    sa.Column('envelope', sa.LargeBinary(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.String(length=500), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('acked_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('envelope_id'),
    sa.UniqueConstraint('seq')
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_state'), ['state'], unique=False)

    op.create_table('pointstate',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('point_id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('hub_url', sa.String(length=500), nullable=False),
    sa.Column('hub_sign_public_key', sa.String(length=64), nullable=False),
    sa.Column('hub_enc_public_key', sa.String(length=64), nullable=False),
    sa.Column('hub_fingerprint', sa.String(length=64), nullable=False),
    sa.Column('hub_recipients', sa.Text(), nullable=False),
    sa.Column('hub_generation', sa.Integer(), nullable=False),
    sa.Column('key_prefix', sa.String(length=32), nullable=False),
    sa.Column('pending_key_prefix', sa.String(length=32), nullable=False),
    sa.Column('pending_key_envelope_id', sa.String(length=36), nullable=False),
    sa.Column('revoked', sa.Boolean(), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('next_seq', sa.Integer(), nullable=False),
    sa.Column('pull_cursor', sa.Integer(), nullable=False),
    sa.Column('catalog_version', sa.Integer(), nullable=False),
    sa.Column('catalog_document', sa.Text(), nullable=False),
    sa.Column('catalog_signature', sa.String(length=200), nullable=False),
    sa.Column('catalog_checked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('clock_offset_ms', sa.Integer(), nullable=False),
    sa.Column('online', sa.Boolean(), nullable=False),
    sa.Column('last_sync_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=1000), nullable=False),
    sa.Column('enrolled_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('metered', sa.Boolean(), nullable=False),
    sa.Column('unmetered_hours', sa.String(length=16), nullable=False),
    sa.Column('max_photo_kb', sa.Integer(), nullable=False),
    sa.Column('scan_retention_days', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('relayenvelope',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('envelope_id', sa.String(length=36), nullable=False),
    sa.Column('village_id', sa.String(length=36), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('envelope', sa.LargeBinary(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('forwarded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('hub_status', sa.String(length=16), nullable=False),
    sa.Column('hub_reason', sa.String(length=200), nullable=False),
    sa.Column('hub_message', sa.String(length=500), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('envelope_id')
    )
    with op.batch_alter_table('relayenvelope', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_relayenvelope_hub_status'), ['hub_status'], unique=False)
        batch_op.create_index(batch_op.f('ix_relayenvelope_village_id'), ['village_id'], unique=False)

    op.create_table('relaymessage',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('village_id', sa.String(length=36), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('envelope', sa.LargeBinary(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('village_id', 'seq')
    )
    with op.batch_alter_table('relaymessage', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_relaymessage_village_id'), ['village_id'], unique=False)

    op.create_table('relaynonce',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('village_id', sa.String(length=36), nullable=False),
    sa.Column('nonce', sa.String(length=64), nullable=False),
    sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('village_id', 'nonce')
    )
    with op.batch_alter_table('relaynonce', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_relaynonce_seen_at'), ['seen_at'], unique=False)

    op.create_table('relayvillage',
    sa.Column('point_id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('sign_public_keys', sa.Text(), nullable=False),
    sa.Column('hub_cursor', sa.Integer(), nullable=False),
    sa.Column('delivered', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('point_id')
    )
    op.create_table('scanfile',
    sa.Column('scan_id', sa.String(length=36), nullable=False),
    sa.Column('case_id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('material', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sealed_size', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('hub_offset', sa.Integer(), nullable=False),
    sa.Column('original_size', sa.Integer(), nullable=False),
    sa.Column('original_key_b64', sa.String(length=44), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('removed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('scan_id')
    )
    with op.batch_alter_table('scanfile', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scanfile_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_scanfile_state'), ['state'], unique=False)

    op.create_table('staff',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('display_name', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('failed_logins', sa.Integer(), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_username'), ['username'], unique=True)

    op.create_table('apitoken',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('apitoken', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_apitoken_staff_id'), ['staff_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_apitoken_token_hash'), ['token_hash'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('apitoken', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_apitoken_token_hash'))
        batch_op.drop_index(batch_op.f('ix_apitoken_staff_id'))

    op.drop_table('apitoken')
    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_username'))

    op.drop_table('staff')
    with op.batch_alter_table('scanfile', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_scanfile_state'))
        batch_op.drop_index(batch_op.f('ix_scanfile_case_id'))

    op.drop_table('scanfile')
    op.drop_table('relayvillage')
    with op.batch_alter_table('relaynonce', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_relaynonce_seen_at'))

    op.drop_table('relaynonce')
    with op.batch_alter_table('relaymessage', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_relaymessage_village_id'))

    op.drop_table('relaymessage')
    with op.batch_alter_table('relayenvelope', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_relayenvelope_village_id'))
        batch_op.drop_index(batch_op.f('ix_relayenvelope_hub_status'))

    op.drop_table('relayenvelope')
    op.drop_table('pointstate')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_state'))
        batch_op.drop_index(batch_op.f('ix_outbox_case_id'))

    op.drop_table('outbox')
    op.drop_table('inboxmessage')
    op.drop_table('hubkey')
    op.drop_table('catalogitem')
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_status'))
        batch_op.drop_index(batch_op.f('ix_case_receipt_no'))
        batch_op.drop_index(batch_op.f('ix_case_item_code'))

    op.drop_table('case')
    op.drop_table('audithead')
    with op.batch_alter_table('auditentry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_auditentry_action'))

    op.drop_table('auditentry')
