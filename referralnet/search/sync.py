"""The Whoosh index follows the database's change table, outside the request.

A directory change writes `search_change` rows in its own transaction (search/hooks.py). Here, one
daemon thread per process (the applier) applies them to this host's index: woken right after a
commit in this process that wrote rows, and every `SEARCH_POLL_SECONDS` otherwise, so that changes
committed by other processes and hosts are picked up too. It is started lazily, by the first
search, commit or readiness check of a process that serves requests, and catches up at once.

Each cycle (`apply_pending`) compares the index's recorded state with the database (search/state.py):

- nothing new: nothing to do (two small queries, no lock);
- new change rows: their services are re-indexed in one Whoosh writer transaction, holding
  Whoosh's write lock, and the new position is recorded before the lock is released (several
  processes on one host share one index directory and never apply the same rows twice at once);
- a "rebuild everything" row, more than `INCREMENTAL_LIMIT` services, or an index that does not
  reflect this database (another generation; restored from a backup; a cleared index): rebuilt.

`SEARCH_SYNC="inline"` applies right after the commit, in the committing thread (tests and one-off
scripts); `SEARCH_AUTO_INDEX=False` applies nothing (benchmarks; `flask search reindex` then).
`wait_until_current()` lets a test wait for the background applier; `is_ready()` answers /readyz;
`index_status()` is what `flask search status` prints.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Optional

from flask import Flask, current_app, has_request_context
from sqlalchemy import delete
from sqlalchemy.orm import Session
from whoosh.index import LockError

from referralnet.db import utcnow
from referralnet.search import state
from referralnet.search.documents import documents_for
from referralnet.search.index import (WRITE_LOCK_TIMEOUT, cancel_writer, commit_holding_lock, index_dir,
                                      open_index, rebuild_index, write_services)
from referralnet.search.models import SearchChange
from referralnet.search.schema import index_version

log = logging.getLogger(__name__)
POLL_SECONDS = 3.0
INCREMENTAL_LIMIT = 2000  # more services waiting than this: a rebuild is faster than re-indexing each
READY_LAG_SECONDS = 30.0  # /readyz: ready while the oldest unapplied change is younger than this
RETENTION = timedelta(days=7)  # change rows older than this are pruned (an index that far behind rebuilds)
PRUNE_EVERY = 3600.0


@dataclass
class Applied:
    """What one cycle did: "current" (nothing to do), "changes", "rebuild", or "busy" (another
    process held the write lock: it is applying)."""

    action: str
    services: int = 0
    documents: int = 0
    reason: Optional[str] = None


def _session() -> Session:
    from referralnet.extensions import db

    return Session(db.engine)


def apply_pending(wait: bool = True) -> Applied:
    """Bring this host's index up to the database: apply new change rows, or rebuild when it must.

    `wait`: wait for Whoosh's write lock (up to WRITE_LOCK_TIMEOUT) rather than leave the work to
    the process holding it. Raises whoosh.index.LockError when it could not get the lock in time."""
    with _session() as s:
        recorded = state.read_state(index_dir())
        position = state.database_position(s)
        reason = state.rebuild_reason(s, recorded, position)
        if reason is None and position.max_id <= recorded.last_id and not recorded.holes:
            return Applied("current")
        rows = [] if reason else state.pending_changes(s, recorded, limit=INCREMENTAL_LIMIT + 1)
        if not reason:
            if not rows:
                _write_unlocked_holes(s, recorded)
                return Applied("current")
            services = {row.service_id for row in rows}
            if None in services:
                reason = "a change touched more services than can be told apart (a bulk update)"
            elif len(rows) > INCREMENTAL_LIMIT and len(services) > INCREMENTAL_LIMIT:
                reason = f"more than {INCREMENTAL_LIMIT} services changed"
    if reason:
        log.info("search index rebuild: %s", reason)
        documents = rebuild_index(expect=recorded)
        if documents is None:  # another process rebuilt or applied meanwhile: look again
            return apply_pending(wait)
        return Applied("rebuild", documents=documents, reason=reason)
    return _apply_rows(recorded, wait)


def _apply_rows(seen: state.IndexState, wait: bool) -> Applied:
    ix = open_index()
    writer = ix.writer(timeout=WRITE_LOCK_TIMEOUT if wait else 0.0)
    try:
        with _session() as s:
            # Under the lock, from the state as it is now (another process may have applied meanwhile).
            recorded = state.read_state(index_dir())
            position = state.database_position(s)
            if recorded is None or state.rebuild_reason(s, recorded, position) is not None:
                cancel_writer(writer)
                return apply_pending(wait)  # the rebuild path (it takes the lock itself)
            rows = state.pending_changes(s, recorded, limit=INCREMENTAL_LIMIT + 1)
            ids = sorted({row.service_id for row in rows if row.service_id is not None})
            if not rows or None in {row.service_id for row in rows} or len(ids) > INCREMENTAL_LIMIT:
                cancel_writer(writer)
                if not rows:
                    return Applied("current")
                return apply_pending(wait)
            docs = list(documents_for(ids, s))
            written = write_services(writer, ids, docs)
            new = state.advance(recorded, rows, state.tracks_holes(s))
            new.applied_at = utcnow().isoformat()
            commit_holding_lock(writer, lambda: state.write_state(index_dir(), new))
    except BaseException:
        cancel_writer(writer)
        raise
    return Applied("changes", services=len(ids), documents=written)


def _write_unlocked_holes(s: Session, recorded: state.IndexState) -> None:
    """Holes only expire (nothing to apply): record that under the lock if it is free, else leave it."""
    if not recorded.holes:
        return
    new = state.advance(recorded, [], state.tracks_holes(s))
    if new.holes == recorded.holes:
        return
    try:
        writer = open_index().writer(timeout=0.0)
    except LockError:
        return
    new.last_at, new.applied_at, new.documents = recorded.last_at, recorded.applied_at, recorded.documents
    commit_holding_lock(writer, lambda: state.write_state(index_dir(), new))


def prune_changes() -> int:
    """Delete change rows older than RETENTION (every index has applied them, or rebuilds). Returns rows."""
    with _session() as s:
        deleted = s.execute(delete(SearchChange).where(SearchChange.changed_at < utcnow() - RETENTION)).rowcount
        s.commit()
    return deleted or 0


# --- the background applier ----------------------------------------------------------------------

class _Applier:
    """One daemon thread per process and index: applies changes when woken, and polls."""

    def __init__(self, app: Flask):
        self.app = app
        self.pid = os.getpid()
        self.wake = threading.Event()
        self.stopping = False
        self.last_prune = 0.0
        self.thread = threading.Thread(target=self._run, name="search-index-applier", daemon=True)
        self.wake.set()  # catch up at once
        self.thread.start()

    def alive(self) -> bool:
        return self.pid == os.getpid() and self.thread.is_alive() and not self.stopping

    def _run(self) -> None:
        poll = float(self.app.config.get("SEARCH_POLL_SECONDS", POLL_SECONDS))
        failures = 0
        while not self.stopping:
            self.wake.wait(poll if not failures else min(60.0, poll * 2 ** failures))
            self.wake.clear()
            if self.stopping:
                break
            with self.app.app_context():
                try:
                    apply_pending(wait=False)
                    failures = 0
                    if time.monotonic() - self.last_prune > PRUNE_EVERY:
                        self.last_prune = time.monotonic()
                        prune_changes()
                except LockError:
                    pass  # another process is applying into this index: its work is ours
                except Exception:  # noqa: BLE001 - keep following; the next cycle retries
                    failures += 1
                    log.exception("search index applier failed (attempt %d); retrying", failures)


_appliers: dict[tuple[str, str], _Applier] = {}
_appliers_lock = threading.Lock()


def _key() -> tuple[str, str]:
    return str(index_dir()), str(current_app.config["SQLALCHEMY_DATABASE_URI"])


def background_enabled() -> bool:
    config = current_app.config
    return bool(config.get("SEARCH_AUTO_INDEX", True)) and config.get("SEARCH_SYNC", "background") == "background"


def notify(start: bool = True) -> None:
    """Wake this process's applier (started if `start` and there is none yet, e.g. after a fork)."""
    if not background_enabled():
        return
    key = _key()
    with _appliers_lock:
        applier = _appliers.get(key)
        if applier is None or not applier.alive():
            if not start:
                return
            applier = _appliers[key] = _Applier(current_app._get_current_object())
    applier.wake.set()


def ensure_applier() -> None:
    """Start this process's applier if it is not running: the first search or readiness check of a
    process serving requests calls this. Outside a request (a CLI command such as `flask search
    status`, a script) nothing is started: those only read the index, or apply inline."""
    if not background_enabled() or not has_request_context():
        return
    applier = _appliers.get(_key())
    if applier is None or not applier.alive():
        notify(start=True)


def stop_appliers(timeout: float = 10.0) -> None:
    """Stop every applier of this process (tests; a process that is about to exit cleanly)."""
    with _appliers_lock:
        appliers = list(_appliers.values())
        _appliers.clear()
    for applier in appliers:
        applier.stopping = True
        applier.wake.set()
    for applier in appliers:
        if applier.pid == os.getpid():
            applier.thread.join(timeout)


# --- how current the index is --------------------------------------------------------------------

@dataclass
class IndexStatus:
    """What `flask search status` prints and /readyz judges."""

    path: str
    exists: bool
    schema_current: bool
    documents: Optional[int]
    generation_matches: bool
    last_applied_id: Optional[int]
    newest_change_id: int
    pending: int
    oldest_pending_age: Optional[float]
    applied_at: Optional[str]
    rebuild_reason: Optional[str]

    @property
    def current(self) -> bool:
        return self.exists and self.schema_current and self.rebuild_reason is None and self.pending == 0

    def ready(self, max_lag_seconds: float = READY_LAG_SECONDS) -> tuple[bool, str]:
        if not self.exists:
            return False, "search index missing: it is being built, or run `flask search reindex`"
        if not self.schema_current:
            return False, "search index schema is out of date"
        if self.rebuild_reason:
            return False, f"search index being rebuilt: {self.rebuild_reason}"
        if self.pending and (self.oldest_pending_age or 0) > max_lag_seconds:
            return False, (f"search index behind: {self.pending} changes waiting, oldest "
                           f"{self.oldest_pending_age:.0f} s")
        return True, f"search index current to change {self.last_applied_id} ({self.pending} waiting)"


def index_status() -> IndexStatus:
    """How this host's index stands against the database (opens nothing for writing, changes nothing
    but a missing generation row)."""
    path = index_dir()
    version_file = path / "referralnet-schema-version"
    from referralnet.search.index import index_exists

    exists = index_exists(path)
    schema_current = exists and version_file.exists() and version_file.read_text() == index_version()
    documents = None
    if schema_current:
        from referralnet.search.index import document_count

        documents = document_count()
    recorded = state.read_state(path)
    with _session() as s:
        position = state.database_position(s)
        reason = state.rebuild_reason(s, recorded, position)
        pending, age = (0, None)
        if recorded is not None and reason is None:
            pending, age = state.lag(s, recorded)
        elif position.max_id:
            pending, age = state.lag(s, state.IndexState(position.generation, 0))
    return IndexStatus(
        path=str(path), exists=exists, schema_current=schema_current, documents=documents,
        generation_matches=recorded is not None and recorded.generation == position.generation,
        last_applied_id=recorded.last_id if recorded else None, newest_change_id=position.max_id,
        pending=pending, oldest_pending_age=age, applied_at=recorded.applied_at if recorded else None,
        rebuild_reason=reason)


def is_ready() -> tuple[bool, str]:
    """For /readyz: (ready, why). Ready when the index exists with the current schema, reflects this
    database, and its oldest unapplied change is younger than READY_LAG_SECONDS. Starts the applier
    of a serving process that has none, so a new worker catches up while the balancer waits."""
    ensure_applier()
    try:
        return index_status().ready(float(current_app.config.get("SEARCH_READY_LAG_SECONDS", READY_LAG_SECONDS)))
    except Exception as exc:  # noqa: BLE001 - not ready, and say why (no data in the message)
        log.exception("search readiness check failed")
        return False, f"search index check failed: {type(exc).__name__}"


def wait_until_current(timeout: float = 10.0) -> bool:
    """Wait until the index reflects every committed change (waking the background applier, or
    applying here when there is none). True when current, False on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        if background_enabled():
            notify(start=True)
        elif current_app.config.get("SEARCH_AUTO_INDEX", True):
            try:
                apply_pending()
            except LockError:
                pass
        if index_status().current:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
