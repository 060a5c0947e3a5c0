"""Since the previous release: intake drafts, one-time notices, relayed scans, amendments, 补正 and ratings.

Hand-checked after autogenerate: the new NOT NULL columns of existing cases and catalog items take a server
default (an old case was last heard of at hub version 1, has no note, no supplement request and no rating), and
the defaults go again afterwards, so an upgraded database equals one made new. Catalog items get their search
keys on the first search (pointkit/itemsearch.py), as rows from any older catalog do.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 21:33:14.431429
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('intakedraft',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('item_code', sa.String(length=64), nullable=False),
    sa.Column('applicant_name', sa.String(length=64), nullable=False),
    sa.Column('values_json', sa.Text(), nullable=False),
    sa.Column('staff', sa.String(length=64), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('onetimenotice',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('notice_no', sa.String(length=40), nullable=False),
    sa.Column('item_code', sa.String(length=64), nullable=False),
    sa.Column('item_name', sa.String(length=128), nullable=False),
    sa.Column('applicant_name', sa.String(length=64), nullable=False),
    sa.Column('id_number', sa.String(length=18), nullable=False),
    sa.Column('missing_json', sa.Text(), nullable=False),
    sa.Column('staff', sa.String(length=64), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('onetimenotice', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_onetimenotice_notice_no'), ['notice_no'], unique=True)

    op.create_table('relayscan',
    sa.Column('scan_id', sa.String(length=36), nullable=False),
    sa.Column('village_id', sa.String(length=36), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('received', sa.Integer(), nullable=False),
    sa.Column('grant', sa.Text(), nullable=False),
    sa.Column('sealed_sha256', sa.String(length=64), nullable=False),
    sa.Column('hub_offset', sa.Integer(), nullable=False),
    sa.Column('hub_status', sa.String(length=16), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('forwarded_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('scan_id')
    )
    with op.batch_alter_table('relayscan', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_relayscan_hub_status'), ['hub_status'], unique=False)
        batch_op.create_index(batch_op.f('ix_relayscan_village_id'), ['village_id'], unique=False)

    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hub_version', sa.Integer(), nullable=False, server_default='1'))
        batch_op.add_column(sa.Column('hub_note', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('supplement_json', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('rating', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('rating_comment', sa.String(length=500), nullable=False, server_default=''))

    with op.batch_alter_table('catalogitem', schema=None) as batch_op:
        batch_op.add_column(sa.Column('search_text', sa.Text(), nullable=False, server_default=''))

    for table, columns in (("case", ("hub_version", "hub_note", "supplement_json", "rating", "rating_comment")),
                           ("catalogitem", ("search_text",))):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in columns:
                batch_op.alter_column(column, server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('catalogitem', schema=None) as batch_op:
        batch_op.drop_column('search_text')

    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.drop_column('rating_comment')
        batch_op.drop_column('rating')
        batch_op.drop_column('supplement_json')
        batch_op.drop_column('hub_note')
        batch_op.drop_column('hub_version')

    with op.batch_alter_table('relayscan', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_relayscan_village_id'))
        batch_op.drop_index(batch_op.f('ix_relayscan_hub_status'))

    op.drop_table('relayscan')
    with op.batch_alter_table('onetimenotice', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_onetimenotice_notice_no'))

    op.drop_table('onetimenotice')
    op.drop_table('intakedraft')
