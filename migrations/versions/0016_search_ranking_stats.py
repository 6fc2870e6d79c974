"""postgres search backend: BM25F statistics per document (term frequencies, body length) and indexes for speed

The postgres backend ranks as the Whoosh backend does (BM25F over the body terms, with the
collection's document frequencies and average length), so each search_document row keeps its
weighted term frequencies (`tf`, JSONB) and its body length, and search_term the
collection's statistics (documents per term, document count, total length). On PostgreSQL only (SQLite's Whoosh
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
down_revision = '0015'
branch_labels = None
depends_on = None


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade():
    if not _postgres():
        return
    op.add_column('search_document', sa.Column('tf', postgresql.JSONB(), nullable=True))
    op.add_column('search_document', sa.Column('body_len', sa.Integer(), nullable=True))
    op.add_column('search_document', sa.Column('norm_len', sa.Integer(), nullable=True))
    # What each matching row is scored from stays in the row (compressed), read without a TOAST
    # lookup; the card (read only for the page shown) is the column moved out of line first.
    op.execute("ALTER TABLE search_document ALTER COLUMN tf SET STORAGE MAIN, ALTER COLUMN vector SET STORAGE MAIN")
    # Rows still without statistics (NULL: written before this revision), for `flask search status`.
    op.create_index('ix_search_document_body_len', 'search_document', ['body_len'])
    # The collection statistics: documents per term, and the document count and total length
    # (rows " docs" and " length"); kept by every write of search_document rows.
    op.create_table('search_term',
    sa.Column('term', sa.Text(), nullable=False),
    sa.Column('df', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('term', name=op.f('pk_search_term'))
    )


def downgrade():
    if not _postgres():
        return
    op.drop_table('search_term')
    op.drop_index('ix_search_document_body_len', table_name='search_document')
    op.drop_column('search_document', 'norm_len')
    op.drop_column('search_document', 'body_len')
    op.drop_column('search_document', 'tf')
