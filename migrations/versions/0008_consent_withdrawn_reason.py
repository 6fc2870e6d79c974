"""cancel reason "consent-withdrawn": referrals not yet accepted are cancelled when the client
withdraws their consent to share with the agency

Only the CHECK constraints on the reason columns change (referral.status_reason_code,
referral_event.reason_code): they list every reason code.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 08:45:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

BEFORE = ('not-eligible', 'no-capacity', 'out-of-service-area', 'could-not-contact', 'client-declined', 'other',
          'client-request', 'duplicate', 'referred-elsewhere', 'no-longer-needed', 'waiting-on-client',
          'waiting-on-documents', 'waitlist')
AFTER = BEFORE + ('consent-withdrawn',)


def _check(column: str, codes: tuple[str, ...]) -> str:
    return f"{column} IS NULL OR {column} IN ({', '.join(repr(c) for c in codes)})"


def _replace(codes: tuple[str, ...]) -> None:
    for table, column in (('referral', 'status_reason_code'), ('referral_event', 'reason_code')):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(op.f(f'ck_{table}_{column}'), type_='check')
            batch_op.create_check_constraint(op.f(f'ck_{table}_{column}'), _check(column, codes))


def upgrade():
    _replace(AFTER)


def downgrade():
    # Referrals cancelled for a withdrawn consent keep the meaning under the general "other" reason.
    for table, column in (('referral', 'status_reason_code'), ('referral_event', 'reason_code')):
        op.execute(f"UPDATE {table} SET {column} = 'other' WHERE {column} = 'consent-withdrawn'")
    op.execute("UPDATE referral SET status_reason_text = 'Consent withdrawn' "
               "WHERE status_reason_code = 'other' AND status_reason_text IS NULL")
    _replace(BEFORE)
