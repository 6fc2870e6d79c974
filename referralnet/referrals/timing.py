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
"""
from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Optional
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
    when `requested_at` changed, else those of the ends that changed (none for other changes)."""
    ends = list(ENDS) if "requested_at" in changed else [end for end in ENDS if end in changed]
    if not ends:
        return {}
    return durations(referral.requested_at, {end: getattr(referral, end) for end in ends})


BATCH = 5000


def recount(connection, tz: Optional[ZoneInfo] = None, batch: int = BATCH) -> int:
    """Set every referral's durations from its timestamps, `batch` referrals per UPDATE; returns how many.

    Core statements over the table's columns (no ORM), so migration 0010 can run it on the schema it
    has just made; also `flask referrals recount-durations`, after DEFAULT_TIMEZONE changes."""
    tz = tz or network_timezone()
    referral = sa.table("referral", sa.column("id", sa.Integer()), sa.column("requested_at", UTCDateTime()),
                        *(sa.column(end, UTCDateTime()) for end in ENDS),
                        *(sa.column(column, sa.Integer()) for column in COLUMNS))
    update = sa.update(referral).where(referral.c.id == sa.bindparam("row_id")) \
        .values({column: sa.bindparam(column) for column in COLUMNS})
    done, last = 0, 0
    while True:
        rows = connection.execute(
            sa.select(referral.c.id, referral.c.requested_at, *(referral.c[end] for end in ENDS))
            .where(referral.c.id > last).order_by(referral.c.id).limit(batch)).all()
        if not rows:
            return done
        connection.execute(update, [{"row_id": row.id, **durations(row.requested_at,
                                                                    {end: row._mapping[end] for end in ENDS}, tz)}
                                    for row in rows])
        done += len(rows)
        last = rows[-1].id
