"""The Whoosh index follows the change table outside the request, and knows which database it reflects.

The suite's app applies changes inline (tests/conftest.py); here apps of their own run the real
background applier (SEARCH_SYNC="background") on the same database, each with its own index
directory, as a second process or host would.
"""
from __future__ import annotations

import multiprocessing
import sqlite3
import time

import pytest
from sqlalchemy import func, select, update

from referralnet import create_app
from referralnet.directory import models as m
from referralnet.search import state, sync
from referralnet.search.index import document_count, index_dir, open_index, rebuild_index
from referralnet.search.models import SearchChange, SearchState
from referralnet.search.service import SearchQuery, search
from tests import factories as f


@pytest.fixture(autouse=True)
def whoosh_backend(app, monkeypatch):
    """These are the Whoosh backend's tests: on PostgreSQL too (where the postgres backend is the
    default), the suite's app searches and records changes through Whoosh here."""
    monkeypatch.setitem(app.config, "SEARCH_BACKEND", "whoosh")


def names(**kwargs) -> set[str]:
    return {h.service_name for h in search(SearchQuery(per_page=100, **kwargs)).hits}


def small_directory(db, n: int = 3) -> None:
    org = f.directory_org(db.session, "sync-org", "Harbor Aid")
    for i in range(n):
        f.service(db.session, f"sync-svc-{i}", org, f"Harbor Pantry {i}", description="groceries and food")
    db.session.commit()


def changes(db) -> list[tuple[int, str | None]]:
    return [tuple(r) for r in db.session.execute(select(SearchChange.id, SearchChange.service_id)
                                                 .order_by(SearchChange.id))]


@pytest.fixture()
def bg_app(app, db, tmp_path):
    """A second app on the same database with its own index, following it in the background."""
    other = create_app({
        "TESTING": True, "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
        "SEARCH_INDEX_DIR": str(tmp_path / "bg-index"),
        "SEARCH_SYNC": "background", "SEARCH_POLL_SECONDS": 0.2, "SEARCH_BACKEND": "whoosh",
    })

    @other.get("/_test/close-everything")
    def close_everything():  # an ORM bulk UPDATE inside a request, committed by the request
        from referralnet.extensions import db as _db

        _db.session.execute(update(m.Service).values(accepting_referrals=False))
        return "closed"

    yield other
    with other.app_context():
        sync.stop_appliers()


# --- the change table: written with the change, in its transaction ---------------------------------

def test_a_change_writes_a_change_row_in_its_transaction(db):
    small_directory(db)
    before = changes(db)
    assert {sid for _, sid in before} == {"sync-svc-0", "sync-svc-1", "sync-svc-2"}
    svc = db.session.get(m.Service, "sync-svc-1")
    svc.name = "Harbor Kitchen"
    db.session.commit()
    after = changes(db)
    assert after[len(before):] == [(after[-1][0], "sync-svc-1")]
    assert "Harbor Kitchen" in names(text="kitchen")  # applied after the commit (inline in this app)


def test_a_rolled_back_change_writes_nothing_and_indexes_nothing(db):
    small_directory(db)
    before = changes(db)
    svc = db.session.get(m.Service, "sync-svc-1")
    svc.name = "Harbor Kitchen"
    db.session.flush()  # the change row is written here, on the same connection...
    assert len(changes(db)) == len(before) + 1
    db.session.rollback()  # ...and goes with the change
    assert changes(db) == before
    assert names(text="kitchen") == set()
    assert sync.index_status().current


def test_a_location_change_records_the_services_at_it(db):
    org = f.directory_org(db.session, "sync-org", "Harbor Aid")
    svc = f.service(db.session, "sync-svc-0", org, "Harbor Pantry")
    loc = f.place(db.session, "sync-loc", org, "Harbor Hall", postal_code="94401")
    db.session.add(m.ServiceAtLocation(id="sync-sal", service=svc, location=loc))
    db.session.commit()
    count = len(changes(db))
    db.session.get(m.Location, "sync-loc").name = "Harbor Community Hall"
    db.session.commit()
    assert changes(db)[count:] == [(changes(db)[-1][0], "sync-svc-0")]


def test_a_bulk_update_of_unknown_rows_writes_one_rebuild_marker(db):
    small_directory(db)
    count = len(changes(db))
    db.session.execute(update(m.Service).values(accepting_referrals=False))
    db.session.commit()
    assert [sid for _, sid in changes(db)[count:]] == [None]
    assert names(text="pantry", accepting_only=True) == set()  # rebuilt (inline here)


# --- the background applier -------------------------------------------------------------------------

def test_a_bulk_update_in_a_request_returns_before_indexing(bg_app, db):
    small_directory(db)
    with bg_app.app_context():
        assert sync.wait_until_current(30)
        assert len(names(text="pantry", accepting_only=True)) == 3
        ix = open_index()
        lock = ix.lock("WRITELOCK")
        assert lock.acquire(blocking=False)  # nobody can write the index: an in-request rebuild would hang
        try:
            start = time.monotonic()
            response = bg_app.test_client().get("/_test/close-everything")
            elapsed = time.monotonic() - start
            assert response.status_code == 200
            assert elapsed < 20  # the request did not wait for the lock (WRITE_LOCK_TIMEOUT is 60 s)
            time.sleep(0.5)  # the applier has woken and found the lock taken
            status = sync.index_status()
            assert status.pending == 1 and not status.current
            assert len(names(text="pantry", accepting_only=True)) == 3  # the index has not moved
        finally:
            lock.release()
        assert sync.wait_until_current(60)
        assert names(text="pantry", accepting_only=True) == set()


def _write_from_another_process(url: str, service_id: str, name: str, queue) -> None:
    from referralnet import create_app as make_app
    from referralnet.extensions import db as _db

    try:
        other = make_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "x", "SEARCH_AUTO_INDEX": False,
                          "SEARCH_INDEX_DIR": "/nonexistent/never-opened", "SEARCH_BACKEND": "whoosh"})
        with other.app_context():
            _db.session.get(m.Service, service_id).name = name
            _db.session.commit()
        queue.put("ok")
    except Exception as exc:  # noqa: BLE001 - reported to the test
        queue.put(f"{type(exc).__name__}: {exc}")


def test_a_commit_by_another_process_is_picked_up_by_polling(bg_app, db):
    small_directory(db)
    with bg_app.app_context():
        assert sync.wait_until_current(30)
        assert names(text="lighthouse") == set()
        ctx = multiprocessing.get_context("spawn")
        queue = ctx.Queue()
        proc = ctx.Process(target=_write_from_another_process,
                           args=(bg_app.config["SQLALCHEMY_DATABASE_URI"], "sync-svc-2", "Lighthouse Meals", queue))
        proc.start()
        proc.join(180)
        assert queue.get(timeout=5) == "ok"
        # Nothing in this process was told: only the applier's polling can bring the change in.
        deadline = time.monotonic() + 30
        while not names(text="lighthouse") and time.monotonic() < deadline:
            time.sleep(0.1)
        assert names(text="lighthouse") == {"Lighthouse Meals"}
        assert sync.index_status().current


def test_an_applier_catches_up_on_start(bg_app, db):
    small_directory(db)  # committed before this app's applier ever ran
    with bg_app.app_context():
        assert not sync.index_status().current
    client = bg_app.test_client()
    # The process's first request that searches starts its applier, which catches up by itself.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        total = client.get("/hsds/services?search=pantry").get_json()["total_items"]
        if total == 3:
            break
        time.sleep(0.1)
    assert total == 3
    with bg_app.app_context():
        assert sync.index_status().current


# --- which database the index reflects --------------------------------------------------------------

def _sqlite_path(app) -> str:
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if not url.startswith("sqlite:///"):
        pytest.skip("copies the SQLite file (PostgreSQL's backup and restore: issue 12 item 6)")
    return url[len("sqlite:///"):]


def _copy(src: str, dst: str) -> None:
    with sqlite3.connect(src) as a, sqlite3.connect(dst) as b:
        a.backup(b)
    a.close()
    b.close()


@pytest.mark.parametrize("write_after_restore", [False, True])
def test_a_database_restored_from_a_backup_is_detected_and_rebuilt(app, db, tmp_path, runner,
                                                                   write_after_restore):
    path = _sqlite_path(app)
    small_directory(db)
    db.session.remove()
    _copy(path, str(tmp_path / "backup.db"))
    db.session.get(m.Service, "sync-svc-0").name = "Zebra Crossing Pantry"
    db.session.get(m.Service, "sync-svc-1").status = "inactive"
    db.session.commit()
    assert names(text="zebra") == {"Zebra Crossing Pantry"}
    db.session.remove()
    _copy(str(tmp_path / "backup.db"), path)  # the restore: the database as it was before those changes
    if write_after_restore:  # new change ids reach the index's last one again: still told apart
        db.session.add(SearchChange(service_id="sync-svc-2"))
        db.session.add(SearchChange(service_id="sync-svc-2"))
        db.session.commit()
    status = sync.index_status()
    assert status.rebuild_reason and "restored" in status.rebuild_reason
    result = runner.invoke(args=["search", "status"])
    assert result.exit_code == 1 and "STALE" in result.output and "restored" in result.output
    assert sync.apply_pending().action == "rebuild"
    assert names(text="zebra") == set()
    assert names(text="pantry") == {"Harbor Pantry 0", "Harbor Pantry 1", "Harbor Pantry 2"}
    assert sync.index_status().current


def test_another_database_is_detected_by_its_generation(db):
    small_directory(db)
    assert sync.index_status().current
    db.session.execute(update(SearchState).values(generation="0" * 32))
    db.session.commit()
    status = sync.index_status()
    assert not status.generation_matches and "another one" in status.rebuild_reason
    assert sync.apply_pending().action == "rebuild"
    assert sync.index_status().current


def test_changes_are_applied_incrementally_and_advance_the_recorded_state(db):
    small_directory(db)
    recorded = state.read_state(index_dir())
    newest = db.session.scalar(select(func.max(SearchChange.id)))
    assert recorded.last_id == newest
    db.session.add(SearchChange(service_id="sync-svc-0"))
    db.session.commit()  # not a directory change: nothing applies it until the next cycle
    assert sync.index_status().pending == 1
    applied = sync.apply_pending()
    assert (applied.action, applied.services) == ("changes", 1)
    assert sync.index_status().current


# --- flask search status / reindex ------------------------------------------------------------------

def test_search_status_command(runner, db):
    small_directory(db)
    result = runner.invoke(args=["search", "status"])
    assert result.exit_code == 0, result.output
    for line in ("index:", "documents:           3", "database generation: matches", "pending changes:     0",
                 "schema version:      current", "state:               current"):
        assert line in result.output, result.output
    db.session.add(SearchChange(service_id="sync-svc-0"))
    db.session.commit()
    result = runner.invoke(args=["search", "status"])
    assert result.exit_code == 1
    assert "pending changes:     1, oldest" in result.output
    assert "STALE: 1 changes not applied" in result.output


def test_a_parallel_rebuild_builds_the_same_index(app, db, monkeypatch):
    from referralnet.search import index

    small_directory(db, n=6)
    serial = {h.service_id for h in search(SearchQuery(per_page=100, text="pantry")).hits}
    monkeypatch.setattr(index, "PARALLEL_MIN_SERVICES", 1)
    monkeypatch.setitem(app.config, "SEARCH_REBUILD_PROCS", 2)
    assert rebuild_index() == 6
    assert document_count() == 6
    assert len(open_index()._read_toc().segments) == 2  # one per worker
    assert {h.service_id for h in search(SearchQuery(per_page=100, text="pantry")).hits} == serial
    assert sync.index_status().current


def test_is_ready_for_the_load_balancer(db):
    from datetime import timedelta

    from referralnet.db import utcnow

    small_directory(db)
    ready, why = sync.is_ready()
    assert ready, why
    db.session.add(SearchChange(service_id="sync-svc-0", changed_at=utcnow() - timedelta(seconds=5)))
    db.session.commit()
    assert sync.is_ready()[0]  # a few seconds behind is still serving
    db.session.add(SearchChange(service_id="sync-svc-1", changed_at=utcnow() - timedelta(minutes=2)))
    db.session.commit()
    ready, why = sync.is_ready()
    assert not ready and "behind: 2 changes waiting" in why
    sync.apply_pending()
    assert sync.is_ready()[0]
    db.session.execute(update(SearchState).values(generation="f" * 32))
    db.session.commit()
    ready, why = sync.is_ready()
    assert not ready and "rebuilt" in why


def test_a_generation_replaced_while_it_is_read_is_read_again(app, monkeypatch, tmp_path):
    """Another thread's commit deletes the table of contents exists_in had found: the next one is read."""
    from whoosh import index as whoosh_index

    from referralnet.search.index import index_exists

    real, failures = whoosh_index.exists_in, []

    def racing(dirname, indexname=None):
        if not failures:
            failures.append(dirname)
            raise FileNotFoundError(f"{dirname}/_MAIN_0.toc")
        return real(dirname, indexname=indexname)

    monkeypatch.setattr(whoosh_index, "exists_in", racing)
    assert index_exists(tmp_path) is False and failures == [str(tmp_path)]


def test_an_index_opened_while_a_commit_replaces_its_generation_is_opened_again(app, monkeypatch, tmp_path):
    """open_dir meets the same race as exists_in: the table of contents it found is gone when read."""
    from whoosh import index as whoosh_index

    from referralnet.search.index import open_dir
    from referralnet.search.schema import build_schema

    whoosh_index.create_in(str(tmp_path), build_schema())
    real, failures = whoosh_index.open_dir, []

    def racing(dirname, indexname=None, readonly=False, schema=None):
        if not failures:
            failures.append(dirname)
            raise FileNotFoundError(f"{dirname}/_MAIN_1.toc")
        return real(dirname, indexname=indexname, readonly=readonly, schema=schema)

    monkeypatch.setattr(whoosh_index, "open_dir", racing)
    assert open_dir(tmp_path).doc_count() == 0 and failures == [str(tmp_path)]
