"""per-point audit chains and signed county heads

``auditentry.chain`` and ``auditentry.seq``: each point's cases get their own chain, so ingest for different
points never waits on one lock; the entries so far are the hub's chain (``hub``), at the positions their ids
gave them (the ids ran 1, 2, 3, … without gaps, and each entry's hash covers that position). ``id`` is given by
the database from now on (on PostgreSQL its sequence moves past the ids taken). ``auditchain``: where each chain ends now. ``countyhead``: the signed
county heads, a Merkle root over every chain's head, linked in a chain of their own.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 07:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('countyhead',
    sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('heads', sa.JSON(), nullable=False),
    sa.Column('root', sa.String(length=64), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('entry_hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('seq'),
    sa.UniqueConstraint('entry_hash')
    )
    op.create_table('auditchain',
    sa.Column('chain', sa.String(length=64), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('entry_hash', sa.String(length=64), nullable=False),
    sa.Column('anchored_seq', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('chain')
    )
    with op.batch_alter_table('auditentry', schema=None) as batch_op:
        batch_op.add_column(sa.Column('chain', sa.String(length=64), nullable=False, server_default='hub'))
        batch_op.add_column(sa.Column('seq', sa.Integer(), nullable=True))
    op.execute("UPDATE auditentry SET seq = id")
    with op.batch_alter_table('auditentry', schema=None) as batch_op:
        batch_op.alter_column('seq', existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column('chain', existing_type=sa.String(length=64), server_default=None)
        batch_op.create_unique_constraint('uq_auditentry_chain_seq', ['chain', 'seq'])
    op.execute("INSERT INTO auditchain (chain, seq, entry_hash, anchored_seq) "
               "SELECT 'hub', id, entry_hash, 0 FROM auditentry WHERE id = (SELECT MAX(id) FROM auditentry)")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("SELECT setval(pg_get_serial_sequence('auditentry', 'id'), "
                   "COALESCE((SELECT MAX(id) FROM auditentry), 0) + 1, false)")


def downgrade() -> None:
    with op.batch_alter_table('auditentry', schema=None) as batch_op:
        batch_op.drop_constraint('uq_auditentry_chain_seq', type_='unique')
        batch_op.drop_column('seq')
        batch_op.drop_column('chain')
    op.drop_table('countyhead')
    op.drop_table('auditchain')
