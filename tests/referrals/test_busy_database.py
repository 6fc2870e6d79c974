"""A busy database never gives a 500: the write lock held by another process (SQLite) or a row
lock held by another transaction (PostgreSQL).

- a page view whose bookkeeping (audit row, "first viewed") cannot get the lock still shows the
  page, and the bookkeeping is written once the lock is free, with the time of the view;
- a change that cannot get the lock answers 503 "busy, nothing was saved" with Retry-After, as
  a page or as JSON, and nothing of it is saved;
- an error page is rendered only after the rollback, and if even it fails, our own plain page
  answers, never Werkzeug's bare one.
"""
from __future__ import annotations

import subprocess
import sys
import time
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, func, select, text as sql
from sqlalchemy.exc import OperationalError
from werkzeug.security import generate_password_hash

from referralnet.api.tokens import create_api_token
from referralnet.audit.models import AuditLog
from referralnet.referrals.models import Referral, ReferralEvent, Status
from tests.conftest import PASSWORD, csrf_token_from
from tests.referrals.conftest import signed_in

FAST_HASH = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")

# A second process that takes SQLite's write lock and keeps it until told to let go.
LOCK_HOLDER = """
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.readline()
connection.execute("ROLLBACK")
print("released", flush=True)
"""


def text(response) -> str:
    return response.get_data(as_text=True)


def _is_sqlite(app) -> bool:
    return app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite")


@contextmanager
def sqlite_lock_held_by_another_process(app):
    path = app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
    holder = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, path], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        yield
    finally:
        holder.stdin.write("go\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "released"
        holder.wait(10)


@contextmanager
def postgres_row_locked_by_another_transaction(app, referral_id: int):
    engine = create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    try:
        with engine.connect() as other:
            other.execute(sql("SELECT id FROM referral WHERE id = :id FOR UPDATE"), {"id": referral_id})
            yield
            other.rollback()
    finally:
        engine.dispose()


@contextmanager
def locked(app, referral_id: int):
    """The database as busy as another writer can make it for this referral."""
    if _is_sqlite(app):
        with sqlite_lock_held_by_another_process(app):
            yield
    else:
        with postgres_row_locked_by_another_transaction(app, referral_id):
            yield


@pytest.fixture()
def web(app, db, world, make_referral):
    for user in world.actors.values():
        user.password_hash = FAST_HASH
    world.referral = make_referral(Status.REQUESTED)
    db.session.commit()

    world.as_ = lambda user: signed_in(app, user)
    return world


def _views(db, referral_id: int) -> list[AuditLog]:
    db.session.rollback()
    return list(db.session.scalars(select(AuditLog).where(AuditLog.action == "referral.view",
                                                          AuditLog.object_id == str(referral_id))))


def _deferred(app):
    return app.extensions["deferred_writes"]


def test_a_view_shows_the_page_while_another_writer_holds_the_lock_and_is_recorded_after(app, db, web):
    partner = web.as_(web.partner)
    referral_id = web.referral.id
    with locked(app, referral_id):
        started = time.monotonic()
        response = partner.get(f"/referrals/{referral_id}")
        waited = time.monotonic() - started
        assert response.status_code == 200, text(response)
        assert "Eastside Pantry" in text(response)
        assert waited < app.config["DATABASE_LOCK_TIMEOUT"]  # bookkeeping waits its own, shorter time
        assert len(_deferred(app)) >= 1
        assert _views(db, referral_id) == []  # not yet: the lock is still held
    assert _deferred(app).wait_until_empty(30)
    views = _views(db, referral_id)
    assert [v.user_id for v in views] == [web.partner.id]
    referral = db.session.get(Referral, referral_id)
    assert referral.first_viewed_at is not None
    # Recorded with the time of the view, not of the retry.
    assert abs((views[0].at - referral.first_viewed_at).total_seconds()) < 0.01
    assert db.session.scalar(select(func.count()).select_from(ReferralEvent).where(
        ReferralEvent.referral_id == referral_id, ReferralEvent.kind == "viewed")) == 1


def test_a_change_that_cannot_get_the_lock_is_a_503_and_saves_nothing(app, db, web):
    partner = web.as_(web.partner)
    referral_id = web.referral.id
    page = text(partner.get(f"/referrals/{referral_id}"))
    assert _deferred(app).wait_until_empty(10)
    token = csrf_token_from(page)
    form = {"accepted-csrf_token": token, "csrf_token": token, "accepted-version": "1", "accepted-note": "On it"}
    with locked(app, referral_id):
        response = partner.post(f"/referrals/{referral_id}/status/accepted", data=form)
        assert response.status_code == 503
        assert response.headers["Retry-After"].isdigit()
        body = text(response)
        assert "nothing was saved" in body and "try again" in body.lower()
        assert "Werkzeug" not in body and "Internal Server Error" not in body
        assert 'href="/logout"' in body or "Sign out" in body  # the full page, rendered after the rollback
        as_json = partner.post(f"/referrals/{referral_id}/status/accepted", data=form,
                               headers={"Accept": "application/json"})
        assert as_json.status_code == 503 and as_json.headers["Retry-After"].isdigit()
        assert as_json.get_json() == {"code": "busy", "status": 503, "errors": {},
                                      "message": as_json.get_json()["message"]}
    db.session.rollback()
    referral = db.session.get(Referral, referral_id)
    assert referral.status == Status.REQUESTED.value and referral.version == 1
    assert db.session.scalar(select(func.count()).select_from(ReferralEvent).where(
        ReferralEvent.referral_id == referral_id, ReferralEvent.kind == "status")) == 0  # made directly in set-up
    # Once the lock is free, the same form goes through.
    assert partner.post(f"/referrals/{referral_id}/status/accepted", data=form).status_code == 302


def test_the_rest_api_answers_503_in_its_error_contract(app, db, web):
    _, secret = create_api_token(web.admin, web.partner_org, name="agency system",
                                 scopes=["referrals:read", "referrals:write"])
    db.session.commit()
    api = app.test_client()
    headers = {"Authorization": f"Bearer {secret}"}
    referral_id = web.referral.id
    assert api.get(f"/api/v1/referrals/{referral_id}", headers=headers).status_code == 200
    assert _deferred(app).wait_until_empty(10)
    with locked(app, referral_id):
        read = api.get(f"/api/v1/referrals/{referral_id}", headers=headers)
        assert read.status_code == 200  # a read is served; its bookkeeping waits
        change = api.post(f"/api/v1/referrals/{referral_id}/transitions", headers=headers,
                          json={"to": "accepted"})
        assert change.status_code == 503, change.get_data(as_text=True)
        assert change.headers["Retry-After"].isdigit()
        assert change.get_json()["code"] == "busy"
        fhir = api.get(f"/fhir/Task/{referral_id}", headers=headers)
        assert fhir.status_code == 200
    assert _deferred(app).wait_until_empty(30)
    db.session.rollback()
    assert db.session.get(Referral, referral_id).status == Status.REQUESTED.value


def test_a_commit_that_cannot_get_the_lock_is_a_503(app, db, web, monkeypatch):
    """The lock can also be refused at the request's one commit (after the view ran)."""
    import sqlite3

    from referralnet.extensions import db as ext_db

    partner = web.as_(web.partner)
    page = text(partner.get(f"/referrals/{web.referral.id}"))
    token = csrf_token_from(page)
    real_commit = type(ext_db.session()).commit

    def busy_commit(session):
        raise OperationalError("COMMIT", {}, sqlite3.OperationalError("database is locked"))

    monkeypatch.setattr(type(ext_db.session()), "commit", busy_commit)
    try:
        response = partner.post(f"/referrals/{web.referral.id}/messages",
                                data={"message-csrf_token": token, "csrf_token": token, "message-body": "Hello"})
    finally:
        monkeypatch.setattr(type(ext_db.session()), "commit", real_commit)
    assert response.status_code == 503 and "nothing was saved" in text(response)
    assert response.headers["Retry-After"].isdigit()


def test_the_error_page_never_falls_back_to_werkzeugs_bare_page(app, db, monkeypatch):
    from referralnet import errors

    def broken(*args, **kwargs):
        raise RuntimeError("the template itself fails")

    monkeypatch.setattr(errors, "render_template", broken)
    with app.test_request_context("/anything"):
        body, status, headers = errors.error_response(500, "internal_error", "Something <went> wrong.")
    assert status == 500 and "text/html" in headers["Content-Type"]
    assert "Something &lt;went&gt; wrong." in body and "Werkzeug" not in body


def test_is_busy_knows_both_databases_and_nothing_else():
    import sqlite3

    from referralnet.db import is_busy

    assert is_busy(OperationalError("x", {}, sqlite3.OperationalError("database is locked")))
    assert not is_busy(OperationalError("x", {}, sqlite3.OperationalError("no such table: referral")))

    class LockNotAvailable(Exception):
        sqlstate = "55P03"

    class UniqueViolation(Exception):
        sqlstate = "23505"

    assert is_busy(OperationalError("x", {}, LockNotAvailable()))
    assert not is_busy(OperationalError("x", {}, UniqueViolation()))
    assert not is_busy(ValueError("locked"))


def test_each_connection_waits_the_configured_time_for_a_lock(app, db):
    connection = db.session.connection()
    if not _is_sqlite(app):
        assert connection.exec_driver_sql("SHOW lock_timeout").scalar() == \
            f"{int(app.config['DATABASE_LOCK_TIMEOUT'])}s"
        # No JIT compilation: ~70 ms of CPU per worklist count for a query that runs in 2 ms.
        assert connection.exec_driver_sql("SHOW jit").scalar() == "off"
        # Every run planned for its own values (psycopg prepares repeated statements; a generic plan for a
        # report's period read the whole table).
        assert connection.exec_driver_sql("SHOW plan_cache_mode").scalar() == "force_custom_plan"
        # Pages read out of order priced for SSDs: the reports' counts take their covering index.
        assert float(connection.exec_driver_sql("SHOW random_page_cost").scalar()) == \
            app.config["DATABASE_RANDOM_PAGE_COST"] == 1.1
        return
    assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == \
        int(app.config["DATABASE_LOCK_TIMEOUT"] * 1000)


def test_bookkeeping_waits_its_own_shorter_time_and_puts_the_connections_back(app, db):
    """_short_lock_wait: the bookkeeping's lock wait inside the block, the connection's own after it (also
    after an error inside), and the same again on a second use in the same transaction."""
    from referralnet.db import _short_lock_wait

    connection = db.session.connection()
    sqlite = _is_sqlite(app)
    read = "PRAGMA busy_timeout" if sqlite else "SHOW lock_timeout"
    own = connection.exec_driver_sql(read).scalar()
    short = 250 if sqlite else "250ms"
    for _ in range(2):
        with _short_lock_wait(db.session, 0.25):
            assert connection.exec_driver_sql(read).scalar() == short
        assert connection.exec_driver_sql(read).scalar() == own
    try:
        with _short_lock_wait(db.session, 0.25):
            raise ValueError("inside")
    except ValueError:
        pass
    assert connection.exec_driver_sql(read).scalar() == own
    db.session.rollback()


def test_a_deferred_write_that_never_succeeds_is_logged_not_lost_silently(app, db, web, caplog):
    from referralnet.db import DeferredWrites
    from referralnet.referrals import services

    import logging

    logging.getLogger("referralnet.bookkeeping").disabled = False  # Alembic's fileConfig turned it off
    queue = DeferredWrites(app, max_attempts=1)
    raw = services.mark_viewed.__wrapped__

    def always_busy(*args, **kwargs):
        import sqlite3

        raise OperationalError("INSERT", {}, sqlite3.OperationalError("database is locked"))

    always_busy.__module__, always_busy.__qualname__ = raw.__module__, raw.__qualname__
    queue.defer(always_busy, (web.partner, web.referral), {"now": None})
    with caplog.at_level("ERROR", logger="referralnet.bookkeeping"):
        queue.retry_due(everything=True)
    assert len(queue) == 0
    message = " ".join(r.getMessage() for r in caplog.records)
    assert "could not be recorded after 1 tries" in message
    assert f"User#{web.partner.id}" in message and f"Referral#{web.referral.id}" in message
    assert web.partner.email not in message  # ids only


def test_bookkeeping_savepoints_leave_the_search_index_to_the_real_commit(app, db, web):
    """A savepoint released (or rolled back) in the middle of a directory change is not a commit: the
    index follows the change once, when the whole transaction commits."""
    from referralnet.directory.models import Service
    from referralnet.referrals import services
    from referralnet.search.service import SearchQuery, search

    service = db.session.get(Service, "svc-meals")
    service.name = "Zebrafruit Hot Meals"
    db.session.flush()
    services.record_client_view(web.partner, web.referral.client)  # a savepoint, released
    with pytest.raises(RuntimeError):
        with db.session.begin_nested():  # and one rolled back
            raise RuntimeError("bookkeeping gave up")
    assert search(SearchQuery(text="Zebrafruit")).total == 0  # nothing committed yet
    db.session.commit()
    assert [h.service_id for h in search(SearchQuery(text="Zebrafruit")).hits] == ["svc-meals"]


def test_a_patients_report_that_cannot_get_the_lock_says_so_in_their_language(app, db, web):
    from referralnet.referrals import patient_links

    token = patient_links.ensure_link(web.referral)
    db.session.commit()
    patient = app.test_client()
    page = text(patient.get(f"/s/{token}?lang=es"))
    with locked(app, web.referral.id):
        response = patient.post(f"/s/{token}?lang=es", data={"report": "not-heard-back",
                                                            "csrf_token": csrf_token_from(page)})
    assert response.status_code == 503 and response.headers["Retry-After"].isdigit()
    assert "no se guardó nada" in text(response) and '<html lang="es">' in text(response)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(ReferralEvent).where(
        ReferralEvent.kind == "report")) == 0
