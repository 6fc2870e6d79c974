"""The Whoosh schema: one document per active service at one of its locations."""
from __future__ import annotations

from functools import lru_cache

from whoosh.analysis import (DelimitedAttributeFilter, LowercaseFilter, RegexTokenizer, StemFilter,
                             StemmingAnalyzer, StopFilter)
from whoosh.analysis.tokenizers import default_pattern
from whoosh.fields import BOOLEAN, ID, KEYWORD, NUMERIC, STORED, TEXT, Schema

# Schema version: bump when fields change so that an old index is rebuilt instead of misread.
SCHEMA_VERSION = "5"


def index_version() -> str:
    """What the version file must say: the schema version and the lexicon terms tagged at index time."""
    from referralnet.search.concepts import digest

    return f"{SCHEMA_VERSION}-{digest()}"


@lru_cache(maxsize=1)
def document_schema() -> Schema:
    """One schema instance for building documents (analyzers for the index-time concept tags)."""
    return build_schema()


# The text fields (searched together) and the combined field that stands for them in searches.
TEXT_FIELDS = ["name", "organization", "terms", "description", "eligibility"]


def body_analyzer():
    """The text fields' analysis (StemmingAnalyzer) on pre-split words that carry their field's
    boost as "word^3.0": each word's weight in `body` is the sum of its fields' boosts."""
    return (RegexTokenizer(r"\S+") | DelimitedAttributeFilter("^", "boost", 1.0, float) | LowercaseFilter()
            | StopFilter() | StemFilter())


def body_text(schema: Schema, doc: dict) -> str:
    """The value of `body` for a document: every text field's words, each marked with the field's boost."""
    out = []
    for name in TEXT_FIELDS:
        value = doc.get(name)
        if not value:
            continue
        boost = schema[name].format.field_boost
        mark = "" if boost == 1.0 else f"^{boost}"
        out.extend(m.group() + mark for m in default_pattern.finditer(value))
    return " ".join(out)


def build_schema() -> Schema:
    stem = StemmingAnalyzer()
    return Schema(
        # Column-stored (sortable) ids let a caller map thousands of hits to records without
        # loading each document's stored fields.
        id=ID(stored=True, unique=True, sortable=True),  # service_at_location id, or "service:<id>"
        service_id=ID(stored=True, sortable=True),
        location_id=ID(stored=True),
        organization_id=ID(stored=True, sortable=True),
        name=TEXT(analyzer=stem, field_boost=3.0, stored=True, spelling=True),
        name_sort=ID(sortable=True),
        organization=TEXT(analyzer=stem, field_boost=1.5, stored=True, spelling=True),
        description=TEXT(analyzer=stem, spelling=True),
        eligibility=TEXT(analyzer=stem),
        terms=TEXT(analyzer=stem, field_boost=2.0, spelling=True),
        # All five text fields in one, without positions: a searched word is one posting list here
        # (matched and scored as BM25F with field-boosted term frequencies). The fields above stay
        # for phrases, per-field queries and spelling.
        body=TEXT(analyzer=body_analyzer(), phrase=False),
        domains=KEYWORD(commas=True, stored=True),
        term_ids=KEYWORD(commas=True),
        # Taxonomy codes with every prefix ("bd-1800.2000" also as "bd-1800" and "bd"), so a need
        # can ask for a branch of the AIRS taxonomy with one term.
        codes=KEYWORD(lowercase=True),
        languages=KEYWORD(commas=True, lowercase=True, stored=True),
        free=BOOLEAN(stored=True),
        accepting=BOOLEAN(stored=True),
        min_age=NUMERIC(int, stored=True),
        max_age=NUMERIC(int, stored=True),
        cells=KEYWORD(),
        # Column-stored so distance checks read them without loading documents; missing reads as NaN.
        lat=NUMERIC(float, sortable=True, default=0),
        lon=NUMERIC(float, sortable=True, default=0),
        tz=ID(stored=True),
        slots=KEYWORD(),
        # Multi-word lexicon terms found in the text at index time (see concepts.py).
        concepts=KEYWORD(commas=True),
        has_exceptions=BOOLEAN(),
        card=STORED(),  # a small JSON-ready dict for result cards (no second database round trip)
    )
