"""The Whoosh schema: one document per active service at one of its locations."""
from __future__ import annotations

from whoosh.analysis import StemmingAnalyzer
from whoosh.fields import BOOLEAN, ID, KEYWORD, NUMERIC, STORED, TEXT, Schema

# Schema version: bump when fields change so that an old index is rebuilt instead of misread.
SCHEMA_VERSION = "3"


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
        domains=KEYWORD(commas=True, stored=True),
        term_ids=KEYWORD(commas=True),
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
        has_exceptions=BOOLEAN(),
        card=STORED(),  # a small JSON-ready dict for result cards (no second database round trip)
    )
