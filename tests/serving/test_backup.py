"""`flask backup create` / `restore` on SQLite: a consistent copy while the app writes, and after a
restore, search answers from the restored data."""
from __future__ import annotations

import sqlite3
import threading

import pytest
from flask_migrate import upgrade
from sqlalchemy import select

from referralnet import create_app
from referralnet.directory.models import Organization, Service
from referralnet.extensions import db as _db
from referralnet.search.index import rebuild_index
from referralnet.search.service import SearchQuery, search
from tests import factories as f


@pytest.fixture()
def sqlite_app(tmp_path):
    """An app of its own on a SQLite file (these commands are for SQLite, whatever the suite runs on)."""
    app = create_app({"TESTING": True, "SECRET_KEY": "test", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'live.db'}",
                      "SEARCH_INDEX_DIR": str(tmp_path / "index")})
    with app.app_context():
        upgrade()
    yield app
    with app.app_context():
        _db.session.remove()
        _db.engine.dispose()


def _names(text: str) -> set[str]:
    return {hit.service_name for hit in search(SearchQuery(text=text)).hits}


def _invoke(app, *args):
    result = app.test_cli_runner().invoke(args=list(args))
    return result.exit_code, result.output


def test_a_backup_taken_while_a_writer_commits_is_consistent(sqlite_app, tmp_path):
    """Each of the writer's transactions adds an organization and its service together: every backup
    holds whole transactions only, however the copy falls between them."""
    stop, commits = threading.Event(), []

    def writer():
        with sqlite_app.app_context():
            n = 0
            while not stop.is_set():
                n += 1
                org = f.directory_org(_db.session, f"org-w{n}", f"Writer Org {n}")
                f.service(_db.session, f"svc-w{n}", org, f"Writer Service {n}")
                _db.session.commit()
                commits.append(n)
            _db.session.remove()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(commits) < 20:
            threading.Event().wait(0.01)
        outputs = []
        for n in range(5):
            before = len(commits)
            code, output = _invoke(sqlite_app, "backup", "create", str(tmp_path / f"backup-{n}.db"))
            assert code == 0, output
            outputs.append(output)
            while len(commits) == before:  # the writer keeps going between and during backups
                threading.Event().wait(0.01)
    finally:
        stop.set()
        thread.join()
    assert "integrity ok" in outputs[0]
    sizes = []
    for n in range(5):
        copy = sqlite3.connect(tmp_path / f"backup-{n}.db")
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        orgs = {row[0] for row in copy.execute("SELECT id FROM organization WHERE id LIKE 'org-w%'")}
        services = {row[0].replace("svc-", "org-") for row in copy.execute("SELECT id FROM service WHERE id LIKE 'svc-w%'")}
        copy.close()
        assert orgs == services, f"backup {n} holds half a transaction"
        assert orgs == {f"org-w{i}" for i in range(1, len(orgs) + 1)}  # a prefix of the commits, no gaps
        sizes.append(len(orgs))
    assert sizes == sorted(sizes) and sizes[0] >= 20 and sizes[-1] < len(commits)


def test_restore_brings_back_the_data_and_search_answers_from_it(sqlite_app, tmp_path):
    with sqlite_app.app_context():
        org = f.directory_org(_db.session, "org-harbor", "Harbor Community Services")
        f.service(_db.session, "svc-harbor", org, "Harbor Food Pantry", description="Groceries every week")
        _db.session.commit()
        rebuild_index()
        assert _names("pantry") == {"Harbor Food Pantry"}
    code, output = _invoke(sqlite_app, "backup", "create", str(tmp_path / "before.db"))
    assert code == 0, output

    # After the backup: the pantry becomes a legal clinic, a new service appears.
    with sqlite_app.app_context():
        service = _db.session.get(Service, "svc-harbor")
        service.name, service.description = "Harbor Legal Clinic", "Eviction defense"
        f.service(_db.session, "svc-later", _db.session.get(Organization, "org-harbor"), "Later Pantry")
        _db.session.commit()
        rebuild_index()
        assert _names("pantry") == {"Later Pantry"}

    code, output = _invoke(sqlite_app, "backup", "restore", "--yes", str(tmp_path / "before.db"))
    assert code == 0, output
    assert "Rebuilt the search index" in output
    with sqlite_app.app_context():
        assert _db.session.scalar(select(Service.name).where(Service.id == "svc-harbor")) == "Harbor Food Pantry"
        assert _db.session.get(Service, "svc-later") is None
        assert _names("pantry") == {"Harbor Food Pantry"}
        assert _names("eviction") == set()
    # and the app serves the restored state
    assert sqlite_app.test_client().get("/readyz").status_code == 200


def test_bad_backups_are_refused_and_change_nothing(sqlite_app, tmp_path):
    with sqlite_app.app_context():
        f.directory_org(_db.session, "org-keep", "Keep Me")
        _db.session.commit()
    not_a_db = tmp_path / "notes.db"
    not_a_db.write_text("this is not a database")
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).execute("CREATE TABLE t (x)").connection.commit()
    for path, message in ((tmp_path / "missing.db", "no such file"), (not_a_db, "not a ReferralNet SQLite backup"),
                          (empty, "not a ReferralNet SQLite backup")):
        code, output = _invoke(sqlite_app, "backup", "restore", "--yes", str(path))
        assert code != 0 and message in output and str(path) in output, output
    with sqlite_app.app_context():
        assert _db.session.get(Organization, "org-keep") is not None

    (tmp_path / "taken.db").write_text("keep")
    code, output = _invoke(sqlite_app, "backup", "create", str(tmp_path / "taken.db"))
    assert code != 0 and "already exists" in output
    assert (tmp_path / "taken.db").read_text() == "keep"
    code, output = _invoke(sqlite_app, "backup", "create", str(tmp_path / "no-such-folder" / "b.db"))
    assert code != 0 and "no such folder" in output


def test_postgresql_is_pointed_to_pg_dump(tmp_path):
    app = create_app({"SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://u@127.0.0.1:1/x",
                      "SEARCH_INDEX_DIR": str(tmp_path / "ix")})
    code, output = _invoke(app, "backup", "create", str(tmp_path / "b.db"))
    assert code != 0 and "pg_dump -Fc" in output and "pg_restore" in output
    assert not (tmp_path / "b.db").exists()
