"""report speed: the verified outcome on each referral (a report flag), the agency comparison's index, and
PostgreSQL's covering indexes for the reports

`referral.verified_outcome` is its closure's verified outcome (kept equal by referrals.models), and
report_flags gets one bit per verified outcome (referrals.timing.FLAGS): the reports count verified
outcomes in their one pass over the report index instead of joining closure (~100 ms at 100,000 referrals).
The index on (receiving agency, status) becomes (receiving agency, status, flags, sent_day, the filters,
response_due_at): it still serves an agency's inbox, and the agency comparison groups every agency's
referrals of a period in its order without sorting (SQLite: 130 -> 30 ms). On PostgreSQL, the client ZIP
code index (SQLite only until now) and a covering index of the durations let the unmet-distance table and
the percentiles read an index instead of the whole table. An index on the events' kind and report code
finds the patients' reports without reading every event (~20 ms at 100,000 referrals).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01 19:30:00

"""
from alembic import op
import sqlalchemy as sa

from referralnet.referrals import timing


# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

VERIFIED_OUTCOMES = ('got-help', 'partly', 'did-not-get-help', 'could-not-reach')
AGENCY_INDEX_COLUMNS = ['receiving_organization_id', 'status', 'report_flags', 'sent_day', 'category', 'priority',
                        'sending_organization_id', 'delivery_route', 'response_due_at']
ZIP_INDEX_COLUMNS = ['category', 'client_zip_code', 'sent_day', 'status', 'priority', 'sending_organization_id',
                     'receiving_organization_id', 'delivery_route']
DURATIONS = ['seconds_to_view', 'business_seconds_to_view', 'seconds_to_answer', 'business_seconds_to_answer',
             'seconds_to_close']
FILTERS = ['category', 'priority', 'sending_organization_id', 'receiving_organization_id', 'delivery_route']


def _postgres() -> bool:
    return op.get_bind().dialect.name == 'postgresql'


def upgrade():
    allowed = ', '.join(f"'{code}'" for code in VERIFIED_OUTCOMES)
    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.add_column(sa.Column('verified_outcome', sa.String(length=20), nullable=True))
        batch_op.create_check_constraint(op.f('ck_referral_verified_outcome'),
                                         f'verified_outcome IS NULL OR verified_outcome IN ({allowed})')
        batch_op.drop_index('ix_referral_receiving_organization_id_status')
    op.execute('UPDATE referral SET verified_outcome = (SELECT closure.verified_outcome FROM closure '
               'WHERE closure.referral_id = referral.id)')
    timing.reflag(op.get_bind())
    op.create_index('ix_referral_report_agency', 'referral', AGENCY_INDEX_COLUMNS, unique=False)
    op.create_index('ix_referral_event_kind_report_code', 'referral_event', ['kind', 'report_code', 'referral_id'],
                    unique=False)
    if _postgres():
        op.create_index('ix_referral_report_client_zip_code', 'referral', ZIP_INDEX_COLUMNS, unique=False)
        op.create_index('ix_referral_report_durations', 'referral', ['sent_day', 'status'], unique=False,
                        postgresql_include=DURATIONS + FILTERS)


def downgrade():
    if _postgres():
        op.drop_index('ix_referral_report_durations', table_name='referral')
        op.drop_index('ix_referral_report_client_zip_code', table_name='referral')
    op.drop_index('ix_referral_event_kind_report_code', table_name='referral_event')
    op.drop_index('ix_referral_report_agency', table_name='referral')
    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.create_index('ix_referral_receiving_organization_id_status',
                              ['receiving_organization_id', 'status'], unique=False)
        batch_op.drop_constraint(op.f('ck_referral_verified_outcome'), type_='check')
        batch_op.drop_column('verified_outcome')
    timing.reflag(op.get_bind(), timing.FLAGS_0015)
