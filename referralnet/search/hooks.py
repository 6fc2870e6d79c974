"""Record what a directory change touched, in its own transaction, for the search index to apply.

Changes are noticed in three ways, none of which the directory code has to know about
(search/changes.py, shared with the postgres backend): ORM objects flushed (admin pages,
services), ORM bulk INSERT/UPDATE statements (the importer), and deletes. The affected services are worked out inside the transaction and
written as `search_change` rows (search/models.py) on the same connection: they commit or
roll back with the change itself, so a committed change is never lost and a rolled-back one
indexes nothing. A bulk statement whose rows cannot be told (or that touches more than
`MARKER_THRESHOLD` services) writes one "rebuild everything" row instead.

Nothing is indexed inside the request: after the commit the index applier (search/sync.py)
is woken and applies the rows in the background (`SEARCH_SYNC="inline"` applies them right
after the commit instead, for tests and one-off scripts). Other processes and hosts pick the
rows up when they poll. If applying fails the commit still stands (the database is the truth).
"""
from __future__ import annotations

import logging

from flask import current_app, has_app_context, has_request_context
from sqlalchemy import event, insert
from sqlalchemy.orm import Session

from referralnet.db import utcnow
from referralnet.search import changes
from referralnet.search.models import SearchChange

log = logging.getLogger(__name__)
KEY = "search_dirty"  # marks noticed, not yet written as change rows
RECORDED = "search_recorded"  # service ids written as change rows in this transaction
MARKER_THRESHOLD = 5000  # more services than this in one write: one "rebuild everything" row

def _mark(session: Session, marks) -> None:
    if marks:
        session.info.setdefault(KEY, set()).update(marks)


def _after_flush(session: Session, _ctx) -> None:
    _mark(session, changes.flushed(session))
    _record(session)


def _before_flush(session: Session, _ctx, _instances) -> None:
    _mark(session, changes.cascaded(session))


def _orm_execute(state) -> None:
    _mark(state.session, changes.executed(state))


def _record(session: Session) -> None:
    """Write the marks noticed so far as change rows, on the session's own connection (its transaction)."""
    marks = session.info.pop(KEY, None)
    if not marks or _backend_name() != "whoosh":  # the postgres backend writes its own rows (pg_backend)
        return
    connection = session.connection()
    ids = changes.services_for(connection, marks)
    recorded = session.info.setdefault(RECORDED, set())
    if ids is not None:
        ids -= recorded
        if not ids:
            return
    now = utcnow()
    if ids is None or len(ids) > MARKER_THRESHOLD:
        connection.execute(insert(SearchChange), [{"service_id": None, "changed_at": now}])
    else:
        connection.execute(insert(SearchChange), [{"service_id": i, "changed_at": now} for i in sorted(ids)])
        recorded.update(ids)
    session.info["search_changed"] = True


def _before_commit(session: Session) -> None:
    # Bulk statements mark without a flush after them: write their rows now (the commit's own
    # flush, which follows, writes the rest from _after_flush).
    _record(session)


def _after_rollback(session: Session, previous_transaction=None) -> None:
    # A savepoint rolled back (bookkeeping that could not get a lock, db.bookkeeping) took its change
    # rows with it but leaves the transaction alive: forget which services were recorded (they are
    # written again if marked again); only a rollback of the whole transaction forgets everything.
    session.info.pop(RECORDED, None)
    if previous_transaction is not None and previous_transaction.nested:
        return
    session.info.pop(KEY, None)
    session.info.pop("search_changed", None)


def _after_commit(session: Session) -> None:
    # SQLAlchemy also calls this when a savepoint is released; the transaction goes on, its changes
    # are not committed yet (another connection would not see them): wake the applier at the real commit.
    if session.in_nested_transaction():
        return
    session.info.pop(RECORDED, None)
    changed = session.info.pop("search_changed", False)
    if not changed or not has_app_context() or not current_app.config.get("SEARCH_AUTO_INDEX", True):
        return
    from referralnet.search import sync

    try:
        if current_app.config.get("SEARCH_SYNC", "background") == "inline":
            sync.apply_pending()
        else:
            # A process that serves requests keeps an applier running; a CLI command or script wakes
            # one only if it has one (the serving processes poll the change table and catch up).
            sync.notify(start=has_request_context())
    except Exception:  # noqa: BLE001 - the commit stands; the applier retries, `flask search reindex` repairs
        log.exception("search index update failed after commit; it is retried, or run `flask search reindex`")


def _backend_name() -> str:
    from referralnet.search.backend import BackendMisconfigured, backend_name

    if not has_app_context():
        return "whoosh"
    try:
        return backend_name()
    except BackendMisconfigured:  # reported by searches and readiness, never by a commit
        return ""


def register_search_hooks(session_factory) -> None:
    """Attach the listeners to the app's session class (once)."""
    if getattr(session_factory, "_referralnet_search_hooks", False):
        return
    event.listen(session_factory, "before_flush", _before_flush)
    event.listen(session_factory, "after_flush", _after_flush)
    event.listen(session_factory, "do_orm_execute", _orm_execute)
    event.listen(session_factory, "before_commit", _before_commit)
    event.listen(session_factory, "after_commit", _after_commit)
    event.listen(session_factory, "after_soft_rollback", lambda s, t: _after_rollback(s, t))
    session_factory._referralnet_search_hooks = True
