"""Portable SQL for the reports: weekly buckets and percentiles of the stored durations.

The same expressions run on SQLite and PostgreSQL (the dialect is asked once per query):

- `bucket(col, starts)`: the index of the last start at or before the value (weekly charts);
- `duration_percentiles(...)`: nearest-rank percentiles (the value at rank ceil(p/100 x n) of the
  n values in order) of the referrals' stored durations (referrals.timing: integer seconds), from
  histograms the database groups at the precision shown (SQLite has no percentile_cont, and
  grouping is cheaper than sorting every row); `grouped_medians`: the nearest-rank median of
  each group (PostgreSQL's percentile_disc; SQLite reads it in index order).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, case, func, literal, select, union_all

from referralnet.db import UTCDateTime
from referralnet.extensions import db
from referralnet.referrals.models import Referral


def dialect() -> str:
    return db.session.get_bind().dialect.name


def whole_table(column):
    """`column`, such that SQLite reads the table instead of going through the column's index.

    Over the whole network a period holds most referrals, and reading them one index entry at a
    time is many times slower than one pass over the table; without statistics SQLite's planner
    takes the index anyway. PostgreSQL plans from its statistics and gets the column as it is."""
    return func.coalesce(column, column) if dialect() == "sqlite" else column


def duration_percentiles(where: list, measures: dict, ps: tuple[int, ...] = (50, 90),
                         resolution: int = 360) -> dict:
    """Nearest-rank percentiles of integer duration columns (seconds) over the referrals `where`
    selects, at the precision shown (`resolution` seconds), in one statement:
    {key: ({p: seconds}, n)} for `measures` ({key: column}).

    The referrals' durations are read once (a materialized CTE), then each column is grouped into
    a histogram of `resolution`-second steps (one GROUP BY each, in one UNION ALL), and the
    percentile is the step at rank ceil(p/100 x n). Steps are rounded half up in integer
    arithmetic, so SQLite and PostgreSQL count alike (their round() differ on halves)."""
    keys = list(measures)
    times = select(*(column.label(f"d{i}") for i, column in enumerate(measures.values()))) \
        .select_from(Referral).where(*where).cte("report_times").prefix_with("MATERIALIZED")
    parts = []
    for i in range(len(keys)):
        seconds = times.c[f"d{i}"]
        step = (seconds + resolution // 2) // literal(resolution, Integer)  # integer division on both
        parts.append(select(literal(i, Integer).label("measure"), step.label("b"), func.count().label("n"))
                     .where(seconds.is_not(None)).group_by(step))
    found: dict = {}
    for row in db.session.execute(union_all(*parts)):
        found.setdefault(keys[row.measure], []).append((int(row.b), row.n))
    return {key: _nearest_rank(sorted(found.get(key, [])), ps, resolution) for key in keys}


def _nearest_rank(histogram: list[tuple[int, int]], ps, resolution: int) -> tuple[dict, int]:
    n = sum(count for _, count in histogram)
    found = {}
    for p in ps:
        rank, seen = (n * p + 99) // 100, 0
        found[p] = None
        for step, count in histogram:
            seen += count
            if seen >= rank:
                found[p] = float(step * resolution)
                break
    return found, n


def _instant(value: datetime):
    return literal(value, UTCDateTime())


def bucket(column, starts: list[datetime]):
    """0 for values before starts[1], 1 before starts[2], ... (values are assumed >= starts[0])."""
    if len(starts) == 1:
        return literal(0)
    return case(*[(column < _instant(start), index) for index, start in enumerate(starts[1:])],
                else_=len(starts) - 1)


def grouped_medians(value, group, where: list) -> dict:
    """{group value: the nearest-rank median of `value` in that group}: the value at rank ceil(n/2) of the
    group's n values in order. PostgreSQL's percentile_disc(0.5) is exactly that. SQLite has no ordered-set
    aggregate, and a window function sorts every referral: there, each group's count, then its value at
    that rank, read in order from the index on (receiving agency, seconds to answer) -- the agency comparison's
    medians (the same numbers: test_measures compares both databases)."""
    conditions = [*where, value.is_not(None)]
    if dialect() == "postgresql":
        rows = db.session.execute(select(group, func.percentile_disc(0.5).within_group(value))
                                  .select_from(Referral).where(*conditions).group_by(group))
        return {g: float(v) for g, v in rows}
    counts = db.session.execute(select(group, func.count()).select_from(Referral).where(*conditions).group_by(group))
    return {g: float(db.session.scalar(select(value).select_from(Referral).where(*conditions, group == g)
                                       .order_by(value).limit(1).offset((n + 1) // 2 - 1)))
            for g, n in counts.all()}
