"""postgres search backend: each row keeps the dates of its holiday closures and special hours

"Open now" is answered from each place's typical week (its half-hour slots), and the places with
holiday closures or special hours were then checked exactly, every one of them among a search's
matches: their cards fetched and their hours built, ~15-25 ms of a filtered search at 50,000
services. A row now keeps those dates (local to the place, `exception_days`, GIN-indexed), so
only the places with one today or yesterday (an overnight span) are checked. Filled here from
the cards of the rows that have exceptions. On PostgreSQL only.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-02 08:00:00

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy import text
from sqlalchemy.dialects import postgresql


# revision identifiers, used by Alembic.
revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade():
    if not _postgres():
        return
    from referralnet.search.pg_backend import exceptions

    op.add_column('search_document', sa.Column('exception_days', postgresql.ARRAY(sa.Date()), nullable=False,
                                               server_default=sa.text("'{}'")))
    bind = op.get_bind()
    rows = bind.execute(text("SELECT id, card FROM search_document WHERE has_exceptions")).all()
    days = [{"id": row.id, "days": exceptions(row.card)[0]} for row in rows]
    if days:
        bind.execute(text("UPDATE search_document SET exception_days = CAST(:days AS date[]) WHERE id = :id"), days)
    op.create_index('ix_search_document_exception_days', 'search_document', ['exception_days'],
                    postgresql_using='gin')


def downgrade():
    if not _postgres():
        return
    op.drop_index('ix_search_document_exception_days', table_name='search_document')
    op.drop_column('search_document', 'exception_days')
