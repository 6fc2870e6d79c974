"""report speed: each referral's local sending day, report flags and client ZIP code, and the reports' indexes

`referral.sent_day` is the local date the referral was sent (days since 1970-01-01, in the network's
time zone), and `referral.report_flags` (one bit per fact the reports count: referrals.timing.FLAGS) are
written with the stored durations (referrals.timing) and backfilled here by the same recount. The index on (sent_day, status,
category, reason, flags, the filter columns, response_due_at) lets one ordered pass over it count a
period's referrals for every count table of a report, without sorting and without the table. On SQLite,
an index per duration serves the percentiles (PostgreSQL computes them with percentile_disc).
`referral.client_zip_code` is the client's ZIP code (kept equal by the ORM events of
referrals.models), so the unmet-distance table counts referrals by it without a join.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 16:00:00

"""
from alembic import op
import sqlalchemy as sa

from referralnet.referrals import timing


# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

REPORT_INDEX = 'ix_referral_report'
REPORT_INDEX_COLUMNS = ['sent_day', 'status', 'category', 'status_reason_code', 'report_flags', 'priority',
                        'sending_organization_id', 'receiving_organization_id', 'delivery_route', 'response_due_at']
# SQLite only (PostgreSQL has percentile_disc): each duration the reports read percentiles of, in order, with
# the period and the filters (reports.sql.duration_percentiles).
DURATIONS = ['seconds_to_view', 'business_seconds_to_view', 'seconds_to_answer', 'business_seconds_to_answer',
             'seconds_to_close']
DURATION_INDEX_COLUMNS = ['sent_day', 'status', 'category', 'priority', 'sending_organization_id',
                          'receiving_organization_id', 'delivery_route']
ZIP_INDEX_COLUMNS = ['category', 'client_zip_code', 'sent_day', 'status', 'priority', 'sending_organization_id',
                     'receiving_organization_id', 'delivery_route']


def upgrade():
    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sent_day', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('report_flags', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('client_zip_code', sa.String(length=10), nullable=True))
    timing.recount(op.get_bind(), flag_names=timing.FLAGS_0015)  # the verified outcomes' come with 0017
    op.execute('UPDATE referral SET client_zip_code = (SELECT client.zip_code FROM client '
               'WHERE client.id = referral.client_id)')
    op.create_index(REPORT_INDEX, 'referral', REPORT_INDEX_COLUMNS, unique=False)
    if op.get_bind().dialect.name == 'sqlite':
        for column in DURATIONS:
            op.create_index(f'{REPORT_INDEX}_{column}', 'referral', [column, *DURATION_INDEX_COLUMNS], unique=False)
        op.create_index(f'{REPORT_INDEX}_client_zip_code', 'referral', ZIP_INDEX_COLUMNS, unique=False)


def downgrade():
    if op.get_bind().dialect.name == 'sqlite':
        for column in DURATIONS:
            op.drop_index(f'{REPORT_INDEX}_{column}', table_name='referral')
        op.drop_index(f'{REPORT_INDEX}_client_zip_code', table_name='referral')
    op.drop_index(REPORT_INDEX, table_name='referral')
    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.drop_column('client_zip_code')
        batch_op.drop_column('report_flags')
        batch_op.drop_column('sent_day')
