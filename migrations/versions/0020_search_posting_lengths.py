"""postgres search backend: a posting carries its document's length; only small columns stay in a row

A search scored each matched document from its postings pivoted into one column per key (an
aggregate per key, evaluated for every posting) and the document's length. A posting now carries
the length Whoosh normalises its document by (`norm_len`, as the row has it), so each posting is
scored on its own and a document's postings are summed per clause in a few plain aggregates.

The rows a search reads for every match (ids, domains, filters, lengths) stay in the table's
pages, and the large columns move out of line (TOAST) as soon as a row is over 256 bytes:
the tsvector (matched through its GIN index, which does not read it), the card (read for the
page shown) and the term frequencies (read when a document is rewritten). At 50,000 services
the table was 15,667 pages of ~4 rows, and "counseling" read 6,906 of them to find its 10,100
matches' domains; it is now 3,415 pages of ~19 rows. The rows are rewritten so the existing ones
are stored so too. On PostgreSQL only.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02 07:30:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

ROW_TARGET = 256  # bytes: a row above it has its large columns moved out of line (PostgreSQL's default: 2,032)


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _postings(columns: str, select: str) -> None:
    """Write the postings table afresh (an in-place update would leave every posting's old
    version behind, and the pages unmarked for index-only scans until a vacuum)."""
    op.execute(f"CREATE TABLE search_posting_new (term text NOT NULL, doc_id text NOT NULL, tf float8 NOT NULL, "
               f"words float8[]{columns})")
    op.execute(f"INSERT INTO search_posting_new {select}")
    op.execute("DROP TABLE search_posting")
    op.execute("ALTER TABLE search_posting_new RENAME TO search_posting")


def upgrade():
    if not _postgres():
        return
    _postings(", norm_len integer", "SELECT x.term, x.doc_id, x.tf, x.words, d.norm_len FROM search_posting x "
                                    "LEFT JOIN search_document d ON d.id = x.doc_id")
    # A search reads a posting's frequencies and its document's length from the key's index alone.
    op.execute("ALTER TABLE search_posting ADD CONSTRAINT pk_search_posting PRIMARY KEY (term, doc_id) "
               "INCLUDE (tf, words, norm_len)")
    op.create_index('ix_search_posting_doc_id', 'search_posting', ['doc_id'])
    op.execute(f"ALTER TABLE search_document SET (toast_tuple_target = {ROW_TARGET}), "
               "ALTER COLUMN vector SET STORAGE EXTENDED")
    # A new value (not the stored one) is placed afresh; an unchanged one would keep its place.
    op.execute("UPDATE search_document SET vector = vector || CAST('' AS tsvector), card = card || CAST('{}' AS jsonb), "
               "slots = slots || CAST('{}' AS text[]), term_ids = term_ids || CAST('{}' AS text[])")
    with op.get_context().autocommit_block():
        # Packs the rewritten rows into as few pages as they need, and marks the postings' pages
        # all-visible (index-only scans from the start).
        op.execute("VACUUM FULL search_document")
        op.execute("VACUUM ANALYZE search_posting")
        op.execute("ANALYZE search_document")


def downgrade():
    if not _postgres():
        return
    op.execute("ALTER TABLE search_document RESET (toast_tuple_target), ALTER COLUMN vector SET STORAGE MAIN")
    _postings("", "SELECT term, doc_id, tf, words FROM search_posting")
    op.execute("ALTER TABLE search_posting ADD CONSTRAINT pk_search_posting PRIMARY KEY (term, doc_id) "
               "INCLUDE (tf, words)")
    op.create_index('ix_search_posting_doc_id', 'search_posting', ['doc_id'])
