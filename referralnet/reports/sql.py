"""Portable SQL for the reports: durations, business time, weekly buckets and percentiles.

The same expressions run on SQLite and PostgreSQL (the dialect is asked once per query):

- `epoch(col)`: seconds since 1970 (SQLite's julianday, PostgreSQL's date_part('epoch'));
- `business_seconds(col)`: a clock that only runs on weekdays in the network's time zone,
  so `business_seconds(b) - business_seconds(a)` is the time between them with weekends
  left out (as the service level counts business days; holidays are not counted). Local
  time comes from a CASE over the zone's UTC offset changes in the range, so daylight
  saving is exact without time-zone support in the database;
- `bucket(col, starts)`: the index of the last start at or before the value (weekly charts);
- `duration_percentiles(...)`: nearest-rank percentiles (the value at rank ceil(p/100 x n) of the
  n values in order) from histograms the database groups at the precision shown (SQLite has no
  percentile_cont, and grouping is cheaper than sorting every row); `grouped_medians`: the
  nearest-rank median of each group, by a window function.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Optional
from zoneinfo import ZoneInfo

from sqlalchemy import Float, Integer, case, cast, func, literal, select, union_all

from referralnet.db import UTCDateTime
from referralnet.extensions import db
from referralnet.referrals.models import Referral
from referralnet.reports.periods import utc_offsets

MONDAY_1970_01_05 = 4 * 86400  # 1970-01-01 was a Thursday
WEEK, WORK_WEEK = 7 * 86400, 5 * 86400


def dialect() -> str:
    return db.session.get_bind().dialect.name


def epoch(column):
    """Seconds since 1970-01-01 UTC of a UTCDateTime column (float)."""
    if dialect() == "sqlite":
        return (func.julianday(column) - 2440587.5) * 86400.0
    # date_part, not extract: extract returns numeric (PostgreSQL 14+), twice as slow over many rows.
    return cast(func.date_part("epoch", column), Float)


def whole_table(column):
    """`column`, such that SQLite reads the table instead of going through the column's index.

    Over the whole network a period holds most referrals, and reading them one index entry at a
    time is many times slower than one pass over the table; without statistics SQLite's planner
    takes the index anyway. PostgreSQL plans from its statistics and gets the column as it is."""
    return func.coalesce(column, column) if dialect() == "sqlite" else column


def seconds_between(start, end):
    return epoch(end) - epoch(start)


def _floor(value):
    # Values here are positive (after 1970), where SQLite's CAST truncation is floor.
    return cast(value, Integer) if dialect() == "sqlite" else cast(func.floor(value), Integer)


def _utc_offset(column, tz: ZoneInfo, first: date, last: date):
    initial, changes = utc_offsets(tz, first, last)
    if not changes:
        return literal(initial)
    whens = []
    previous = initial
    for instant, offset in changes:
        whens.append((column < _instant(instant), previous))
        previous = offset
    return case(*whens, else_=previous)


def _instant(value: datetime):
    return literal(value, UTCDateTime())


def local_seconds(column, tz: ZoneInfo, first: date, last: date):
    """`column`'s wall-clock time in `tz` as seconds since 1970-01-01 00:00 local."""
    return epoch(column) + _utc_offset(column, tz, first, last)


def business_seconds(column, tz: ZoneInfo, first: date, last: date):
    """Weekday seconds from Monday 1970-01-05 (local) to `column`'s local time; weekends do not count."""
    return business_from_local(local_seconds(column, tz, first, last))


def business_from_local(local_time):
    """business_seconds() of a local time already in seconds (a column of a CTE: cheap to repeat)."""
    local = _floor(local_time) - MONDAY_1970_01_05
    weeks = _floor(local / float(WEEK))
    into_week = local - weeks * WEEK
    return weeks * WORK_WEEK + case((into_week < WORK_WEEK, into_week), else_=WORK_WEEK)


def duration_percentiles(where: list, start, ends: dict, tz: ZoneInfo, first: date, last: date,
                         ps: tuple[int, ...] = (50, 90), resolution: float = 360.0, *,
                         business: Optional[set] = None) -> dict:
    """Percentiles of the times from `start` to each of `ends` ({name: column}), calendar and (for the
    names in `business`, all by default) business, in one statement:
    {(name, "calendar" | "business"): ({p: seconds}, n)}.

    Each timestamp is turned into epoch and local seconds once, in a materialized CTE (the
    expressions are heavy: date parsing and the offset CASE); the durations are then grouped
    into histograms (see `percentiles`), all in one UNION ALL."""
    business = set(ends) if business is None else set(business)
    columns = []
    for name, column in {"start": start, **ends}.items():
        columns.append(epoch(column).label(f"e_{name}"))
        if name in business or (name == "start" and business):
            columns.append(local_seconds(column, tz, first, last).label(f"l_{name}"))
    times = select(*columns).select_from(Referral).where(*where).cte("report_times").prefix_with("MATERIALIZED")
    parts = []
    for name in ends:
        ended = times.c[f"e_{name}"].is_not(None)
        kinds = [("calendar", times.c[f"e_{name}"] - times.c.e_start)]
        if name in business:
            kinds.append(("business", business_from_local(times.c[f"l_{name}"])
                          - business_from_local(times.c.l_start)))
        for kind, seconds in kinds:
            step = func.round(seconds / resolution)
            parts.append(select(literal(f"{name}:{kind}").label("measure"), step.label("b"),
                                func.count().label("n")).where(ended).group_by(step))
    found: dict = {}
    for row in db.session.execute(union_all(*parts)):
        found.setdefault(tuple(row.measure.split(":")), []).append((float(row.b), row.n))
    return {(name, kind): _nearest_rank(sorted(found.get((name, kind), [])), ps, resolution)
            for name in ends for kind in ("calendar", "business") if kind == "calendar" or name in business}


def _nearest_rank(histogram: list[tuple[float, int]], ps, resolution: float) -> tuple[dict, int]:
    n = sum(count for _, count in histogram)
    found = {}
    for p in ps:
        rank, seen = (n * p + 99) // 100, 0
        found[p] = None
        for bucket, count in histogram:
            seen += count
            if seen >= rank:
                found[p] = bucket * resolution
                break
    return found, n


def bucket(column, starts: list[datetime]):
    """0 for values before starts[1], 1 before starts[2], ... (values are assumed >= starts[0])."""
    if len(starts) == 1:
        return literal(0)
    return case(*[(column < _instant(start), index) for index, start in enumerate(starts[1:])],
                else_=len(starts) - 1)


def grouped_medians(value, group, where: list) -> dict:
    """{group value: the nearest-rank median of `value` in that group} (one window query)."""
    inner = select(group.label("g"), value.label("v")).select_from(Referral).where(*where, value.is_not(None)) \
        .subquery()
    ranked = select(inner.c.g, inner.c.v,
                    func.row_number().over(partition_by=inner.c.g, order_by=inner.c.v).label("rn"),
                    func.count().over(partition_by=inner.c.g).label("n")).subquery()
    rows = db.session.execute(select(ranked.c.g, ranked.c.v).where(ranked.c.rn == (ranked.c.n * 50 + 99) // 100))
    return {row.g: float(row.v) for row in rows}
