"""postgres search backend: BM25F statistics per document (term frequencies, body length) and indexes for speed

The postgres backend ranks as the Whoosh backend does (BM25F over the body terms, with the
collection's document frequencies and average length), so each search_document row keeps its
weighted term frequencies (`tf`, JSONB) and its body length. On PostgreSQL only (SQLite's Whoosh
index keeps its statistics in files). Rows written before this revision have neither: run
`flask search reindex` once after upgrading (until then they match but rank without scores, and
`flask search status` says so).

Revision ID: 0016
Revises: 0014
Create Date: 2026-12-01 15:45:00

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0014'
branch_labels = None
depends_on = None


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade():
    if not _postgres():
        return
    op.add_column('search_document', sa.Column('tf', postgresql.JSONB(), nullable=True))
    op.add_column('search_document', sa.Column('body_len', sa.Integer(), nullable=True))
    # The average length (an index-only scan) and the rows still without statistics (NULL).
    op.create_index('ix_search_document_body_len', 'search_document', ['body_len'])


def downgrade():
    if not _postgres():
        return
    op.drop_index('ix_search_document_body_len', table_name='search_document')
    op.drop_column('search_document', 'body_len')
    op.drop_column('search_document', 'tf')
