"""Portable SQL for the reports: percentiles of the stored durations.

The same numbers on SQLite and PostgreSQL (the dialect is asked once per query):

- `duration_percentiles(...)`: nearest-rank percentiles (the value at rank ceil(p/100 x n) of the
  n values in order) of the referrals' stored durations (referrals.timing: integer seconds), at the
  precision shown. PostgreSQL: percentile_disc, which is exactly that. SQLite has no ordered-set
  aggregate: for one organization's referrals, they are read and ranked in Python; for the whole
  network's, the value at that rank is read from the duration's own index (ix_referral_report_*:
  the duration, then the period and every filter), walking up to the rank from the smaller end or
  down from the larger one, whichever is shorter (the count n comes from the report flags: a
  duration is stored exactly when its end is). The period and filters are given to it as expressions
  no index serves (`unindexed`), or SQLite's planner (without statistics) would take another index and sort;
- `grouped_medians`: the nearest-rank median of each group (the agency comparison);
- `SideReads`: on PostgreSQL, a report's large passes (its counts, its durations, its clients' ZIP
  codes...) run side by side, each on a connection of its own, all in the snapshot of the request's
  transaction.
"""
from __future__ import annotations

import re
import time
from concurrent.futures import Future, ThreadPoolExecutor
from threading import Lock
from typing import Callable

from sqlalchemy import func, select, text
from sqlalchemy.dialects import postgresql

from referralnet.extensions import db
from referralnet.referrals.models import Referral
from referralnet.requestlog import count_statement


def dialect() -> str:
    return db.session.get_bind().dialect.name


PERCENTILES = (50, 90)


def whole_table(column):
    """`column`, such that SQLite reads the table instead of going through the column's index.

    Over the whole network a period holds most referrals, and reading them one index entry at a
    time is many times slower than one pass over the table; without statistics SQLite's planner
    takes the index anyway. PostgreSQL plans from its statistics and gets the column as it is."""
    return func.coalesce(column, column) if dialect() == "sqlite" else column


def unindexed(column):
    """`column` as an expression no SQLite index serves (its value unchanged: coalesce of a column with
    itself), so that SQLite's planner, which has no statistics, takes the index the query is written for.
    PostgreSQL plans from its statistics and gets the column as it is."""
    return func.coalesce(column, column) if dialect() == "sqlite" else column


def duration_percentiles(where: list, measures: dict, counts: dict, ps: tuple[int, ...] = PERCENTILES,
                         resolution: int = 360, *, read_all: bool = False, read: Callable | None = None) -> dict:
    """Nearest-rank percentiles of integer duration columns (seconds) over the referrals `where` selects
    (`where` as `_Context.where(by_day=True)` gives it), at the precision shown (`resolution` seconds):
    {key: ({p: seconds}, n)} for `measures` ({key: column}), where `counts` ({key: n}) says how many of
    those referrals have the duration.

    The duration at the rank is rounded half up to a whole step of `resolution` seconds in integer
    arithmetic (as SQL's integer division would), so both databases give the same numbers: rounding
    does not change the order, so it is also the rank's value among the rounded durations.

    SQLite, with `read_all` (an organization's report: `where` lets SQLite read its referrals through its
    own index): the durations are read, and ranked here; a walk up an index of the whole network's durations
    would pass every other organization's on its way.

    PostgreSQL: one statement (`percentiles_statement`), its rows read by `read` (SideReads.rows) when given."""
    found: dict = {}
    if dialect() == "postgresql":
        row = (read or _read_here)(percentiles_statement(where, measures, ps))[0]
        for key, values in zip(measures, row):
            found[key] = ({p: None if values is None else _step(values[i], resolution) for i, p in enumerate(ps)},
                          counts[key])
        return found
    if read_all:
        rows = db.session.connection().execute(select(*measures.values()).select_from(Referral).where(*where)).all()
        for i, key in enumerate(measures):
            ordered = sorted(row[i] for row in rows if row[i] is not None)
            found[key] = ({p: _step(ordered[(len(ordered) * p + 99) // 100 - 1], resolution) if ordered else None
                           for p in ps}, len(ordered))
        return found
    for key, column in measures.items():
        n, values = counts[key], {}
        for p in ps:
            rank = (n * p + 99) // 100  # 1..n
            values[p] = None if n == 0 else _step(_value_at(column, where, rank, n), resolution)
        found[key] = (values, n)
    return found


def percentiles_statement(where: list, measures: dict, ps: tuple[int, ...] = PERCENTILES):
    """PostgreSQL: one row, each of `measures`' columns' percentiles `ps` (an array) over the referrals `where` selects."""
    return select(*[func.percentile_disc(postgresql.array([p / 100.0 for p in ps])).within_group(column)
                    for column in measures.values()]).select_from(Referral).where(*where)


def _read_here(stmt) -> list:
    return db.session.connection().execute(stmt).all()


def _value_at(column, where: list, rank: int, n: int) -> int:
    """SQLite: the value at `rank` (1..n) of `column`'s n values in the referrals `where` selects, read from
    the column's index, from whichever end is nearer."""
    from_top = n - rank < rank - 1
    stmt = select(column).select_from(Referral).where(*where, column.is_not(None)) \
        .order_by(column.desc() if from_top else column).limit(1).offset(n - rank if from_top else rank - 1)
    value = db.session.scalar(stmt)
    if value is None:
        raise LookupError(f"{column.key}: fewer stored durations than the report flags count")
    return value


def _step(seconds: int, resolution: int) -> float:
    """`seconds` rounded half up to a multiple of `resolution` (integer division truncating toward zero, as SQL's)."""
    shifted = int(seconds) + resolution // 2
    steps = abs(shifted) // resolution
    return float((steps if shifted >= 0 else -steps) * resolution)


def medians_statement(value, group, where: list):
    """PostgreSQL: each group's median of `value` over the referrals `where` selects (those that have it)."""
    return select(group, func.percentile_disc(0.5).within_group(value)).select_from(Referral) \
        .where(*where, value.is_not(None)).group_by(group)


def grouped_medians(value, group, where: list, counts: dict, *, read: Callable | None = None) -> dict:
    """{group value: the nearest-rank median of `value` in that group}: the value at rank ceil(n/2) of the
    group's n values in order. PostgreSQL's percentile_disc(0.5) is exactly that. SQLite has no ordered-set
    aggregate, and a window function sorts every referral: there, the value at that rank of each group's
    count (`counts`: {group value: how many of its referrals `where` selects have the value}), read in order
    from the index on (receiving agency, seconds to answer) -- the agency comparison's medians (the same
    numbers: test_measures compares both databases). PostgreSQL: `medians_statement`, its rows read by `read`
    when given."""
    conditions = [*where, value.is_not(None)]
    if dialect() == "postgresql":
        return {g: float(v) for g, v in (read or _read_here)(medians_statement(value, group, where))}
    return {g: float(db.session.scalar(select(value).select_from(Referral).where(*conditions, group == g)
                                       .order_by(value).limit(1).offset((n + 1) // 2 - 1)))
            for g, n in counts.items() if n}


# --- side reads ------------------------------------------------------------------------------------

_SNAPSHOT_ID = re.compile(r"^[0-9A-F]+-[0-9A-F]+(-[0-9]+)?$")
_pool: ThreadPoolExecutor | None = None
_pool_lock = Lock()
SIDE_READERS = 3  # at most a report's passes at once (its counts, durations, ZIP codes / comparison)


def _readers() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=SIDE_READERS, thread_name_prefix="report-read")
        return _pool


class SideReads:
    """A report's statements run side by side: on PostgreSQL, when more than one is started and the
    request's transaction has written nothing, each runs on a pooled connection of its own, in a
    read-only REPEATABLE READ transaction that imports the request transaction's snapshot
    (pg_export_snapshot: every pass sees the same committed data, as one statement would). A report's
    three large passes over the period's referrals then take the time of the longest, not of the three
    (the whole network's report page at 100,000 referrals: ~200 ms of reading, one after the other).

    `rows(key, stmt)` gives the started statement's rows, or runs `stmt` on the session's connection
    when it was not started (SQLite; a single statement; a transaction with writes of its own, which
    another connection would not see). `finish()` waits for every started statement (a report that
    failed half way leaves nothing running on a connection)."""

    def __init__(self):
        self._started: dict[str, Future] = {}

    def start(self, statements: dict[str, Callable[[], object]]) -> None:
        """Start these statements (name -> a function making it), longest first, if side by side pays."""
        if len(statements) < 2 or dialect() != "postgresql" or db.session.new or db.session.dirty \
                or db.session.deleted:
            return
        clean, snapshot = db.session.execute(text(
            "SELECT pg_current_xact_id_if_assigned() IS NULL, pg_export_snapshot()")).one()
        if not clean or not _SNAPSHOT_ID.match(snapshot):
            return
        engine = db.session.get_bind()
        for key, make in statements.items():
            self._started[key] = _readers().submit(_read_in_snapshot, engine, snapshot, make())

    def rows(self, key: str, make: Callable[[], object]) -> list:
        """The rows of the statement `make` makes: read side by side if it was started as `key`, else here."""
        future = self._started.pop(key, None)
        if future is None:
            return _read_here(make())
        waited = time.perf_counter()
        try:
            return future.result()
        finally:
            count_statement(time.perf_counter() - waited)  # the request log counts the wait

    def finish(self) -> None:
        for future in self._started.values():
            future.exception()  # waits; what it raised was not asked for
        self._started.clear()


def _read_in_snapshot(engine, snapshot: str, stmt) -> list:
    # The transaction is begun here, with the snapshot (first in it, as PostgreSQL requires), in one round trip.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(f"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT '{snapshot}'")
        try:
            return conn.execute(stmt).all()
        finally:
            conn.exec_driver_sql("ROLLBACK")

