"""postgres search backend: search_document rows (weighted tsvector, filter columns, card) and search_word (pg_trgm)

On PostgreSQL only: the Whoosh backend (SQLite's) keeps its index in files, so on SQLite this
revision changes nothing. After upgrading an existing PostgreSQL database, run
`flask search reindex` once to fill the rows (afterwards every directory change writes its own).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 12:30:00

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade():
    if not _postgres():
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    text_array = postgresql.ARRAY(sa.Text())
    op.create_table('search_document',
    sa.Column('id', sa.Text(), nullable=False),
    sa.Column('service_id', sa.Text(), nullable=False),
    sa.Column('organization_id', sa.Text(), nullable=False),
    sa.Column('location_id', sa.Text(), nullable=False),
    sa.Column('name_sort', sa.Text(), nullable=False),
    sa.Column('vector', postgresql.TSVECTOR(), nullable=False),
    sa.Column('domains', text_array, nullable=False),
    sa.Column('term_ids', text_array, nullable=False),
    sa.Column('languages', text_array, nullable=False),
    sa.Column('accepting', sa.Boolean(), nullable=False),
    sa.Column('free', sa.Boolean(), nullable=False),
    sa.Column('min_age', sa.Integer(), nullable=False),
    sa.Column('max_age', sa.Integer(), nullable=False),
    sa.Column('tz', sa.Text(), nullable=False),
    sa.Column('slots', text_array, nullable=False),
    sa.Column('has_exceptions', sa.Boolean(), nullable=False),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('card', postgresql.JSONB(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_search_document'))
    )
    op.create_index('ix_search_document_service_id', 'search_document', ['service_id'])
    op.create_index('ix_search_document_organization_id', 'search_document', ['organization_id'])
    op.create_index('ix_search_document_name_sort', 'search_document', ['name_sort', 'id'])
    op.create_index('ix_search_document_tz', 'search_document', ['tz'])
    op.create_index('ix_search_document_lat_lon', 'search_document', ['lat', 'lon'])
    for column in ('vector', 'domains', 'term_ids', 'languages', 'slots'):
        op.create_index(f'ix_search_document_{column}', 'search_document', [column], postgresql_using='gin')
    op.create_table('search_word',
    sa.Column('word', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('word', name=op.f('pk_search_word'))
    )
    op.execute("CREATE INDEX ix_search_word_trgm ON search_word USING gin (word gin_trgm_ops)")


def downgrade():
    if not _postgres():
        return
    op.drop_table('search_word')
    op.drop_table('search_document')
