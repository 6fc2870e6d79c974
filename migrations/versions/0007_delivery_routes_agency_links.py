"""delivery routes: referrals to agencies outside the network (secure link, tracked), agency links,
join-the-network requests

Existing referrals were all sent in the network (the only route there was): they get
delivery_route 'network'.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 08:40:00.000000

"""
from alembic import op
import sqlalchemy as sa

import referralnet.db


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

OLD_KINDS = "kind IN ('status', 'viewed', 'message', 'closed', 'reminder', 'note', 'report')"
NEW_KINDS = "kind IN ('status', 'viewed', 'message', 'closed', 'reminder', 'note', 'report', 'agency-link')"


def upgrade():
    op.create_table('agency_link',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('referral_id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=True),
    sa.Column('token_salt', sa.String(length=32), nullable=True),
    sa.Column('issued_at', referralnet.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', referralnet.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', referralnet.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('issued_by_id', sa.Integer(), nullable=False),
    sa.Column('last_used_at', referralnet.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['issued_by_id'], ['user_account.id'], name=op.f('fk_agency_link_issued_by_id_user_account')),
    sa.ForeignKeyConstraint(['referral_id'], ['referral.id'], name=op.f('fk_agency_link_referral_id_referral')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agency_link')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_agency_link_token_hash'))
    )
    with op.batch_alter_table('agency_link', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_agency_link_referral_id'), ['referral_id'], unique=False)

    op.create_table('join_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('directory_organization_id', sa.String(length=250), nullable=False),
    sa.Column('agency_link_id', sa.Integer(), nullable=True),
    sa.Column('contact_name', sa.String(length=200), nullable=False),
    sa.Column('contact_email', sa.String(length=254), nullable=False),
    sa.Column('message', sa.Text(), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('created_at', referralnet.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('decided_at', referralnet.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('network_organization_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("state IN ('pending', 'approved', 'declined')", name=op.f('ck_join_request_state')),
    sa.CheckConstraint("(state = 'approved') = (network_organization_id IS NOT NULL)",
                       name=op.f('ck_join_request_approved_has_member')),
    sa.ForeignKeyConstraint(['agency_link_id'], ['agency_link.id'], name=op.f('fk_join_request_agency_link_id_agency_link')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['user_account.id'], name=op.f('fk_join_request_decided_by_id_user_account')),
    sa.ForeignKeyConstraint(['directory_organization_id'], ['organization.id'], name=op.f('fk_join_request_directory_organization_id_organization')),
    sa.ForeignKeyConstraint(['network_organization_id'], ['network_organization.id'], name=op.f('fk_join_request_network_organization_id_network_organization')),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_join_request_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_join_request'))
    )
    with op.batch_alter_table('join_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_join_request_directory_organization_id'), ['directory_organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_join_request_state'), ['state'], unique=False)

    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.add_column(sa.Column('delivery_route', sa.String(length=16), server_default='network', nullable=False))
        batch_op.add_column(sa.Column('agency_email', sa.String(length=254), nullable=True))
        batch_op.create_check_constraint(op.f('ck_referral_delivery_route'),
                                         "delivery_route IN ('network', 'link', 'tracked')")
        batch_op.create_check_constraint(op.f('ck_referral_agency_email_route'),
                                         "(delivery_route = 'link') = (agency_email IS NOT NULL)")

    with op.batch_alter_table('referral_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('agency_link_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('on_behalf_of', sa.String(length=16), nullable=True))
        batch_op.create_index(batch_op.f('ix_referral_event_agency_link_id'), ['agency_link_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_referral_event_agency_link_id_agency_link'), 'agency_link',
                                    ['agency_link_id'], ['id'])
        batch_op.drop_constraint(op.f('ck_referral_event_kind'), type_='check')
        batch_op.create_check_constraint(op.f('ck_referral_event_kind'), NEW_KINDS)
        batch_op.create_check_constraint(op.f('ck_referral_event_on_behalf_of'),
                                         "on_behalf_of IS NULL OR on_behalf_of IN ('agency', 'patient')")
        batch_op.create_check_constraint(op.f('ck_referral_event_one_actor'),
                                         "actor_id IS NULL OR agency_link_id IS NULL")

    with op.batch_alter_table('referral_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('agency_link_id', sa.Integer(), nullable=True))
        batch_op.alter_column('author_id', existing_type=sa.Integer(), nullable=True)
        batch_op.create_foreign_key(batch_op.f('fk_referral_message_agency_link_id_agency_link'), 'agency_link',
                                    ['agency_link_id'], ['id'])
        batch_op.create_check_constraint(op.f('ck_referral_message_one_author'),
                                         "(author_id IS NULL) <> (agency_link_id IS NULL)")


def downgrade():
    # What agencies wrote through their links has no user author: it cannot be kept in the old schema.
    op.execute("DELETE FROM referral_message WHERE author_id IS NULL")
    with op.batch_alter_table('referral_message', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_referral_message_one_author'), type_='check')
        batch_op.drop_constraint(op.f('fk_referral_message_agency_link_id_agency_link'), type_='foreignkey')
        batch_op.alter_column('author_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('agency_link_id')
    op.execute("DELETE FROM referral_event WHERE kind = 'agency-link'")
    with op.batch_alter_table('referral_event', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_referral_event_one_actor'), type_='check')
        batch_op.drop_constraint(op.f('ck_referral_event_on_behalf_of'), type_='check')
        batch_op.drop_constraint(op.f('ck_referral_event_kind'), type_='check')
        batch_op.create_check_constraint(op.f('ck_referral_event_kind'), OLD_KINDS)
        batch_op.drop_constraint(op.f('fk_referral_event_agency_link_id_agency_link'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_referral_event_agency_link_id'))
        batch_op.drop_column('on_behalf_of')
        batch_op.drop_column('agency_link_id')
    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_referral_agency_email_route'), type_='check')
        batch_op.drop_constraint(op.f('ck_referral_delivery_route'), type_='check')
        batch_op.drop_column('agency_email')
        batch_op.drop_column('delivery_route')
    with op.batch_alter_table('join_request', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_join_request_state'))
        batch_op.drop_index(batch_op.f('ix_join_request_directory_organization_id'))
    op.drop_table('join_request')
    with op.batch_alter_table('agency_link', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_agency_link_referral_id'))
    op.drop_table('agency_link')
