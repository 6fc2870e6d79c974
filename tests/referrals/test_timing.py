"""The durations stored on each referral (referrals.timing) equal those its timeline gives, on every path
that sets a timestamp, and migration 0010's backfill gives the same values as the live path.

The expected values are worked out here from the events alone (the "requested" event, the first
"viewed" event, the first accept or reject, the "closed" event), and business time by counting
each weekday's share of the interval day by day in local time -- not with referrals.timing.
"""
from __future__ import annotations

import itertools
import math
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from referralnet.referrals import services as sv
from referralnet.referrals.models import Referral, ReferralEvent
from referralnet.referrals.timing import COLUMNS, recount

TZ = ZoneInfo("America/Los_Angeles")  # the test app's DEFAULT_TIMEZONE
H = timedelta(hours=1)
NAMES = itertools.count(1)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=TZ).astimezone(timezone.utc)


def a_wednesday() -> date:
    """A Wednesday with two weeks on either side free of daylight-saving changes (one test picks its own dates)."""
    day = date(2026, 6, 10)
    assert day.weekday() == 2
    return day


def business_seconds_by_days(start: datetime, end: datetime) -> int:
    """Seconds of [start, end) that fall on a Monday to Friday, in local wall-clock time."""
    a = start.astimezone(TZ).replace(tzinfo=None, microsecond=0)
    b = end.astimezone(TZ).replace(tzinfo=None, microsecond=0)
    total, day = 0, a.date()
    while day <= b.date():
        if day.weekday() < 5:
            day_start, day_end = datetime.combine(day, time(0)), datetime.combine(day + timedelta(days=1), time(0))
            total += max(0, int((min(b, day_end) - max(a, day_start)).total_seconds()))
        day += timedelta(days=1)
    return total


def from_events(db, referral: Referral) -> dict:
    """The durations the referral's timeline gives."""
    events = db.session.scalars(select(ReferralEvent).where(ReferralEvent.referral_id == referral.id)
                                .order_by(ReferralEvent.at, ReferralEvent.id)).all()
    sent = next(e.at for e in events if e.kind == "status" and e.to_status == "requested")
    ends = {
        "view": next((e.at for e in events if e.kind == "viewed"), None),
        "answer": next((e.at for e in events if e.kind == "status" and e.to_status in ("accepted", "rejected")),
                       None),
        "close": next((e.at for e in events if e.kind == "closed"), None),
    }
    expected = {}
    for name, end in ends.items():
        expected[f"seconds_to_{name}"] = None if end is None else \
            math.floor(end.timestamp()) - math.floor(sent.timestamp())
        expected[f"business_seconds_to_{name}"] = None if end is None else business_seconds_by_days(sent, end)
    return expected


def stored(db, referral: Referral | int) -> dict:
    """The durations as the database holds them (read back, not from the session's objects)."""
    db.session.flush()
    referral_id = referral if isinstance(referral, int) else referral.id
    row = db.session.execute(select(*(getattr(Referral, c) for c in COLUMNS)).where(Referral.id == referral_id)).one()
    return dict(zip(COLUMNS, row))


@pytest.fixture()
def send(db, world):
    """Send a new client's referral to Eastside Pantry at `at`, through the service."""

    def do(at: datetime, service=None) -> Referral:
        client = sv.create_client(world.coordinator, given_name="Ana", family_name=f"Lopez{next(NAMES)}",
                                  date_of_birth=date(1985, 6, 1), phone="415-555-0101")
        service = service or world.pantry
        sv.record_consent(world.coordinator, client, service.organization_id, "verbal")
        return sv.send_referral(world.coordinator, client, service.id, category="food-insecurity", now=at)

    return do


def test_a_new_referral_has_no_durations_yet(db, world, send):
    referral = send(local(a_wednesday(), 10))
    assert stored(db, referral) == dict.fromkeys(COLUMNS) == from_events(db, referral)


def test_first_view(db, world, send):
    wednesday = a_wednesday()
    referral = send(local(wednesday, 10))
    assert sv.mark_viewed(world.partner, referral, now=local(wednesday, 13, 30)) is True
    assert sv.mark_viewed(world.partner, referral, now=local(wednesday, 15)) is False  # only the first counts
    found = stored(db, referral)
    assert found == from_events(db, referral)
    assert (found["seconds_to_view"], found["business_seconds_to_view"]) == (12600, 12600)
    assert referral.seconds_to_view == 12600  # the session sees the UPDATE's values too


def test_a_coordinator_opening_it_is_not_a_view(db, world, send):
    referral = send(local(a_wednesday(), 10))
    sv.mark_viewed(world.coordinator, referral, now=local(a_wednesday(), 11))
    assert stored(db, referral)["seconds_to_view"] is None == from_events(db, referral)["seconds_to_view"]


@pytest.mark.parametrize("to, details", [("accepted", {}), ("rejected", {"reason": "no-capacity"})])
def test_accept_or_decline_is_the_answer(db, world, send, to, details):
    wednesday = a_wednesday()
    referral = send(local(wednesday, 10))
    sv.mark_viewed(world.partner, referral, now=local(wednesday, 11))
    sv.change_status(referral, to, world.partner, now=local(wednesday, 16, 45), **details)
    found = stored(db, referral)
    assert found == from_events(db, referral)
    assert found["seconds_to_answer"] == found["business_seconds_to_answer"] == 6 * 3600 + 45 * 60


def test_later_moves_keep_the_first_answer_and_completion_sets_no_answer(db, world, send):
    wednesday = a_wednesday()
    referral = send(local(wednesday, 10))
    sv.change_status(referral, "accepted", world.partner, now=local(wednesday, 12))
    sv.change_status(referral, "in-progress", world.partner, now=local(wednesday + timedelta(days=1), 9))
    sv.change_status(referral, "completed", world.partner, outcome="got-help",
                     now=local(wednesday + timedelta(days=6), 9))
    found = stored(db, referral)
    assert found == from_events(db, referral)
    assert found["seconds_to_answer"] == 2 * 3600 and found["seconds_to_close"] is None


def test_cancel_is_no_answer(db, world, send):
    wednesday = a_wednesday()
    referral = send(local(wednesday, 10))
    sv.change_status(referral, "cancelled", world.coordinator, reason="client-request", now=local(wednesday, 12))
    found = stored(db, referral)
    assert found == from_events(db, referral) == dict.fromkeys(COLUMNS)


def test_closing_the_loop(db, world, send):
    wednesday = a_wednesday()
    referral = send(local(wednesday, 10))
    sv.change_status(referral, "accepted", world.partner, now=local(wednesday, 11))
    sv.change_status(referral, "completed", world.partner, outcome="partly", now=local(wednesday, 15))
    sv.close_loop(world.coordinator, referral, "partly", now=local(wednesday + timedelta(days=7), 10))
    found = stored(db, referral)
    assert found == from_events(db, referral)
    assert found["seconds_to_close"] == 7 * 24 * 3600 and found["business_seconds_to_close"] == 5 * 24 * 3600


def test_closing_a_declined_referral_and_referring_elsewhere(db, world, send):
    wednesday = a_wednesday()
    first = send(local(wednesday, 10))
    sv.change_status(first, "rejected", world.partner, reason="not-eligible", now=local(wednesday, 14))
    sv.close_loop(world.coordinator, first, "did-not-get-help", now=local(wednesday, 18))
    sv.record_consent(world.coordinator, first.client, world.westside.id, "verbal")
    second = sv.refer_elsewhere(world.coordinator, first, world.housing.id, now=local(wednesday, 19))
    sv.change_status(second, "accepted", world.other_partner, now=local(wednesday + timedelta(days=1), 8))
    assert stored(db, first) == from_events(db, first)
    assert stored(db, first)["seconds_to_close"] == 8 * 3600
    found = stored(db, second)
    assert found == from_events(db, second)  # timed from its own sending, not the first referral's
    assert found["seconds_to_answer"] == 13 * 3600 and found["seconds_to_view"] is None


def test_entered_in_error_keeps_what_happened(db, world, send):
    wednesday = a_wednesday()
    referral = send(local(wednesday, 10))
    sv.mark_viewed(world.partner, referral, now=local(wednesday, 10, 30))
    sv.change_status(referral, "entered-in-error", world.coordinator, reason_text="wrong client",
                     now=local(wednesday, 11))
    found = stored(db, referral)
    assert found == from_events(db, referral)
    assert found["seconds_to_view"] == 1800 and found["seconds_to_answer"] is None


def test_business_hours_leave_the_weekend_out(db, world, send):
    """Sent Friday 16:00, viewed Saturday, accepted Monday 09:00, completed and closed the next Monday."""
    friday = a_wednesday() + timedelta(days=2)
    monday = friday + timedelta(days=3)
    referral = send(local(friday, 16))
    sv.mark_viewed(world.partner, referral, now=local(friday + timedelta(days=1), 12))
    sv.change_status(referral, "accepted", world.partner, now=local(monday, 9))
    sv.change_status(referral, "completed", world.partner, outcome="got-help", now=local(monday, 12))
    sv.close_loop(world.coordinator, referral, "got-help", now=local(monday + timedelta(days=7), 9))
    found = stored(db, referral)
    assert found == from_events(db, referral)
    assert found["seconds_to_view"] == 20 * 3600 and found["business_seconds_to_view"] == 8 * 3600
    assert found["seconds_to_answer"] == 65 * 3600 and found["business_seconds_to_answer"] == 17 * 3600
    assert found["business_seconds_to_close"] == (8 + 5 * 24 + 9) * 3600  # Friday 8 h, a week, Monday 9 h


def test_across_the_change_of_clocks(db, world, send):
    """Friday 10:00 to Monday 10:00 over the November change is 73 calendar hours and 24 business hours."""
    friday, monday = date(2025, 10, 31), date(2025, 11, 3)  # clocks went back on Sunday Nov 2, 2025
    referral = send(local(friday, 10))
    sv.change_status(referral, "accepted", world.partner, now=local(monday, 10))
    found = stored(db, referral)
    assert found == from_events(db, referral)
    assert (found["seconds_to_answer"], found["business_seconds_to_answer"]) == (73 * 3600, 24 * 3600)


def test_setting_the_timestamps_directly_sets_the_durations(db, world, send):
    """Whatever writes a timestamp through the ORM (a fix-up, an import) gets the durations with it."""
    wednesday = a_wednesday()
    referral = send(local(wednesday, 10))
    referral.responded_at = local(wednesday, 12)
    db.session.flush()
    assert stored(db, referral)["seconds_to_answer"] == 7200
    referral.requested_at = local(wednesday, 11)  # every duration follows the start
    db.session.flush()
    assert stored(db, referral)["seconds_to_answer"] == 3600
    referral.responded_at = None
    db.session.flush()
    assert stored(db, referral)["seconds_to_answer"] is None and stored(db, referral)["business_seconds_to_answer"] \
        is None


def test_the_migration_backfill_gives_the_live_values(app, db, world, send):
    """Migration 0010 on a database that has referrals: down to 0009 (the columns go), up again (the backfill),
    on SQLite and PostgreSQL alike (whichever the suite runs on)."""
    from flask_migrate import downgrade, upgrade

    wednesday = a_wednesday()
    friday, monday = wednesday + timedelta(days=2), wednesday + timedelta(days=5)
    answered = send(local(friday, 16))
    sv.mark_viewed(world.partner, answered, now=local(friday, 17, 20))
    sv.change_status(answered, "rejected", world.partner, reason="no-capacity", now=local(monday, 9, 15))
    sv.close_loop(world.coordinator, answered, "could-not-reach", now=local(monday + timedelta(days=2), 10))
    waiting = send(local(wednesday, 10))
    cancelled = send(local(wednesday, 11))
    sv.change_status(cancelled, "cancelled", world.coordinator, reason="duplicate", now=local(wednesday, 12))
    referrals = (answered.id, waiting.id, cancelled.id)
    live = {r: stored(db, r) for r in referrals}
    db.session.commit()
    db.session.close()

    downgrade(revision="0009")
    db.session.remove()
    db.engine.dispose()  # SQLite rebuilt the table: no cached statements of the old one
    upgrade()
    backfilled = {r: stored(db, r) for r in referrals}
    assert backfilled == live
    assert backfilled[referrals[0]]["business_seconds_to_answer"] == (17 * 60 + 15) * 60  # Friday 8 h, Monday 9:15


def test_the_backfill_sets_every_referral_in_batches(db, world, send):
    """More referrals than one batch: each gets its own values (ids past the first batch too)."""
    wednesday = a_wednesday()
    referrals = [send(local(wednesday, 9 + i)) for i in range(5)]
    for i, referral in enumerate(referrals):
        sv.change_status(referral, "accepted", world.partner, now=local(wednesday, 9 + i) + (i + 1) * H)
    live = {r.id: stored(db, r) for r in referrals}
    db.session.execute(update(Referral).values(dict.fromkeys(COLUMNS)))
    assert recount(db.session.connection(), batch=2) == 5
    assert {r.id: stored(db, r) for r in referrals} == live
    assert [live[r.id]["seconds_to_answer"] for r in referrals] == [3600, 7200, 10800, 14400, 18000]


def test_recounting_after_the_time_zone_changes(app, db, world, send, runner):
    """Business time is counted in DEFAULT_TIMEZONE: `flask referrals recount-durations` recounts it.
    Friday 16:00 to Monday 09:00 in California (17 business hours) is Saturday 01:00 to Monday 18:00 in
    Berlin: 18 business hours there, the weekend having started already."""
    friday = a_wednesday() + timedelta(days=2)
    referral = send(local(friday, 16))
    sv.change_status(referral, "accepted", world.partner, now=local(friday + timedelta(days=3), 9))
    referral_id = referral.id
    db.session.commit()
    assert stored(db, referral_id)["business_seconds_to_answer"] == 17 * 3600
    before, app.config["DEFAULT_TIMEZONE"] = app.config["DEFAULT_TIMEZONE"], "Europe/Berlin"
    try:
        result = runner.invoke(args=["referrals", "recount-durations"])
    finally:
        app.config["DEFAULT_TIMEZONE"] = before
    assert result.exit_code == 0, result.output
    assert "Recounted the durations of 1 referral (business time in Europe/Berlin)" in result.output
    db.session.expire_all()
    found = stored(db, referral_id)
    assert found["business_seconds_to_answer"] == 18 * 3600
    assert found["seconds_to_answer"] == 65 * 3600  # calendar time does not depend on the zone
