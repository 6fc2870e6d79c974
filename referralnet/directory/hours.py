"""Opening hours from HSDS schedules: open at a moment, next opening, weekly slots for the index.

HSDS 3.0 schedules are RRULE-like rows: `freq` WEEKLY with `byday` (MO,TU...) and
`opens_at`/`closes_at` local times, optionally limited by `valid_from`/`valid_to`.
Rows with dates and no weekday are exceptions: closed on those dates, or open at
special hours. A closing time at or before the opening time runs past midnight.

Times are local to the place. HSDS carries only a UTC offset (`timezone`), which
is wrong half the year where clocks change, so the IANA zone of the location's
ZIP code is preferred, then the offset, then the configured default.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
SLOT_MINUTES = 30
SLOTS_PER_DAY = 1440 // SLOT_MINUTES
WEEK_SLOTS = 7 * SLOTS_PER_DAY


def parse_hhmm(text: str | None) -> int | None:
    """'09:30' or '09:30:00' -> minutes after midnight; None when missing or malformed."""
    if not text:
        return None
    try:
        parts = [int(p) for p in text.split(":")[:2]]
    except ValueError:
        return None
    if len(parts) < 2 or not (0 <= parts[0] <= 24 and 0 <= parts[1] < 60):
        return None
    return parts[0] * 60 + parts[1]


def resolve_tz(iana: str | None, offset_hours: float | None, default: str) -> tzinfo:
    for name in (iana,):
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                pass
    if offset_hours is not None and -14 <= offset_hours <= 14:
        return timezone(timedelta(hours=offset_hours))
    return ZoneInfo(default)


@dataclass(frozen=True)
class Interval:
    weekday: int  # 0 = Monday
    opens: int  # minutes after midnight
    closes: int  # may exceed 1440 when open past midnight
    valid_from: date | None = None
    valid_to: date | None = None

    def applies(self, day: date) -> bool:
        return (self.valid_from is None or day >= self.valid_from) and (self.valid_to is None or day <= self.valid_to)


@dataclass
class WeeklyHours:
    tz: tzinfo
    intervals: list[Interval] = field(default_factory=list)
    closed_dates: set[date] = field(default_factory=set)
    special: dict[date, list[tuple[int, int]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def known(self) -> bool:
        return bool(self.intervals or self.special)

    @property
    def seasonal(self) -> bool:
        """Whether some weekly hours hold only between dates (a summer program, winter shelter
        hours): the typical week is then not every week's."""
        return any(i.valid_from is not None or i.valid_to is not None for i in self.intervals)

    @property
    def has_exceptions(self) -> bool:
        """Whether some days differ from the typical week (weekly_slots): holiday closures, special
        hours or a season. Open now is then checked exactly (is_open), not from the slots alone."""
        return bool(self.closed_dates or self.special or self.seasonal)

    def _spans_on(self, day: date) -> list[tuple[int, int]]:
        """Open spans (minutes from that day's midnight) starting on `day`."""
        if day in self.special:
            return self.special[day]
        if day in self.closed_dates:
            return []
        return [(i.opens, i.closes) for i in self.intervals if i.weekday == day.weekday() and i.applies(day)]

    def is_open(self, at: datetime) -> bool:
        local = at.astimezone(self.tz)
        minute = local.hour * 60 + local.minute
        today, yesterday = local.date(), local.date() - timedelta(days=1)
        if any(o <= minute < c for o, c in self._spans_on(today)):
            return True
        return any(c > 1440 and minute < c - 1440 for _, c in self._spans_on(yesterday))

    def next_open(self, at: datetime, days: int = 14) -> datetime | None:
        """The next moment (aware, in the place's zone) it opens after `at`; None if not within `days`."""
        local = at.astimezone(self.tz)
        for offset in range(days + 1):
            day = local.date() + timedelta(days=offset)
            for opens, _ in sorted(self._spans_on(day)):
                start = datetime.combine(day, time(opens // 60 % 24, opens % 60), self.tz)
                if start > local:
                    return start
        return None

    def weekly_slots(self) -> set[str]:
        """Index terms like "mo0930" for each half hour of a typical week it is open the whole
        half hour (local time). A slot filter therefore never finds a place that is closed; it may
        miss one in its first or last minutes of a half hour."""
        return {slot_name(n) for n in self.weekly_slot_numbers()}

    def weekly_slot_numbers(self) -> set[int]:
        """The half hours of `weekly_slots` as numbers: `slot_number` of each (0 = Monday 00:00)."""
        slots: set[int] = set()
        for interval in self.intervals:
            start = -(-interval.opens // SLOT_MINUTES)
            first_day = interval.weekday * SLOTS_PER_DAY
            for n in range(start, (interval.closes - SLOT_MINUTES) // SLOT_MINUTES + 1):
                slots.add((first_day + n) % WEEK_SLOTS)
        return slots

    def summary(self) -> list[tuple[str, str]]:
        """[('Monday', '9:00 AM – 5:00 PM'), ...] for display, Monday first."""
        out = []
        for index, name in enumerate(DAY_NAMES):
            spans = sorted((i.opens, i.closes) for i in self.intervals if i.weekday == index)
            if spans:
                out.append((name, ", ".join(f"{fmt_minutes(o)} – {fmt_minutes(c)}" for o, c in spans)))
        return out


def slot_key(weekday: int, minute_of_day: int) -> str:
    """The index term of the half hour containing `minute_of_day` on `weekday` (0 = Monday)."""
    m = minute_of_day - minute_of_day % SLOT_MINUTES
    return f"{DAYS[weekday].lower()}{m // 60:02d}{m % 60:02d}"


def slot_number(weekday: int, minute_of_day: int) -> int:
    """The half hour containing `minute_of_day` on `weekday` (0 = Monday), numbered through the week."""
    return weekday * SLOTS_PER_DAY + minute_of_day // SLOT_MINUTES


def slot_name(number: int) -> str:
    """`slot_key` of a `slot_number`: 9 -> "mo0430"."""
    day, n = divmod(number, SLOTS_PER_DAY)
    return slot_key(day, n * SLOT_MINUTES)


def fmt_minutes(minutes: int) -> str:
    minutes %= 1440
    if minutes == 1439:
        return "midnight"
    h, m = divmod(minutes, 60)
    suffix = "AM" if h < 12 else "PM"
    return f"{(h % 12) or 12}:{m:02d} {suffix}"


def build_hours(schedules, *, iana: str | None = None, default_tz: str = "America/Los_Angeles") -> WeeklyHours:
    """WeeklyHours from schedule rows (objects or dicts with HSDS schedule fields)."""
    get = (lambda s, k: s.get(k)) if schedules and isinstance(schedules[0], dict) else getattr
    offset = next((get(s, "timezone") for s in schedules if get(s, "timezone") is not None), None)
    hours = WeeklyHours(tz=resolve_tz(iana, offset, default_tz))
    for s in schedules:
        opens, closes = parse_hhmm(get(s, "opens_at")), parse_hhmm(get(s, "closes_at"))
        byday = [d.strip().upper()[:2] for d in (get(s, "byday") or "").split(",") if d.strip()]
        freq = (get(s, "freq") or "").upper()
        valid_from, valid_to = get(s, "valid_from"), get(s, "valid_to")
        if byday and freq in ("", "WEEKLY") and opens is not None and closes is not None:
            if closes == 23 * 60 + 59:
                closes = 1440  # "until 23:59" means until midnight
            if closes <= opens:
                closes += 1440
            for d in byday:
                if d in DAYS:
                    hours.intervals.append(Interval(DAYS.index(d), opens, closes, valid_from, valid_to))
        elif not byday and valid_from is not None:
            last = valid_to or valid_from
            if (last - valid_from).days > 366:
                continue
            day = valid_from
            while day <= last:
                if opens is not None and closes is not None:
                    hours.special.setdefault(day, []).append((opens, closes if closes > opens else closes + 1440))
                else:
                    hours.closed_dates.add(day)
                day += timedelta(days=1)
        elif get(s, "description"):
            hours.notes.append(get(s, "description"))
    return hours


# --- which schedule rows apply to a place -----------------------------------------------------------
# One rule for the service page, the patient's page and the partner's listings (the search index,
# search/documents.py, applies the same one): a service's rows at that location, else its
# service-wide rows, else the location's own rows.

@dataclass
class ScheduleGroups:
    """Schedule rows by what they belong to: a service at a location, a whole service, a location."""

    at_place: dict[str, list] = field(default_factory=dict)  # by service_at_location id
    service_wide: dict[str, list] = field(default_factory=dict)  # by service id
    of_location: dict[str, list] = field(default_factory=dict)  # by location id (rows of no service)

    def applicable(self, service_id: str, link_id: str | None, location_id: str | None) -> tuple[list, str | None]:
        """The rows that give a service's hours at one of its places (a link, or None for "no particular
        place"), and where they come from: "location", "service", "place", or None when there are none."""
        for rows, source in ((self.at_place.get(link_id, []) if link_id else [], "location"),
                             (self.service_wide.get(service_id, []), "service"),
                             (self.of_location.get(location_id, []) if location_id else [], "place")):
            if rows:
                return rows, source
        return [], None


def group_schedules(rows) -> ScheduleGroups:
    """Group schedule rows (one query's worth) for `ScheduleGroups.applicable`."""
    groups = ScheduleGroups()
    for row in rows:
        if row.service_at_location_id:
            groups.at_place.setdefault(row.service_at_location_id, []).append(row)
        elif row.service_id:
            groups.service_wide.setdefault(row.service_id, []).append(row)
        elif row.location_id:
            groups.of_location.setdefault(row.location_id, []).append(row)
    return groups
