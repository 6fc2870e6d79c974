"""postgres search backend: postings (term, document, frequency), so a search reads only its own terms' frequencies

The postgres backend scored each matching row from its whole `tf` (JSONB): a broad query at
50,000 services decompressed and unpacked thousands of them. search_posting holds the same
frequencies one row per (term, document), read by term (an index-only scan of the primary key,
which includes the frequency) for the documents a search matched; the index on doc_id serves
rewriting and removing a document's postings. Filled here from the rows' `tf` (rows from before
0016 have none: `flask search reindex` writes them with everything else).

The small columns every matched row is read for (ids, sort name, domains, zone) are kept in the
row (storage MAIN): with `vector` and `tf` compressed in the row, a document was often over
PostgreSQL's 2 kB TOAST target, so they were moved out of line, and a search fetched each one
from the TOAST table every time it compared, hashed or sorted it (sorting 13,020 ids: 1.8 s,
800,000 buffer reads). `tf`, no longer read by searches, may move out of line instead. The rows
are rewritten so the existing ones are stored so too. On PostgreSQL only.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01 22:20:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


SMALL = ("id", "service_id", "organization_id", "location_id", "name_sort", "domains", "tz")


def _store(main: tuple[str, ...], extended: tuple[str, ...]) -> None:
    """Set the columns' storage and rewrite the rows so that the stored ones follow it."""
    op.execute("ALTER TABLE search_document " + ", ".join(
        [f"ALTER COLUMN {c} SET STORAGE MAIN" for c in main]
        + [f"ALTER COLUMN {c} SET STORAGE EXTENDED" for c in extended]))
    # A new value (not the stored one) is placed afresh; an unchanged one would keep its place.
    fresh = {"domains": "domains || CAST('{}' AS text[])", "tf": "tf || CAST('{}' AS jsonb)"}
    op.execute("UPDATE search_document SET "
               + ", ".join(f"{c} = " + fresh.get(c, f"{c} || ''") for c in main + extended))
    op.execute("ANALYZE search_document")


def upgrade():
    if not _postgres():
        return
    _store(SMALL, ("tf",))
    op.execute("CREATE TABLE search_posting (term text NOT NULL, doc_id text NOT NULL, tf float8 NOT NULL, "
               "CONSTRAINT pk_search_posting PRIMARY KEY (term, doc_id) INCLUDE (tf))")
    op.execute("INSERT INTO search_posting (term, doc_id, tf) SELECT e.key, d.id, CAST(e.value AS float8) "
               "FROM search_document d CROSS JOIN LATERAL jsonb_each_text(d.tf) e WHERE d.tf IS NOT NULL")
    op.create_index('ix_search_posting_doc_id', 'search_posting', ['doc_id'])
    op.execute("ANALYZE search_posting")


def downgrade():
    if not _postgres():
        return
    op.drop_table('search_posting')
    _store(("tf",), SMALL)
