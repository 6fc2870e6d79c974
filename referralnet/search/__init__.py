"""Directory search: a Whoosh index derived from the database, and the one search service.

- `schema.py`    the index schema (one document per service-at-location)
- `documents.py` builds documents from the database (what may be shown, and nothing else)
- `index.py`     opening, writing (locked, several processes safe) and rebuilding the index
- `hooks.py`     records what each directory change touched as `search_change` rows, in its transaction
- `models.py`    the change table and the database's search generation
- `state.py`     which database state an index reflects (restored or replaced databases told apart)
- `sync.py`      the background applier that follows the change table; status, readiness, waiting
- `understanding.py` query understanding, above any index: spelling (real words never corrected),
                 the need lexicon (seed_data/need_lexicon.csv, need_concepts.csv), crisis lines
- `concepts.py`  multi-word lexicon terms tagged at index time (one term instead of a phrase query)
- `engine.py`    fast evaluation of Whoosh queries on in-memory bitsets, BM25F as Whoosh scores
- `service.py`   SearchQuery -> SearchResults: the plan's clauses, filters, distance, hours,
                 facets, ranking with coordination, paging, why each result matched

The coordinator pages, the HSDS API and the REST API all call `service.search`.
"""
