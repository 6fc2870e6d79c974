"""Declarative base with a naming convention (so Alembic names constraints), mixins and utcnow."""
from __future__ import annotations

import atexit
import logging
import math
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import wraps
from typing import Any, Callable, Optional

from sqlalchemy import DateTime, MetaData, Select, TypeDecorator, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """Timezone-aware now in UTC; used as a callable column default."""
    return datetime.now(timezone.utc)


def new_uuid() -> str:
    """A fresh HSDS-style identifier (UUID4 as a string)."""
    return str(uuid.uuid4())


class UTCDateTime(TypeDecorator):
    """A timestamp stored as UTC and always read back timezone-aware.

    SQLite has no timezone support, so naive values read from it are taken as UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None:
            if value.tzinfo is None:
                value = value.replace(tzinfo=timezone.utc)
            value = value.astimezone(timezone.utc)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class TimestampMixin:
    """created_at / updated_at kept by the database layer, not by callers."""

    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, info={"hsds": False})
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow, info={"hsds": False}
    )


def get_or_404(model, ident, message: str):
    """The row of `model` with primary key `ident`, or NotFound(message) (a 404 in the error contract)."""
    from referralnet.errors import NotFound
    from referralnet.extensions import db

    row = db.session.get(model, ident)
    if row is None:
        raise NotFound(message)
    return row


@dataclass
class Page:
    """One page of a list: `items`, the page number (1-based) and the totals needed for navigation."""

    items: list
    page: int
    total: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def page_number(raw: Any, total: int, per_page: int) -> int:
    """The page asked for, or 1 for anything that is not a page of this list (text, 0, -3, past the end)."""
    try:
        number = int(str(raw).strip())
    except (TypeError, ValueError):
        return 1
    last = max(1, math.ceil(total / per_page))
    return number if 1 <= number <= last else 1


def paginate(stmt: Select, page: Any, *, per_page: int, scalars: bool = True) -> Page:
    """Run one page of `stmt` (and a count of all its rows); `page` is the raw page argument."""
    from referralnet.extensions import db

    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    number = page_number(page, total, per_page)
    paged = stmt.limit(per_page).offset((number - 1) * per_page)
    rows = db.session.scalars(paged).all() if scalars else db.session.execute(paged).all()
    return Page(items=list(rows), page=number, total=total, per_page=per_page)


# --- a busy database ---------------------------------------------------------------------------------
#
# SQLite lets one writer at a time hold its lock (WAL mode lets readers go on meanwhile); PostgreSQL
# makes a writer wait for a row another transaction holds. Both wait DATABASE_LOCK_TIMEOUT seconds
# (SQLite's busy timeout, PostgreSQL's lock_timeout, set per connection by the app factory) and then
# fail with an OperationalError that `is_busy` recognizes. What happens next depends on the write:
# a change the user asked for answers 503 "busy, nothing was saved, try again" (errors.py); the
# bookkeeping of a page view (audit row, "first viewed") is retried after the response instead,
# so that the page still shows (`bookkeeping` below).

_SQLITE_BUSY_CODES = (5, 6)  # SQLITE_BUSY ("database is locked"), SQLITE_LOCKED ("database table is locked")
# PostgreSQL: lock_not_available (lock_timeout, NOWAIT), deadlock_detected, serialization_failure.
_POSTGRES_BUSY_STATES = ("55P03", "40P01", "40001")


def is_busy(exc: BaseException | None) -> bool:
    """True if `exc` (or what it wraps) means the database could not get a lock in time: retrying later helps."""
    seen = 0
    while exc is not None and seen < 5:
        original = getattr(exc, "orig", None)  # SQLAlchemy's DBAPIError wraps the driver's exception
        for candidate in (exc, original):
            if candidate is None:
                continue
            code = getattr(candidate, "sqlite_errorcode", None)
            if code is not None and code & 0xFF in _SQLITE_BUSY_CODES:
                return True
            if getattr(candidate, "sqlstate", None) in _POSTGRES_BUSY_STATES:
                return True
            if type(candidate).__module__.startswith("sqlite3") and "locked" in str(candidate):
                return True
        exc = exc.__cause__ or exc.__context__ or getattr(exc, "original_exception", None)
        seen += 1
    return False


def configure_connection(dbapi_connection, lock_timeout_seconds: float,
                         random_page_cost: Optional[float] = None) -> None:
    """Per new connection (the app factory's engine "connect" event): how long to wait for a lock.

    SQLite also gets write-ahead logging, so that readers never wait for the writer nor it for them.
    PostgreSQL's JIT compilation is turned off: the planner's cost guesses for the worklist's and the
    reports' correlated subqueries cross jit_above_cost, and compiling took ~70 ms of CPU for a query
    that runs in 2 ms (a page's whole budget on a busy host); this app's queries are short.
    PostgreSQL's `random_page_cost` is set to `random_page_cost` when given (DATABASE_RANDOM_PAGE_COST):
    the server's default (4) prices a page read out of order as on a spinning disk, and with it the
    planner read the whole referral table (80 MB at 100,000 referrals) instead of the reports' covering
    index (130 ms against 45 ms for a report's counts).
    """
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        _configure_sqlite(dbapi_connection, lock_timeout_seconds)
    elif type(dbapi_connection).__module__.startswith("psycopg"):
        autocommit = dbapi_connection.autocommit
        dbapi_connection.autocommit = True  # a SET outside any transaction lasts for the session
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f"SET lock_timeout = '{int(lock_timeout_seconds * 1000)}ms'")
            cursor.execute("SET jit = off")
            # psycopg prepares a statement run 5 times, and PostgreSQL then plans it once for any parameters
            # (a generic plan): for a report's period that plan read the whole table, 120-190 ms where the
            # plan made for the values runs in 45-60. Planning each run costs well under a millisecond.
            cursor.execute("SET plan_cache_mode = force_custom_plan")
            if random_page_cost is not None:
                cursor.execute(f"SET random_page_cost = {float(random_page_cost)}")
        dbapi_connection.autocommit = autocommit


def _configure_sqlite(dbapi_connection, lock_timeout_seconds: float) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={int(lock_timeout_seconds * 1000)}")
    # WAL is a property of the database file (it sticks); an in-memory database answers "memory".
    cursor.execute("PRAGMA journal_mode=WAL")
    # In WAL mode NORMAL is crash-safe (a power cut may lose the last commits, never corrupt the file).
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


# --- bookkeeping: writes a page view makes, kept when the database is busy ----------------------------

log = logging.getLogger("referralnet.bookkeeping")

# How long to wait before each retry of a deferred write (the last delay repeats).
RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0)


@dataclass(frozen=True)
class _Ref:
    """A row passed to a deferred write, by class and primary key: it is re-read when the write is retried."""

    model: type
    identity: tuple

    def load(self, session):
        return session.get(self.model, self.identity)

    def __str__(self) -> str:
        return f"{self.model.__name__}#{','.join(map(str, self.identity))}"


@dataclass
class DeferredWrite:
    """One bookkeeping call that could not get the lock: the function, its arguments (rows by id), tries."""

    function: Callable
    args: tuple
    kwargs: dict
    attempts: int = 0
    due: float = 0.0

    def describe(self) -> str:
        """The call with ids only (never patient data): for the log."""
        values = [str(a) for a in self.args] + [f"{k}={v}" for k, v in self.kwargs.items()]
        return f"{self.function.__module__}.{self.function.__qualname__}({', '.join(values)})"


class DeferredWrites:
    """Bookkeeping writes waiting for the database, retried by a background thread with growing pauses.

    One per app (`app.extensions["deferred_writes"]`). A write is retried in its own transaction,
    committed when it succeeds; it is given up only after `max_attempts` tries, and then it is
    logged as an error naming the call (ids only), never dropped silently. Writes still waiting
    when the process exits are tried once more and logged likewise if they still fail.
    """

    def __init__(self, app, max_attempts: int = 60):
        self.app = app
        self.max_attempts = max_attempts
        self._items: list[DeferredWrite] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._idle = threading.Condition(self._lock)
        self._running = 0
        atexit.register(self._at_exit)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items) + self._running

    def defer(self, function: Callable, args: tuple, kwargs: dict) -> DeferredWrite:
        item = DeferredWrite(function, tuple(_as_ref(a) for a in args),
                             {k: _as_ref(v) for k, v in kwargs.items()}, due=time.monotonic() + RETRY_DELAYS[0])
        with self._lock:
            self._items.append(item)
        log.warning("database busy: %s deferred, will retry", item.describe())
        self._ensure_thread()
        self._wake.set()
        return item

    def retry_due(self, *, everything: bool = False) -> int:
        """Try each write that is due (every waiting one with `everything`) once; returns how many succeeded."""
        now = time.monotonic()
        with self._lock:
            due = [i for i in self._items if everything or i.due <= now]
            self._items = [i for i in self._items if i not in due]
            self._running += len(due)
        done = 0
        try:
            for item in due:
                if self._try(item):
                    done += 1
        finally:
            with self._lock:
                self._running -= len(due)
                self._idle.notify_all()
        return done

    def wait_until_empty(self, timeout: float) -> bool:
        """Block until every deferred write is done or given up (True), or `timeout` seconds pass (False)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._items or self._running:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(min(left, 0.1))
        return True

    def _try(self, item: DeferredWrite) -> bool:
        from referralnet.extensions import db

        item.attempts += 1
        with self.app.app_context():
            session = db.session
            try:
                refs = [a for a in (*item.args, *item.kwargs.values()) if isinstance(a, _Ref)]
                rows = {ref: ref.load(session) for ref in refs}
                args = [rows.get(a, a) if isinstance(a, _Ref) else a for a in item.args]
                kwargs = {k: rows.get(v, v) if isinstance(v, _Ref) else v for k, v in item.kwargs.items()}
                if any(row is None for row in rows.values()):
                    log.error("deferred %s dropped: a row it names no longer exists", item.describe())
                    session.rollback()
                    return False
                item.function(*args, **kwargs)
                session.commit()
                log.info("deferred %s recorded after %d tries", item.describe(), item.attempts)
                return True
            except Exception as exc:  # noqa: BLE001 — every failure is either retried or logged
                session.rollback()
                if is_busy(exc) and item.attempts < self.max_attempts:
                    delay = RETRY_DELAYS[min(item.attempts, len(RETRY_DELAYS) - 1)]
                    item.due = time.monotonic() + delay
                    with self._lock:
                        self._items.append(item)
                    return False
                log.error("deferred %s could not be recorded after %d tries: %s", item.describe(), item.attempts,
                          type(exc).__name__, exc_info=not is_busy(exc))
                return False
            finally:
                session.remove()

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(target=self._run, name="referralnet-deferred-writes", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            with self._lock:
                next_due = min((i.due for i in self._items), default=None)
            timeout = None if next_due is None else max(0.0, next_due - time.monotonic())
            self._wake.wait(timeout)
            self._wake.clear()
            self.retry_due()

    def _at_exit(self) -> None:
        if self._items:
            self.retry_due(everything=True)
        for item in list(self._items):
            log.error("deferred %s not recorded before the process ended", item.describe())


def _as_ref(value):
    """Rows become references (re-read at retry time); anything else is kept as it is."""
    from sqlalchemy import inspect
    from sqlalchemy.exc import NoInspectionAvailable

    try:
        state = inspect(value)
    except NoInspectionAvailable:
        return value
    identity = getattr(state, "identity", None)
    if identity is None:
        return value
    return _Ref(state.mapper.class_, tuple(identity))  # the class, also through a proxy (current_user)


def bookkeeping(function: Callable) -> Callable:
    """Decorate a service function that records that something was *seen* (an audit row of a view, "first
    viewed"), not a change the user asked for.

    The call runs in a savepoint, waiting for a lock at most BOOKKEEPING_LOCK_TIMEOUT seconds. When
    the database is busy, the savepoint is rolled back (the rest of the request goes on, so the page
    still shows) and the call is handed to the app's DeferredWrites with its arguments (rows by id)
    and a fixed `now`, to be written after the response. The function must take `now`; the deferred
    call returns None.
    """

    @wraps(function)
    def wrapper(*args, **kwargs):
        from flask import current_app
        from sqlalchemy.exc import OperationalError

        from referralnet.extensions import db

        kwargs["now"] = kwargs.get("now") or utcnow()
        deferred: DeferredWrites | None = current_app.extensions.get("deferred_writes")
        if deferred is None:
            return function(*args, **kwargs)
        session = db.session
        try:
            with _short_lock_wait(session, current_app.config.get("BOOKKEEPING_LOCK_TIMEOUT", 1.0)):
                with session.begin_nested():
                    return function(*args, **kwargs)
        except OperationalError as exc:
            if not is_busy(exc):
                raise
            deferred.defer(function, args, kwargs)
            return None

    return wrapper


@contextmanager
def _short_lock_wait(session, seconds: float):
    """Within the block, wait at most `seconds` for a lock (the connection's own setting is restored after).

    On SQLite this also opens the transaction first: a SAVEPOINT outside one would start (and its
    release commit) a transaction of its own, taking the bookkeeping out of the request's transaction.
    """
    connection = session.connection()
    dialect = connection.dialect.name
    wanted = str(int(seconds * 1000))
    if dialect == "sqlite":
        if not connection.connection.driver_connection.in_transaction:
            connection.exec_driver_sql("BEGIN")
        before = connection.exec_driver_sql("PRAGMA busy_timeout").scalar()
        connection.exec_driver_sql(f"PRAGMA busy_timeout={wanted}")
        try:
            yield
        finally:
            connection.exec_driver_sql(f"PRAGMA busy_timeout={before}")
    elif dialect == "postgresql":
        # set_config(..., true) is SET LOCAL: it lasts until the transaction ends; the savepoint (rolled
        # back on a lock failure) is inside this block, so the transaction is usable again when the old
        # value is put back. Reading the old value and setting the new one is one round trip (the
        # MATERIALIZED CTE is read before the outer SELECT sets): bookkeeping runs on the busiest pages.
        before = connection.exec_driver_sql(
            "WITH old AS MATERIALIZED (SELECT current_setting('lock_timeout') AS value) "
            f"SELECT value, set_config('lock_timeout', '{wanted}ms', true) FROM old").scalar()
        try:
            yield
        finally:
            connection.exec_driver_sql("SELECT set_config('lock_timeout', %(value)s, true)", {"value": before})
    else:
        yield
