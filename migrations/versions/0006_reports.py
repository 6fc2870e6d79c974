"""reports: search_gap (searches that found nothing, in aggregate) and the referral indexes by period

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 08:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('search_gap',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('need', sa.String(length=64), nullable=False),
    sa.Column('domain', sa.String(length=64), nullable=False),
    sa.Column('zip3', sa.String(length=3), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['network_organization.id'],
                            name=op.f('fk_search_gap_organization_id_network_organization')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_search_gap')),
    sa.UniqueConstraint('day', 'organization_id', 'need', 'domain', 'zip3', name=op.f('uq_search_gap_day'))
    )
    with op.batch_alter_table('search_gap', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_search_gap_day'), ['day'], unique=False)
    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.create_index('ix_referral_requested_at', ['requested_at'], unique=False)
        batch_op.create_index('ix_referral_sending_organization_id_requested_at',
                              ['sending_organization_id', 'requested_at'], unique=False)
        batch_op.create_index('ix_referral_receiving_organization_id_requested_at',
                              ['receiving_organization_id', 'requested_at'], unique=False)


def downgrade():
    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.drop_index('ix_referral_receiving_organization_id_requested_at')
        batch_op.drop_index('ix_referral_sending_organization_id_requested_at')
        batch_op.drop_index('ix_referral_requested_at')
    with op.batch_alter_table('search_gap', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_search_gap_day'))
    op.drop_table('search_gap')
