"""postgres search backend: a concept tag's posting carries its words' frequencies

A search scores a concept's part (what a lay phrase was taken to mean, `~c:food pantry`) by the
frequencies of the concept's words in each document it matched. Those words are often common
("health", "family", "center"), and reading their postings was most of what a broad search read
(50-85% of the postings at 50,000 services). The concept tag's own posting now carries them
(`words`, in the order of pg_backend.tag_terms), so the words' postings are read only when they
count outside the tag too. Filled here from the rows' `tf`. On PostgreSQL only.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02 04:30:00

"""
from alembic import op
from sqlalchemy import text


# revision identifiers, used by Alembic.
revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade():
    if not _postgres():
        return
    from referralnet.search.pg_backend import concept_terms_json, words_sql

    bind = op.get_bind()
    tags = list(bind.execute(text("SELECT DISTINCT term FROM search_posting WHERE term LIKE '~c:%'")).scalars())
    # Written afresh rather than updated in place (which would leave every concept posting's old
    # version behind, and the table's pages unmarked for index-only scans until a vacuum).
    op.execute("CREATE TABLE search_posting_new (term text NOT NULL, doc_id text NOT NULL, tf float8 NOT NULL, "
               "words float8[])")
    bind.execute(text(f"INSERT INTO search_posting_new (term, doc_id, tf, words) SELECT x.term, x.doc_id, x.tf, "
                      f"{words_sql('d', 'm.terms')} FROM search_posting x "
                      f"LEFT JOIN search_document d ON d.id = x.doc_id "
                      f"LEFT JOIN jsonb_each(CAST(:concepts AS jsonb)) m(tag, terms) ON m.tag = x.term"),
                 {"concepts": concept_terms_json(tags)})
    op.execute("DROP TABLE search_posting")
    op.execute("ALTER TABLE search_posting_new RENAME TO search_posting")
    # A search reads the frequencies (and a concept's words) from the key's index alone.
    op.execute("ALTER TABLE search_posting ADD CONSTRAINT pk_search_posting PRIMARY KEY (term, doc_id) "
               "INCLUDE (tf, words)")
    op.create_index('ix_search_posting_doc_id', 'search_posting', ['doc_id'])
    with op.get_context().autocommit_block():  # marks the pages all-visible: index-only scans from the start
        op.execute("VACUUM ANALYZE search_posting")


def downgrade():
    if not _postgres():
        return
    op.execute("ALTER TABLE search_posting DROP CONSTRAINT pk_search_posting")
    op.execute("ALTER TABLE search_posting DROP COLUMN words")
    op.execute("ALTER TABLE search_posting ADD CONSTRAINT pk_search_posting PRIMARY KEY (term, doc_id) INCLUDE (tf)")
