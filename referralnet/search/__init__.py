"""Directory search: a Whoosh index derived from the database, and the one search service.

- `schema.py`    the index schema (one document per service-at-location)
- `documents.py` builds documents from the database (what may be shown, and nothing else)
- `index.py`     opening, writing (locked, several processes safe) and rebuilding the index
- `hooks.py`     keeps the index current after each commit that changes directory data
- `synonyms.py`  lay language -> service vocabulary (seed_data/synonyms.csv)
- `service.py`   SearchQuery -> SearchResults: text, filters, distance, hours, facets, paging

The coordinator pages, the HSDS API and the REST API all call `service.search`.
"""
