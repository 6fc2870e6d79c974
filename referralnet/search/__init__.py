"""Directory search: documents derived from the database (a Whoosh index per host, or rows of the
PostgreSQL database), and the one search service.

- `schema.py`    the index schema (one document per service-at-location)
- `documents.py` builds documents from the database (what may be shown, and nothing else)
- `index.py`     opening, writing (locked, several processes safe) and rebuilding the index
- `changes.py`   what a directory change touched (the services whose documents show it), for both backends
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
- `backend.py`   the seam: which backend answers (SEARCH_BACKEND: whoosh, or postgres by default
                 on PostgreSQL), readiness, rebuild
- `pg_backend.py` the postgres backend: search rows in the database, written in the directory
                 change's own transaction; the plan as tsqueries, ranked by BM25F as Whoosh ranks
                 (term frequencies in search_posting, collection statistics in search_term); filters,
                 distance and facets in SQL

The coordinator pages, the HSDS API and the REST API all call `service.search`.
"""
from __future__ import annotations


def ready() -> tuple[bool, str]:
    """Whether this process's search backend can answer queries: (ok, a short reason for /readyz).

    The one readiness seam for the load balancer's check (home.readyz): the active backend's own
    answer (`backend.is_ready`): the Whoosh index exists, reflects this database and is not lagging;
    or the postgres backend's rows are built.
    """
    from referralnet.search.backend import is_ready

    return is_ready()
