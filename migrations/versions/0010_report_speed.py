"""report speed: each referral's durations (to the first view, the answer, the closed loop; calendar and
business seconds) stored on the referral, backfilled from its timestamps

The reports' medians and percentiles read these integer columns instead of working the durations
out from the timestamps on every report; an index on (receiving agency, seconds to answer, and every
column the reports filter by) serves the agency comparison's per-agency medians. The backfill (referrals.timing.recount) computes them with
the same function the live path uses, in the network's time zone (DEFAULT_TIMEZONE), in batches,
with Core statements that run on SQLite and PostgreSQL alike.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 12:10:00

"""
from alembic import op
import sqlalchemy as sa

from referralnet.referrals import timing


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

# The agency comparison's medians, read in order without the table (see reports.sql.grouped_medians).
COMPARISON_INDEX = 'ix_referral_receiving_organization_id_seconds_to_answer'
COMPARISON_COLUMNS = ['receiving_organization_id', 'seconds_to_answer', 'requested_at', 'status', 'category',
                      'priority', 'sending_organization_id', 'delivery_route']


def upgrade():
    with op.batch_alter_table('referral', schema=None) as batch_op:
        for column in timing.COLUMNS:
            batch_op.add_column(sa.Column(column, sa.Integer(), nullable=True))
    timing.recount(op.get_bind(), report_columns=False)
    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.create_index(COMPARISON_INDEX, COMPARISON_COLUMNS, unique=False)


def downgrade():
    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.drop_index(COMPARISON_INDEX)
        for column in reversed(timing.COLUMNS):
            batch_op.drop_column(column)
