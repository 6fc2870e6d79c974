"""search change table and database generation: the Whoosh index follows changes outside the request

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 12:15:00

"""
import uuid
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa

import referralnet.db


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('search_change',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('service_id', sa.String(length=250), nullable=True),
    sa.Column('changed_at', referralnet.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_search_change')),
    sqlite_autoincrement=True,
    )
    with op.batch_alter_table('search_change', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_search_change_changed_at'), ['changed_at'], unique=False)
    state = op.create_table('search_state',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('generation', sa.String(length=32), nullable=False),
    sa.Column('created_at', referralnet.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_search_state'))
    )
    # A new database generation: every existing index was built from "some" database, this one is
    # told apart from any other (and each index rebuilds once, which also catches it up).
    op.bulk_insert(state, [{"id": 1, "generation": uuid.uuid4().hex, "created_at": datetime.now(timezone.utc)}])


def downgrade():
    op.drop_table('search_state')
    with op.batch_alter_table('search_change', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_search_change_changed_at'))
    op.drop_table('search_change')
