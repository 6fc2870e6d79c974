"""Business days for response due dates: weekends skipped, in the network's time zone."""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from referralnet.referrals.calendar import add_business_days

PACIFIC = ZoneInfo("America/Los_Angeles")


def local(*args) -> datetime:
    return datetime(*args, tzinfo=PACIFIC)


@pytest.mark.parametrize("start,days,due", [
    (local(2026, 3, 4, 15, 0), 2, local(2026, 3, 6, 15, 0)),   # Wednesday -> Friday
    (local(2026, 3, 5, 15, 0), 2, local(2026, 3, 9, 15, 0)),   # Thursday -> Monday
    (local(2026, 3, 13, 10, 0), 2, local(2026, 3, 17, 10, 0)),  # Friday -> Tuesday
    (local(2026, 3, 13, 10, 0), 1, local(2026, 3, 16, 10, 0)),  # Friday -> Monday
    (local(2026, 3, 13, 10, 0), 5, local(2026, 3, 20, 10, 0)),  # a working week
    (local(2026, 3, 13, 10, 0), 0, local(2026, 3, 13, 10, 0)),
    (local(2026, 3, 14, 10, 0), 2, local(2026, 3, 18, 0, 0)),   # Saturday: the clock starts Monday 00:00
    (local(2026, 3, 15, 23, 0), 1, local(2026, 3, 17, 0, 0)),   # Sunday night
])
def test_add_business_days(start, days, due):
    assert start.strftime("%a") in {"Wed", "Thu", "Fri", "Sat", "Sun"}
    result = add_business_days(start, days, PACIFIC)
    assert result == due
    assert result.tzinfo == timezone.utc
    assert result.astimezone(PACIFIC).weekday() < 5


def test_friday_evening_locally_is_still_friday_although_utc_says_saturday():
    start = local(2026, 3, 13, 18, 30)  # Friday 6:30 pm in California = Saturday 01:30 UTC
    assert start.astimezone(timezone.utc).strftime("%a") == "Sat"
    assert add_business_days(start, 2, PACIFIC) == local(2026, 3, 17, 18, 30)  # Tuesday


def test_daylight_saving_change_keeps_the_wall_clock_hour():
    # Clocks go forward on Sunday 8 March 2026 in California: Friday 10 am + 2 = Tuesday 10 am (PDT).
    due = add_business_days(local(2026, 3, 6, 10, 0), 2, PACIFIC)
    assert due.astimezone(PACIFIC).hour == 10
    assert due == datetime(2026, 3, 10, 17, 0, tzinfo=timezone.utc)


def test_the_time_zone_comes_from_the_app_setting(app):
    with app.app_context():
        old = app.config["DEFAULT_TIMEZONE"]
        app.config["DEFAULT_TIMEZONE"] = "UTC"
        try:
            # Friday 23:30 UTC + 1 = Monday 23:30 UTC when weekends are counted in UTC.
            start = datetime(2026, 3, 13, 23, 30, tzinfo=timezone.utc)
            assert add_business_days(start, 1) == datetime(2026, 3, 16, 23, 30, tzinfo=timezone.utc)
        finally:
            app.config["DEFAULT_TIMEZONE"] = old


def test_bad_input():
    with pytest.raises(ValueError):
        add_business_days(local(2026, 3, 13, 10, 0), -1, PACIFIC)
    with pytest.raises(ValueError):
        add_business_days(datetime(2026, 3, 13, 10, 0), 1, PACIFIC)
