"""The report columns stored on each referral (referrals.timing: `sent_day`, `report_flags`) equal what the
row's own timestamps and columns say, after every kind of write (the services, the first view's
conditional UPDATE, timestamps set directly through the ORM, the recount and migration 0015's backfill);
`client_zip_code` follows the client's, and the verified-outcome flags the closure's.

The expected values are worked out here from the row read back from the database, not with
referrals.timing.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from referralnet.referrals import services as sv
from referralnet.referrals.models import Closure, Referral
from referralnet.referrals.timing import recount

TZ = ZoneInfo("America/Los_Angeles")  # the test app's DEFAULT_TIMEZONE
WEDNESDAY = date(2026, 6, 10)
_COUNTER = iter(range(1, 10_000))


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=TZ).astimezone(timezone.utc)


def expected(db, referral_id: int) -> tuple[int, int]:
    """(sent_day, report_flags) from the row's columns, by hand."""
    db.session.flush()
    r = db.session.execute(select(Referral.requested_at, Referral.first_viewed_at, Referral.responded_at,
                                  Referral.response_due_at, Referral.loop_closed_at, Referral.previous_referral_id,
                                  Referral.outcome, Closure.verified_outcome)
                           .outerjoin(Closure, Closure.referral_id == Referral.id)
                           .where(Referral.id == referral_id)).one()
    day = (r.requested_at.astimezone(TZ).date() - date(1970, 1, 1)).days
    bits = [r.first_viewed_at is not None or r.responded_at is not None,  # viewed
            r.responded_at is not None,  # answered
            r.responded_at is not None and r.responded_at <= r.response_due_at,  # answered on time
            r.loop_closed_at is not None,  # loop closed
            r.previous_referral_id is not None,  # a follow-up
            r.outcome in ("got-help", "partly"),  # helped
            r.first_viewed_at is not None,  # opened by the agency
            # the verified outcome at loop closure (the closure's), one bit each
            *(r.verified_outcome == code for code in ("got-help", "partly", "did-not-get-help", "could-not-reach"))]
    return day, sum(1 << i for i, bit in enumerate(bits) if bit)


def stored(db, referral_id: int) -> tuple[int, int]:
    db.session.flush()
    return tuple(db.session.execute(select(Referral.sent_day, Referral.report_flags)
                                    .where(Referral.id == referral_id)).one())


def assert_consistent(db, *referrals) -> None:
    for referral in referrals:
        rid = referral if isinstance(referral, int) else referral.id
        assert stored(db, rid) == expected(db, rid), rid


@pytest.fixture()
def send(db, world):
    def do(at: datetime, service=None) -> Referral:
        client = sv.create_client(world.coordinator, given_name="Ana", family_name=f"Ruiz{next(_COUNTER)}",
                                  date_of_birth=date(1985, 6, 1), phone="415-555-0101")
        service = service or world.pantry
        sv.record_consent(world.coordinator, client, service.organization_id, "verbal")
        return sv.send_referral(world.coordinator, client, service.id, category="food-insecurity", now=at)

    return do


def test_every_write_of_the_workflow_keeps_the_columns(db, world, send):
    late_evening = local(WEDNESDAY, 23, 30)  # already Thursday in UTC: the day is the local one
    referral = send(late_evening)
    assert_consistent(db, referral)
    assert stored(db, referral.id) == ((WEDNESDAY - date(1970, 1, 1)).days, 0)
    sv.mark_viewed(world.partner, referral, now=late_evening + timedelta(minutes=10))  # the conditional UPDATE
    assert stored(db, referral.id)[1] == 1 | 64
    assert referral.report_flags == 1 | 64  # the session sees the UPDATE's value
    sv.change_status(referral, "accepted", world.partner, now=late_evening + timedelta(hours=2))
    assert_consistent(db, referral)
    assert stored(db, referral.id)[1] == 1 | 2 | 4 | 64  # answered before its due time
    sv.change_status(referral, "in-progress", world.partner, now=late_evening + timedelta(days=1))
    sv.change_status(referral, "completed", world.partner, outcome="got-help",
                     now=late_evening + timedelta(days=2))
    assert_consistent(db, referral)
    sv.close_loop(world.coordinator, referral, "got-help", now=late_evening + timedelta(days=3))
    assert_consistent(db, referral)
    assert stored(db, referral.id)[1] == 1 | 2 | 4 | 8 | 32 | 64 | 128  # verified: got help
    assert referral.verified_outcome == "got-help"


def test_declines_late_answers_cancels_and_follow_ups(db, world, send):
    first = send(local(WEDNESDAY, 10))
    sv.change_status(first, "rejected", world.partner, reason="not-eligible",
                     now=local(WEDNESDAY + timedelta(days=14), 10))  # answered after its due time
    assert_consistent(db, first)
    assert stored(db, first.id)[1] == 1 | 2
    sv.close_loop(world.coordinator, first, "did-not-get-help", now=local(WEDNESDAY + timedelta(days=15), 9))
    sv.record_consent(world.coordinator, first.client, world.westside.id, "verbal")
    second = sv.refer_elsewhere(world.coordinator, first, world.housing.id, now=local(WEDNESDAY, 19))
    assert_consistent(db, first, second)
    assert stored(db, second.id)[1] == 16
    cancelled = send(local(WEDNESDAY, 11))
    sv.change_status(cancelled, "cancelled", world.coordinator, reason="duplicate", now=local(WEDNESDAY, 12))
    wrong = send(local(WEDNESDAY, 12))
    sv.mark_viewed(world.partner, wrong, now=local(WEDNESDAY, 13))
    sv.change_status(wrong, "entered-in-error", world.coordinator, reason_text="wrong client",
                     now=local(WEDNESDAY, 14))
    assert_consistent(db, first, second, cancelled, wrong)


def test_setting_the_columns_directly_through_the_orm(db, world, send):
    """A fix-up or an import that writes the inputs directly, with some of them not loaded (expired)."""
    referral = send(local(WEDNESDAY, 10))
    referral.responded_at = local(WEDNESDAY, 12)
    db.session.flush()
    assert_consistent(db, referral)
    db.session.expire(referral)
    referral.response_due_at = local(WEDNESDAY, 11)  # now answered late; responded_at is not loaded
    db.session.flush()
    assert_consistent(db, referral)
    assert stored(db, referral.id)[1] == 1 | 2
    referral.requested_at = local(WEDNESDAY - timedelta(days=1), 23, 59)  # the day follows the start
    referral.responded_at = None
    db.session.flush()
    assert_consistent(db, referral)
    assert stored(db, referral.id) == ((WEDNESDAY - timedelta(days=1) - date(1970, 1, 1)).days, 0)


def test_the_recount_and_the_migration_give_the_live_values(app, db, world, send):
    answered = send(local(WEDNESDAY, 16))
    sv.mark_viewed(world.partner, answered, now=local(WEDNESDAY, 17))
    sv.change_status(answered, "accepted", world.partner, now=local(WEDNESDAY, 18))
    waiting = send(local(WEDNESDAY, 23, 45))
    closed = send(local(WEDNESDAY, 9))
    sv.change_status(closed, "rejected", world.partner, reason="no-capacity", now=local(WEDNESDAY, 11))
    sv.close_loop(world.coordinator, closed, "could-not-reach", now=local(WEDNESDAY, 15))
    sv.update_client(world.coordinator, answered.client, zip_code="94110")
    ids = (answered.id, waiting.id, closed.id)
    assert stored(db, closed.id)[1] == 1 | 2 | 4 | 8 | 1024  # verified: could not reach (0017 backfills it)
    live = {r: stored(db, r) for r in ids}
    db.session.execute(update(Referral).values(sent_day=None, report_flags=None))
    assert recount(db.session.connection(), batch=1) == 3
    assert {r: stored(db, r) for r in ids} == live
    db.session.commit()
    db.session.close()

    from flask_migrate import downgrade, upgrade

    downgrade(revision="0014")
    db.session.remove()
    db.engine.dispose()
    upgrade()
    assert {r: stored(db, r) for r in ids} == live
    assert_consistent(db, *ids)
    assert db.session.scalars(select(Referral.client_zip_code).where(Referral.id.in_(ids))
                              .order_by(Referral.id)).all() == ["94110", None, None]


def zips(db, *referrals) -> list:
    db.session.flush()
    return [db.session.scalar(select(Referral.client_zip_code).where(Referral.id == r.id)) for r in referrals]


def test_the_client_zip_code_follows_the_client(db, world):
    """Referral.client_zip_code (the reports' unmet-distance table reads it) is the client's ZIP code now:
    set when the referral is sent, rewritten on every referral of the client when it changes."""
    client = sv.create_client(world.coordinator, given_name="Ana", family_name="Zip", date_of_birth=date(1985, 6, 1),
                              phone="415-555-0101", zip_code="94110")
    sv.record_consent(world.coordinator, client, world.pantry.organization_id, "verbal")
    sv.record_consent(world.coordinator, client, world.housing.organization_id, "verbal")
    first = sv.send_referral(world.coordinator, client, world.pantry.id, category="food-insecurity",
                             now=local(WEDNESDAY, 10))
    second = sv.send_referral(world.coordinator, client, world.housing.id, category="housing-instability",
                              now=local(WEDNESDAY, 11))
    other = sv.create_client(world.coordinator, given_name="Bo", family_name="Zip", date_of_birth=date(1990, 1, 1),
                             phone="415-555-0102", zip_code="95014")
    sv.record_consent(world.coordinator, other, world.pantry.organization_id, "verbal")
    theirs = sv.send_referral(world.coordinator, other, world.pantry.id, category="food-insecurity",
                              now=local(WEDNESDAY, 12))
    assert zips(db, first, second, theirs) == ["94110", "94110", "95014"]
    sv.update_client(world.coordinator, client, zip_code="94401")
    assert zips(db, first, second, theirs) == ["94401", "94401", "95014"]
    sv.update_client(world.coordinator, client, zip_code="")
    assert zips(db, first, second, theirs) == [None, None, "95014"]
    sv.update_client(world.coordinator, client, phone="415-555-0199")  # other changes leave it alone
    assert zips(db, first, second, theirs) == [None, None, "95014"]


def test_each_verified_outcome_a_coordinator_can_record_has_its_report_flag():
    """timing keeps its own list (it is imported by the models): a new outcome without a bit would count nowhere."""
    from referralnet.referrals.models import VERIFIED_OUTCOMES
    from referralnet.referrals.timing import FLAGS, VERIFIED

    assert VERIFIED == VERIFIED_OUTCOMES
    assert {f"verified:{code}" for code in VERIFIED_OUTCOMES} <= set(FLAGS)
