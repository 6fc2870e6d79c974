"""Report periods and filters: what the user chose, checked, in the network's time zone.

A period is a range of local dates (both included); a referral belongs to it when it was
*sent* in it. Weeks start on Monday, local time. The filters are the report dimensions
(`services.DIMENSIONS`): adding a grouping column to the reports adds one entry there and it
becomes a filter here, with no other change.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Mapping, Optional
from zoneinfo import ZoneInfo

from referralnet.errors import ValidationFailed

DEFAULT_DAYS = 90
MAX_DAYS = 731  # two years: weekly buckets stay a short CASE expression


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # included
    tz: ZoneInfo

    @property
    def start_utc(self) -> datetime:
        return local_midnight(self.start, self.tz)

    @property
    def end_utc(self) -> datetime:
        """The first instant after the period (local midnight after `end`)."""
        return local_midnight(self.end + timedelta(days=1), self.tz)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def weeks(self) -> list[tuple[date, datetime]]:
        """(Monday of each week the period touches, the UTC instant that week starts or the period starts)."""
        monday = self.start - timedelta(days=self.start.weekday())
        weeks = []
        while monday <= self.end:
            weeks.append((monday, local_midnight(max(monday, self.start), self.tz)))
            monday += timedelta(days=7)
        return weeks


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=tz).astimezone(timezone.utc)


@dataclass(frozen=True)
class ReportFilters:
    """The period and the dimension values chosen (dimension name -> value); empty means all."""

    period: Period
    values: Mapping[str, str] = field(default_factory=dict)

    def query_args(self) -> dict[str, str]:
        """The filters as query-string arguments (links to the CSV files and the other sections)."""
        return {"start": self.period.start.isoformat(), "end": self.period.end.isoformat(),
                **{name: value for name, value in self.values.items() if value}}


def default_period(tz: ZoneInfo, today: Optional[date] = None) -> Period:
    """The last DEFAULT_DAYS days, today included, in `tz`."""
    today = today or datetime.now(timezone.utc).astimezone(tz).date()
    return Period(today - timedelta(days=DEFAULT_DAYS - 1), today, tz)


def parse_period(raw_start: Optional[str], raw_end: Optional[str], tz: ZoneInfo,
                 today: Optional[date] = None) -> Period:
    """The period from two ISO dates (either may be empty: the default period's). Raises ValidationFailed
    naming the field: a date that is not YYYY-MM-DD, a start after the end, or more than MAX_DAYS days."""
    default = default_period(tz, today)
    errors: dict[str, list[str]] = {}

    def parse(name: str, raw: Optional[str], fallback: date) -> date:
        raw = (raw or "").strip()
        if not raw:
            return fallback
        try:
            return date.fromisoformat(raw)
        except ValueError:
            errors[name] = [f"Enter the date as YYYY-MM-DD, for example {fallback.isoformat()}."]
            return fallback

    end = parse("end", raw_end, default.end)
    start = parse("start", raw_start, end - timedelta(days=DEFAULT_DAYS - 1))
    if not errors:
        if start > end:
            errors["start"] = ["The start date must be on or before the end date."]
        elif (end - start).days + 1 > MAX_DAYS:
            errors["start"] = [f"Choose a period of at most {MAX_DAYS} days."]
        elif start.year < 2000 or end.year > 2100:
            errors["start" if start.year < 2000 else "end"] = ["Choose a date between 2000 and 2100."]
    if errors:
        raise ValidationFailed("The report period is not valid: " + " ".join(m[0] for m in errors.values()), errors)
    return Period(start, end, tz)


def month_period(raw: Optional[str], tz: ZoneInfo, today: Optional[date] = None) -> Period:
    """The calendar month `raw` names (YYYY-MM), by default the last complete month. Raises
    ValidationFailed (field `month`) for anything else or a month after this one."""
    today = today or datetime.now(timezone.utc).astimezone(tz).date()
    raw = (raw or "").strip()
    if not raw:
        last_month_end = today.replace(day=1) - timedelta(days=1)
        first = last_month_end.replace(day=1)
    else:
        try:
            first = date.fromisoformat(raw + "-01")
        except ValueError:
            raise ValidationFailed("Enter the month as YYYY-MM, for example 2026-11.",
                                   {"month": ["Enter the month as YYYY-MM, for example 2026-11."]}) from None
        if first > today or first.year < 2000:
            raise ValidationFailed("Choose a month from 2000 up to this one.",
                                   {"month": ["Choose a month from 2000 up to this one."]})
    next_first = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return Period(first, next_first - timedelta(days=1), tz)
