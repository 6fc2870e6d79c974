"""The search backend seam: which backend answers, what a wrong setting says, when a backend is ready,
and (postgres) that search rows are part of the directory change's own transaction."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from referralnet.directory import models as m
from referralnet.search import backend as seam
from referralnet.search.service import SearchQuery, search


def _service(db, name: str, org_name: str = "Backend Test Org") -> m.Service:
    org = m.Organization(name=org_name, description="x")
    db.session.add(org)
    db.session.flush()
    service = m.Service(organization_id=org.id, name=name, description="Fresh groceries every week", status="active")
    db.session.add(service)
    db.session.commit()
    return service


def _postgres(db) -> bool:
    return db.engine.dialect.name == "postgresql"


def test_the_default_backend_follows_the_database(db, app, monkeypatch):
    monkeypatch.setitem(app.config, "SEARCH_BACKEND", None)
    assert seam.backend_name() == ("postgres" if _postgres(db) else "whoosh")
    monkeypatch.setitem(app.config, "SEARCH_BACKEND", "whoosh")
    assert seam.current_backend().name == "whoosh"


def test_a_wrong_setting_says_what_is_wrong(db, app, monkeypatch):
    monkeypatch.setitem(app.config, "SEARCH_BACKEND", "elastic")
    with pytest.raises(seam.BackendMisconfigured, match="SEARCH_BACKEND='elastic'"):
        seam.current_backend()
    ready, why = seam.is_ready()
    assert not ready and "whoosh, postgres" in why
    if not _postgres(db):
        monkeypatch.setitem(app.config, "SEARCH_BACKEND", "postgres")
        ready, why = seam.is_ready()
        assert not ready and "needs a PostgreSQL DATABASE_URL" in why


def test_the_active_backend_is_ready_and_says_so(db):
    seam.current_backend().rebuild()  # built from this database (a Whoosh index records which state it reflects)
    ready, why = seam.is_ready()
    assert ready, why
    assert seam.current_backend().name in why


def test_postgres_rows_are_written_in_the_changes_own_transaction(db):
    if seam.current_backend().name != "postgres":
        pytest.skip("the postgres backend's rows (TEST_DATABASE_URL on PostgreSQL)")
    from sqlalchemy import text

    service = _service(db, "Quokka Grocery Hub")
    count = lambda: db.session.scalar(text(  # noqa: E731
        "SELECT count(*) FROM search_document WHERE service_id = :s"), {"s": service.id})
    assert count() == 1
    assert [h.service_name for h in search(SearchQuery(text="quokka")).hits] == ["Quokka Grocery Hub"]

    service.name = "Wombat Grocery Hub"
    db.session.flush()
    db.session.rollback()  # a failed request: neither the change nor its search row is kept
    assert [h.service_name for h in search(SearchQuery(text="quokka")).hits] == ["Quokka Grocery Hub"]
    assert search(SearchQuery(text="wombat")).total == 0

    service = db.session.scalar(select(m.Service).where(m.Service.id == service.id))
    service.status = "inactive"
    db.session.commit()
    assert count() == 0 and search(SearchQuery(text="quokka")).total == 0

    # Emptied rows while the directory has active services: not ready, and says how to fix it.
    _service(db, "Numbat Pantry", "Another Org")
    seam.current_backend().clear()
    ready, why = seam.is_ready()
    assert not ready and "flask search reindex" in why
    assert seam.current_backend().rebuild() == 1
    assert seam.is_ready()[0]
    assert [h.service_name for h in search(SearchQuery(text="numbat")).hits] == ["Numbat Pantry"]
