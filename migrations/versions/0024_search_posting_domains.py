"""postgres search backend: a posting carries its document's SDOH domains, as bits

A plain-words search counted its total and facets from its matches' rows: at 50,000 services
"senior center" read 17,568 rows (nearly every page of the table) for their domains, after its
postings had already said which documents match. A posting now carries its document's domains as
a bit mask (`domain_mask`, bit i: the i-th domain of seed_data/sdoh_domains.json,
pg_backend.domain_bits), read with the key's index alone, so such a search counts its matches
per domain from its postings' sums. Filled here from the rows' domains. On PostgreSQL only.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-02 15:30:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None

# The domains' bits as pg_backend.domain_bits numbered them when this was written (a migration
# keeps the values it was written with; the seed file only ever appends).
CODES = ("food-insecurity", "housing-instability", "homelessness", "inadequate-housing", "transportation-insecurity",
         "financial-insecurity", "material-hardship", "utility-insecurity", "employment-status",
         "educational-attainment", "health-insurance-coverage-status", "medical-cost-burden",
         "intimate-partner-violence", "elder-abuse", "social-connection", "stress", "digital-access",
         "digital-literacy", "personal-health-literacy", "language-access", "veteran-status", "incarceration-status",
         "legal-needs", "sdoh-category-unspecified")
# As pg_backend.domain_mask_sql.
MASK = ("COALESCE((SELECT bit_or(CAST(1 AS bigint) << (array_position(CAST(ARRAY[{codes}] AS text[]), u.code) - 1)) "
        "FROM unnest(d.domains) u(code)), 0)").format(codes=", ".join(f"'{c}'" for c in CODES))


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _postings(columns: str, select: str, included: str) -> None:
    """Write the postings table afresh (as 0022: an in-place update would leave every posting's old
    version behind, and the pages unmarked for index-only scans until a vacuum)."""
    op.execute(f"CREATE TABLE search_posting_new (term text NOT NULL, cell integer NOT NULL, doc_id text NOT NULL, "
               f"tf float8 NOT NULL, words float8[], norm_len integer{columns})")
    op.execute(f"INSERT INTO search_posting_new {select}")
    op.execute("DROP TABLE search_posting")
    op.execute("ALTER TABLE search_posting_new RENAME TO search_posting")
    # A search reads a posting's frequencies, its document's length and domains from the key's index alone.
    op.execute(f"ALTER TABLE search_posting ADD CONSTRAINT pk_search_posting PRIMARY KEY (term, cell, doc_id) "
               f"INCLUDE ({included})")
    op.create_index('ix_search_posting_doc_id', 'search_posting', ['doc_id'])
    with op.get_context().autocommit_block():
        op.execute("VACUUM ANALYZE search_posting")  # index-only scans from the start


def upgrade():
    if not _postgres():
        return
    _postings(", domain_mask bigint NOT NULL",
              f"SELECT x.term, x.cell, x.doc_id, x.tf, x.words, x.norm_len, {MASK} FROM search_posting x "
              "LEFT JOIN search_document d ON d.id = x.doc_id", "tf, words, norm_len, domain_mask")


def downgrade():
    if not _postgres():
        return
    _postings("", "SELECT term, cell, doc_id, tf, words, norm_len FROM search_posting", "tf, words, norm_len")
