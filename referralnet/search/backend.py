"""The search backend seam: which engine answers the one search service's queries.

service.py validates a SearchQuery, resolves the place and the clock, and the active backend
answers it: it understands the text (understanding.understand, the same lexicon, spelling and
crisis rules for every backend, asking the backend's own vocabulary what the directory knows)
and returns the page (ranked hits with their cards and why each matched), the total and the facet
counts; or, for the HSDS API, every match in order. service.py then adds what the plan says
(what the words were taken to mean, corrections, crisis lines) the same way for both.

- `whoosh`: an embedded index per host (search/index.py), the default with SQLite (one host);
- `postgres`: rows of the database itself (search/pg_backend.py), the default with PostgreSQL:
  written in the directory change's own transaction, so every host sees a change at commit.

`SEARCH_BACKEND` ("whoosh" or "postgres") overrides the default.
"""
from __future__ import annotations

from datetime import datetime
from typing import Callable

from flask import current_app

from referralnet.extensions import db
from referralnet.geo import Place

BACKENDS = ("whoosh", "postgres")


class BackendMisconfigured(RuntimeError):
    """SEARCH_BACKEND names no backend, or one the database cannot hold."""


def backend_name() -> str:
    """The configured backend, else postgres on PostgreSQL and whoosh otherwise."""
    name = current_app.config.get("SEARCH_BACKEND")
    dialect = db.engine.dialect.name
    if not name:
        return "postgres" if dialect == "postgresql" else "whoosh"
    if name not in BACKENDS:
        raise BackendMisconfigured(f"SEARCH_BACKEND={name!r}: choose one of {', '.join(BACKENDS)}")
    if name == "postgres" and dialect != "postgresql":
        raise BackendMisconfigured(f"SEARCH_BACKEND=postgres needs a PostgreSQL DATABASE_URL (this one is {dialect})")
    return name


class WhooshBackend:
    """This host's Whoosh index (search/index.py, engine.py, service.py's evaluation)."""

    name = "whoosh"

    def search(self, q, place: Place | None, now: datetime):
        from referralnet.search.service import whoosh_search

        return whoosh_search(q, place, now)

    def matches(self, q, place: Place | None, now: datetime):
        from referralnet.search.service import whoosh_matches

        return whoosh_matches(q, place, now)

    def rebuild(self, progress: Callable[[int, int], None] | None = None) -> int:
        from referralnet.search.index import rebuild_index

        return rebuild_index(progress=progress)

    def document_count(self) -> int:
        from referralnet.search.index import document_count

        return document_count()

    def clear(self) -> None:
        from referralnet.search.index import clear_index

        clear_index()

    def is_ready(self) -> tuple[bool, str]:
        from referralnet.search import sync

        ready, why = sync.is_ready()
        return ready, f"whoosh: {why}"

    def where(self) -> str:
        from referralnet.search.index import index_dir

        return str(index_dir())


class PostgresBackend:
    """Rows of the database (search/pg_backend.py), read in the request's own transaction."""

    name = "postgres"

    def search(self, q, place: Place | None, now: datetime):
        from referralnet.search import pg_backend
        from referralnet.search.service import Hit, SearchResults, _decorate

        session = db.session
        plan = pg_backend.plan_for(session, q.text)
        found = pg_backend.run(session, q, plan, place, now, page=True)
        why = pg_backend.explanations(session, found, plan, [r.id for r in found.rows])
        hits = []
        for row in found.rows:
            hit = Hit(row.id, float(row.score or 0.0), row.card, distance_miles=row.dist, docnum=row.n,
                      why=why.get(row.id, []))
            _decorate(hit, place, now)
            hits.append(hit)
        return SearchResults(q, hits, found.total, q.page, q.per_page, found.facets, place, plan=plan)

    def matches(self, q, place: Place | None, now: datetime):
        from referralnet.search import pg_backend
        from referralnet.search.service import Match

        session = db.session
        plan = pg_backend.plan_for(session, q.text)
        found = pg_backend.run(session, q, plan, place, now, page=False)
        ids = [r.id for r in found.rows]

        def explain(docnum: int) -> tuple[str, ...]:
            return tuple(pg_backend.explanations(session, found, plan, [ids[docnum]]).get(ids[docnum], ()))

        explainer = explain if found.clauses else None
        return [Match(r.id, r.service_id, r.organization_id, r.dist, n, explainer) for n, r in enumerate(found.rows)]

    def rebuild(self, progress: Callable[[int, int], None] | None = None) -> int:
        from referralnet.search import pg_backend

        count = pg_backend.rebuild(db.session, progress)
        db.session.commit()
        return count

    def document_count(self) -> int:
        from referralnet.search import pg_backend

        return pg_backend.document_count(db.session)

    def clear(self) -> None:
        from referralnet.search import pg_backend

        pg_backend.clear(db.session)
        db.session.commit()

    def is_ready(self) -> tuple[bool, str]:
        from referralnet.search import pg_backend

        try:
            return pg_backend.is_ready(db.session)
        except Exception as exc:  # noqa: BLE001 - the reason is the answer
            db.session.rollback()
            return False, f"postgres search cannot be read: {exc.__class__.__name__}"

    def where(self) -> str:
        return "the database's search_document table"


_BACKENDS = {"whoosh": WhooshBackend(), "postgres": PostgresBackend()}


def current_backend() -> WhooshBackend | PostgresBackend:
    """The backend answering searches in this app (see the module docstring)."""
    return _BACKENDS[backend_name()]


def is_ready() -> tuple[bool, str]:
    """(ready, why) of the active backend, for /readyz."""
    try:
        return current_backend().is_ready()
    except BackendMisconfigured as exc:
        return False, str(exc)
