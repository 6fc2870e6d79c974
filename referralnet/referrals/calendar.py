"""Business-day arithmetic for service levels (a partner should respond within N business days).

Weekends are Saturday and Sunday in the network's own time zone (`DEFAULT_TIMEZONE`):
a referral sent at 6 pm on a Friday in California is sent on Friday, although it is
already Saturday in UTC. Public holidays are not counted (not yet configurable).
"""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from typing import Optional
from zoneinfo import ZoneInfo

from referralnet.config import network_timezone

SATURDAY = 5


def add_business_days(start: datetime, days: int, tz: Optional[ZoneInfo] = None) -> datetime:
    """`start` plus `days` business days, as an aware UTC datetime.

    Each business day keeps the time of day: Wednesday 3 pm + 2 is Friday 3 pm, Friday
    10 am + 2 is Tuesday 10 am. A start on a weekend counts from the beginning of Monday,
    so a referral sent on Saturday gets its full two days (due Wednesday 00:00).
    Days are wall-clock days, so a daylight-saving change does not shift the hour.
    Raises ValueError for a negative count or a naive `start`.
    """
    if days < 0:
        raise ValueError("days must not be negative")
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    tz = tz or network_timezone()
    local = start.astimezone(tz)
    if local.weekday() >= SATURDAY:
        monday = local.date() + timedelta(days=7 - local.weekday())
        local = datetime.combine(monday, time(0, 0), tzinfo=tz)
    day = local.date()
    remaining = days
    while remaining:
        day += timedelta(days=1)
        if day.weekday() < SATURDAY:
            remaining -= 1
    due = datetime.combine(day, local.time(), tzinfo=tz)
    return due.astimezone(timezone.utc)
