"""How long each referral took: whole seconds from sending to the first view, the answer and the
closed loop, in calendar time and in business time, stored on the referral.

The reports read the median and 90th percentile of these over tens of thousands of referrals;
as stored integers that is a plain aggregate over a column, where working them out from the
timestamps (date parsing, the time zone's offsets) on every report was most of its time.

They are derived from the referral's own timestamps (`requested_at`, `first_viewed_at`,
`responded_at`, `loop_closed_at`), which the event path sets (states.transition, the first
view, closing the loop): whatever sets a timestamp through the ORM gets the durations with it
(the mapper events in referrals.models), and the bulk writers that bypass the ORM -- the first view's
conditional UPDATE, and `recount()` (migration 0010's backfill, `flask referrals recount-durations`)
-- call `durations()` themselves.

Business time leaves Saturdays and Sundays out, in the network's time zone
(`DEFAULT_TIMEZONE`), as the service level counts business days; holidays are not counted. A
clock that runs only on weekdays: `business_clock(t)` is the weekday seconds from Monday
1970-01-05 (local) to `t`'s local time, and a business duration is the difference of two clocks.
Times are floored to the second, so a duration is the same whatever the sub-second parts.

Two more columns serve the reports' counts (migration 0015):
- `sent_day`: the local date the referral was sent (network time zone), as days since 1970-01-01,
  written with the durations (and recounted with them): a report period of local dates is a range
  of it, and a week is seven of them, with no time-zone arithmetic in SQL;
- `report_flags`: one bit per fact the reports count (`FLAGS`), from the row's own columns (the
  verified outcome at loop closure among them: `verified_outcome`, the closure's, kept on the row): set
  on insert (`flags()`), and on update as a SQL expression of the row's columns and the values
  the update writes (`flags_expression`: exact even when the ORM has not loaded every column),
  by the mapper events; the first view's conditional UPDATE and `recount()` write it too.
"""
from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Optional
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from referralnet.config import network_timezone
from referralnet.db import UTCDateTime

MONDAY_1970_01_05 = 4 * 86400  # 1970-01-01 was a Thursday
WEEK, WORK_WEEK = 7 * 86400, 5 * 86400
_EPOCH = datetime(1970, 1, 1)

# end timestamp -> (calendar column, business column)
ENDS: dict[str, tuple[str, str]] = {
    "first_viewed_at": ("seconds_to_view", "business_seconds_to_view"),
    "responded_at": ("seconds_to_answer", "business_seconds_to_answer"),
    "loop_closed_at": ("seconds_to_close", "business_seconds_to_close"),
}
COLUMNS: tuple[str, ...] = tuple(column for pair in ENDS.values() for column in pair)
_EPOCH_DAY = datetime(1970, 1, 1).date().toordinal()

# report_flags: name -> (bit, the condition on the row's timestamps and columns). `flags_expression`
# makes it SQL (the same on SQLite and PostgreSQL); `flags()` the same in Python.
FLAG_INPUTS = ("first_viewed_at", "responded_at", "response_due_at", "loop_closed_at", "previous_referral_id",
               "outcome", "verified_outcome")
HELPED = ("got-help", "partly")
# The coordinator's verified outcome at loop closure (referrals.models.VERIFIED_OUTCOMES): one bit each.
VERIFIED = ("got-help", "partly", "did-not-get-help", "could-not-reach")
FLAGS: dict[str, tuple[int, Callable[[Any], Any]]] = {
    "viewed": (1, lambda c: sa.or_(c.first_viewed_at.is_not(None), c.responded_at.is_not(None))),
    "answered": (2, lambda c: c.responded_at.is_not(None)),
    "on_time": (4, lambda c: sa.and_(c.responded_at.is_not(None), c.responded_at <= c.response_due_at)),
    "closed": (8, lambda c: c.loop_closed_at.is_not(None)),
    "follow_up": (16, lambda c: c.previous_referral_id.is_not(None)),
    "helped": (32, lambda c: sa.and_(c.outcome.is_not(None), c.outcome.in_(HELPED))),
    "first_viewed": (64, lambda c: c.first_viewed_at.is_not(None)),
    **{f"verified:{code}": (128 << i, lambda c, code=code: sa.and_(c.verified_outcome.is_not(None),
                                                                   c.verified_outcome == code))
       for i, code in enumerate(VERIFIED)},
}
# The flags migration 0015 wrote, from the columns the table had then (the verified outcomes came with 0017).
FLAGS_0015 = ("viewed", "answered", "on_time", "closed", "follow_up", "helped", "first_viewed")


def flags_expression(columns: Any, names: Iterable[str] = FLAGS) -> Any:
    """report_flags as a SQL expression over `columns` (an object with one attribute per FLAG_INPUTS
    name: the referral's columns, or bound values where a write sets new ones), of the flags `names`."""
    return sum((sa.case((FLAGS[name][1](columns), FLAGS[name][0]), else_=0) for name in names), sa.literal(0))


def flags(values: dict[str, Any]) -> int:
    """report_flags of a referral whose FLAG_INPUTS are `values` (Python values)."""
    viewed, answered = values["first_viewed_at"] is not None, values["responded_at"] is not None
    found = {"viewed": viewed or answered, "answered": answered,
             "on_time": answered and values["response_due_at"] is not None
             and _utc(values["responded_at"]) <= _utc(values["response_due_at"]),
             "closed": values["loop_closed_at"] is not None, "follow_up": values["previous_referral_id"] is not None,
             "helped": values["outcome"] in HELPED, "first_viewed": viewed,
             **{f"verified:{code}": values.get("verified_outcome") == code for code in VERIFIED}}
    return sum(bit for name, (bit, _) in FLAGS.items() if found[name])


def day_number(day) -> int:
    """A date as days since 1970-01-01 (`sent_day`'s unit)."""
    return day.toordinal() - _EPOCH_DAY


def sent_day(requested_at: datetime, tz: ZoneInfo) -> int:
    """The local date (in `tz`) of `requested_at`, as days since 1970-01-01."""
    return day_number(_utc(requested_at).astimezone(tz).date())


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _seconds(value: datetime) -> int:
    return math.floor((_utc(value).replace(tzinfo=None) - _EPOCH).total_seconds())


def business_clock(value: datetime, tz: ZoneInfo) -> int:
    """Weekday seconds from Monday 1970-01-05 00:00 local to `value`'s local time (floored to the second)."""
    local = _utc(value).astimezone(tz).replace(tzinfo=None)
    since_monday = math.floor((local - _EPOCH).total_seconds()) - MONDAY_1970_01_05
    weeks, into_week = divmod(since_monday, WEEK)
    return weeks * WORK_WEEK + min(into_week, WORK_WEEK)


def durations(requested_at: Optional[datetime], ends: dict[str, Optional[datetime]],
              tz: Optional[ZoneInfo] = None) -> dict[str, Optional[int]]:
    """{duration column: seconds} for each end timestamp in `ends` ({"responded_at": datetime | None, ...}):
    calendar and business seconds from `requested_at` to it, None where either is not set."""
    tz = tz or network_timezone()
    found: dict[str, Optional[int]] = {}
    start_business = business_clock(requested_at, tz) if requested_at is not None else None
    for end, (calendar, business) in ENDS.items():
        if end not in ends:
            continue
        value = ends[end]
        if value is None or requested_at is None:
            found[calendar] = found[business] = None
        else:
            found[calendar] = _seconds(value) - _seconds(requested_at)
            found[business] = business_clock(value, tz) - start_business
    return found


def changed_durations(referral, changed: set[str]) -> dict[str, Optional[int]]:
    """The durations to write when the timestamps in `changed` (attribute names) were set: all of them
    and `sent_day` when `requested_at` changed, else those of the ends that changed (none for other changes)."""
    ends = list(ENDS) if "requested_at" in changed else [end for end in ENDS if end in changed]
    if not ends:
        return {}
    tz = network_timezone()
    found = durations(referral.requested_at, {end: getattr(referral, end) for end in ends}, tz)
    if "requested_at" in changed:
        found["sent_day"] = sent_day(referral.requested_at, tz) if referral.requested_at is not None else None
    return found


BATCH = 5000


def recount(connection, tz: Optional[ZoneInfo] = None, batch: int = BATCH, *, report_columns: bool = True,
            flag_names: Iterable[str] = FLAGS) -> int:
    """Set every referral's durations and (unless not `report_columns`) its `sent_day` from its timestamps,
    `batch` referrals per UPDATE, then its `report_flags` (of `flag_names`) in one UPDATE; returns how many.

    Core statements over the table's columns (no ORM), so migrations 0010 (durations only: the report
    columns come with 0015) and 0015 (the flags of the columns it had) can run it on the schema they have
    just made; also `flask referrals recount-durations`, after DEFAULT_TIMEZONE changes."""
    tz = tz or network_timezone()
    day = ("sent_day",) if report_columns else ()
    referral = _referral_table(*day)
    update = sa.update(referral).where(referral.c.id == sa.bindparam("row_id")) \
        .values({column: sa.bindparam(column) for column in (*COLUMNS, *day)})
    done, last = 0, 0
    while True:
        rows = connection.execute(
            sa.select(referral.c.id, referral.c.requested_at, *(referral.c[end] for end in ENDS))
            .where(referral.c.id > last).order_by(referral.c.id).limit(batch)).all()
        if not rows:
            if report_columns:
                reflag(connection, flag_names)
            return done
        connection.execute(update, [{"row_id": row.id, **({"sent_day": sent_day(row.requested_at, tz)} if day else {}),
                                     **durations(row.requested_at, {end: row._mapping[end] for end in ENDS}, tz)}
                                    for row in rows])
        done += len(rows)
        last = rows[-1].id


def reflag(connection, flag_names: Iterable[str] = FLAGS) -> None:
    """Set every referral's `report_flags` (of `flag_names`) from its columns, in one UPDATE (Core)."""
    referral = _referral_table()  # a column only the flags not asked for read is never named in the SQL
    connection.execute(sa.update(referral).values(report_flags=flags_expression(referral.c, flag_names)))


def _referral_table(*extra: str) -> sa.TableClause:
    """The referral columns recount and reflag read and write, as a lightweight Core table."""
    return sa.table("referral", sa.column("id", sa.Integer()), sa.column("requested_at", UTCDateTime()),
                    *(sa.column(end, UTCDateTime()) for end in ENDS),
                    *(sa.column(column, sa.Integer()) for column in (*COLUMNS, *extra, "report_flags")),
                    sa.column("response_due_at", UTCDateTime()), sa.column("previous_referral_id", sa.Integer()),
                    sa.column("outcome", sa.String()), sa.column("verified_outcome", sa.String()))
