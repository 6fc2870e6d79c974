"""report speed: each referral's durations (to the first view, the answer, the closed loop; calendar and
business seconds) stored on the referral, backfilled from its timestamps

The reports' medians and percentiles read these integer columns instead of working the durations
out from the timestamps on every report. The backfill computes them with the same function the
live path uses (referrals.timing.durations), in the network's time zone (DEFAULT_TIMEZONE), in
batches of BATCH referrals, on SQLite and PostgreSQL alike.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 12:10:00

"""
from alembic import op
import sqlalchemy as sa

import referralnet.db
from referralnet.config import network_timezone
from referralnet.referrals import timing


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

BATCH = 5000


def upgrade():
    with op.batch_alter_table('referral', schema=None) as batch_op:
        for column in timing.COLUMNS:
            batch_op.add_column(sa.Column(column, sa.Integer(), nullable=True))
    backfill(op.get_bind())


def backfill(connection) -> int:
    """Set every referral's durations from its timestamps; returns how many referrals were set."""
    stamp = referralnet.db.UTCDateTime(timezone=True)
    referral = sa.table('referral', sa.column('id', sa.Integer()), sa.column('requested_at', stamp),
                        *(sa.column(end, stamp) for end in timing.ENDS),
                        *(sa.column(column, sa.Integer()) for column in timing.COLUMNS))
    update = sa.update(referral).where(referral.c.id == sa.bindparam('row_id')) \
        .values({column: sa.bindparam(column) for column in timing.COLUMNS})
    tz = network_timezone()
    done, last = 0, 0
    while True:
        rows = connection.execute(
            sa.select(referral.c.id, referral.c.requested_at, *(referral.c[end] for end in timing.ENDS))
            .where(referral.c.id > last).order_by(referral.c.id).limit(BATCH)).all()
        if not rows:
            return done
        connection.execute(update, [
            {'row_id': row.id, **timing.durations(row.requested_at, {end: row._mapping[end] for end in timing.ENDS}, tz)}
            for row in rows])
        done += len(rows)
        last = rows[-1].id


def downgrade():
    with op.batch_alter_table('referral', schema=None) as batch_op:
        for column in reversed(timing.COLUMNS):
            batch_op.drop_column(column)
