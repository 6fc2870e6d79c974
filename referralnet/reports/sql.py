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
- `grouped_medians`: the nearest-rank median of each group (the agency comparison).
"""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql

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


def unindexed(column):
    """`column` as an expression no SQLite index serves (its value unchanged: coalesce of a column with
    itself), so that SQLite's planner, which has no statistics, takes the index the query is written for.
    PostgreSQL plans from its statistics and gets the column as it is."""
    return func.coalesce(column, column) if dialect() == "sqlite" else column


def duration_percentiles(where: list, measures: dict, counts: dict, ps: tuple[int, ...] = (50, 90),
                         resolution: int = 360, *, read_all: bool = False) -> dict:
    """Nearest-rank percentiles of integer duration columns (seconds) over the referrals `where` selects
    (`where` as `_Context.where(by_day=True)` gives it), at the precision shown (`resolution` seconds):
    {key: ({p: seconds}, n)} for `measures` ({key: column}), where `counts` ({key: n}) says how many of
    those referrals have the duration.

    The duration at the rank is rounded half up to a whole step of `resolution` seconds in integer
    arithmetic (as SQL's integer division would), so both databases give the same numbers: rounding
    does not change the order, so it is also the rank's value among the rounded durations.

    SQLite, with `read_all` (an organization's report: `where` lets SQLite read its referrals through its
    own index): the durations are read, and ranked here; a walk up an index of the whole network's durations
    would pass every other organization's on its way."""
    found: dict = {}
    if dialect() == "postgresql":
        aggregates = [func.percentile_disc(postgresql.array([p / 100.0 for p in ps])).within_group(column)
                      for column in measures.values()]
        row = db.session.execute(select(*aggregates).select_from(Referral).where(*where)).one()
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


def grouped_medians(value, group, where: list, counts: dict) -> dict:
    """{group value: the nearest-rank median of `value` in that group}: the value at rank ceil(n/2) of the
    group's n values in order. PostgreSQL's percentile_disc(0.5) is exactly that. SQLite has no ordered-set
    aggregate, and a window function sorts every referral: there, the value at that rank of each group's
    count (`counts`: {group value: how many of its referrals `where` selects have the value}), read in order
    from the index on (receiving agency, seconds to answer) -- the agency comparison's medians (the same
    numbers: test_measures compares both databases)."""
    conditions = [*where, value.is_not(None)]
    if dialect() == "postgresql":
        rows = db.session.execute(select(group, func.percentile_disc(0.5).within_group(value))
                                  .select_from(Referral).where(*conditions).group_by(group))
        return {g: float(v) for g, v in rows}
    return {g: float(db.session.scalar(select(value).select_from(Referral).where(*conditions, group == g)
                                       .order_by(value).limit(1).offset((n + 1) // 2 - 1)))
            for g, n in counts.items() if n}
