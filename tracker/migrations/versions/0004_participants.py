"""participants of a case, and a version for each case

Revision ID: 0004
Revises: 0003

"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import tracker.model


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('participants',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('address', sa.String(length=320), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('raw_id', sa.Integer(), nullable=True),
    sa.Column('added_at', tracker.model.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_participants_case_id_cases')),
    sa.ForeignKeyConstraint(['raw_id'], ['raw_mail.id'], name=op.f('fk_participants_raw_id_raw_mail')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_participants')),
    sa.UniqueConstraint('case_id', 'address', name='uq_participants_case_id_address')
    )
    with op.batch_alter_table('participants', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_participants_case_id'), ['case_id'], unique=False)
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('version', sa.Integer(), server_default='0', nullable=False))
    # Cases opened before this revision: their raiser is a participant.
    op.execute(
        "INSERT INTO participants (case_id, address, role, raw_id, added_at) "
        "SELECT id, raised_by, 'raiser', NULL, opened_at FROM cases"
    )


def downgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('version')
    with op.batch_alter_table('participants', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_participants_case_id'))
    op.drop_table('participants')
