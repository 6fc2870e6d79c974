"""report speed: each referral's durations (to the first view, the answer, the closed loop; calendar and
business seconds) stored on the referral, backfilled from its timestamps

The reports' medians and percentiles read these integer columns instead of working the durations
out from the timestamps on every report. The backfill (referrals.timing.recount) computes them with
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


def upgrade():
    with op.batch_alter_table('referral', schema=None) as batch_op:
        for column in timing.COLUMNS:
            batch_op.add_column(sa.Column(column, sa.Integer(), nullable=True))
    timing.recount(op.get_bind())


def downgrade():
    with op.batch_alter_table('referral', schema=None) as batch_op:
        for column in reversed(timing.COLUMNS):
            batch_op.drop_column(column)
