"""Service-level reminders: `queue_reminders()` and `flask referrals remind`.

Referrals are sent through the real service at fixed times in the network's zone, so the
due times come from the real business-day arithmetic (2 business days in the tests' config).
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from referralnet.referrals import reminders
from referralnet.referrals import services as sv
from referralnet.audit.models import AuditLog
from referralnet.referrals.models import Referral, ReferralEvent
from referralnet.referrals.reminders import due_for_reminder, queue_reminders

PACIFIC = ZoneInfo("America/Los_Angeles")
FRIDAY_10AM = datetime(2026, 3, 13, 10, 0, tzinfo=PACIFIC)
MONDAY_NOON = datetime(2026, 3, 16, 12, 0, tzinfo=PACIFIC)
TUESDAY_9_59 = datetime(2026, 3, 17, 9, 59, tzinfo=PACIFIC)
TUESDAY_10_01 = datetime(2026, 3, 17, 10, 1, tzinfo=PACIFIC)
WEDNESDAY_8AM = datetime(2026, 3, 18, 8, 0, tzinfo=PACIFIC)


def reminder_count(db, referral: Referral | None = None) -> int:
    query = select(func.count()).select_from(ReferralEvent).where(ReferralEvent.kind == "reminder")
    if referral is not None:
        query = query.where(ReferralEvent.referral_id == referral.id)
    return db.session.scalar(query)


@pytest.fixture()
def send(world):
    """Send a referral of a new Mission Clinic client to `service` (default Eastside Pantry) at `at`."""
    names = iter(["Ana", "Bo", "Chen", "Dara", "Eli", "Fay"])

    def do(at: datetime = FRIDAY_10AM, service=None, coordinator=None, org=None) -> Referral:
        service = service or world.pantry
        coordinator = coordinator or world.coordinator
        client = sv.create_client(coordinator, given_name=next(names), family_name="Zephyrine",
                                  date_of_birth=date(1980, 2, 3), phone="415-555-0101")
        sv.record_consent(coordinator, client, service.organization_id, "verbal")
        return sv.send_referral(coordinator, client, service.id, category="food-insecurity", now=at)

    return do


def test_friday_referral_is_due_tuesday_and_not_reminded_before(db, send):
    referral = send(FRIDAY_10AM)
    assert referral.response_due_at == TUESDAY_9_59.replace(minute=0, hour=10)
    assert queue_reminders(now=MONDAY_NOON) == []
    assert queue_reminders(now=TUESDAY_9_59) == []
    assert reminder_count(db) == 0

    assert queue_reminders(now=TUESDAY_10_01) == [referral]
    event = db.session.scalar(select(ReferralEvent).where(ReferralEvent.kind == "reminder"))
    assert (event.referral_id, event.actor_kind, event.actor_id, event.patient_visible) == \
        (referral.id, "system", None, False)
    assert event.at == TUESDAY_10_01
    row = db.session.scalar(select(AuditLog).where(AuditLog.action == "referral.remind"))
    assert (row.user_id, row.object_type, row.object_id) == (None, "referral", str(referral.id))


def test_reminder_does_not_bump_version(db, send):
    referral = send(FRIDAY_10AM)
    version = referral.version
    queue_reminders(now=TUESDAY_10_01)
    db.session.expire_all()
    assert db.session.get(Referral, referral.id).version == version


def test_running_twice_the_same_day_queues_once_then_again_next_business_day(db, send):
    referral = send(FRIDAY_10AM)
    assert queue_reminders(now=TUESDAY_10_01) == [referral]
    assert queue_reminders(now=TUESDAY_10_01 + timedelta(minutes=1)) == []
    assert queue_reminders(now=TUESDAY_10_01.replace(hour=23, minute=59)) == []
    assert reminder_count(db, referral) == 1
    assert queue_reminders(now=WEDNESDAY_8AM) == [referral]
    assert queue_reminders(now=WEDNESDAY_8AM + timedelta(hours=1)) == []
    assert reminder_count(db, referral) == 2


def test_no_reminders_on_weekends_then_monday(db, send):
    referral = send(datetime(2026, 3, 9, 10, 0, tzinfo=PACIFIC))  # Monday, due Wednesday
    assert queue_reminders(now=datetime(2026, 3, 14, 10, 0, tzinfo=PACIFIC)) == []  # Saturday
    assert queue_reminders(now=datetime(2026, 3, 15, 10, 0, tzinfo=PACIFIC)) == []  # Sunday
    assert queue_reminders(now=datetime(2026, 3, 16, 0, 5, tzinfo=PACIFIC)) == [referral]  # Monday


def test_answered_and_finished_referrals_get_none(db, world, send):
    accepted, rejected, cancelled, waiting = (send(FRIDAY_10AM) for _ in range(4))
    sv.change_status(accepted, "accepted", world.partner, now=MONDAY_NOON)
    sv.change_status(rejected, "rejected", world.partner, reason="no-capacity", now=MONDAY_NOON)
    sv.change_status(cancelled, "cancelled", world.coordinator, reason="client-request", now=MONDAY_NOON)
    assert queue_reminders(now=TUESDAY_10_01) == [waiting]
    assert reminder_count(db) == 1


def test_due_for_reminder_writes_nothing(db, send):
    referral = send(FRIDAY_10AM)
    before = db.session.scalar(select(func.count()).select_from(AuditLog))
    assert due_for_reminder(TUESDAY_10_01) == [referral]
    assert reminder_count(db) == 0
    assert db.session.scalar(select(func.count()).select_from(AuditLog)) == before


# --- the command ---------------------------------------------------------------------------------

@pytest.fixture()
def overdue_world(db, world, send, monkeypatch):
    """Three overdue referrals to two agencies and one not yet due, committed; "now" is Tuesday 10:01."""
    monkeypatch.setattr(reminders, "utcnow", lambda: TUESDAY_10_01)
    overdue = [send(FRIDAY_10AM), send(FRIDAY_10AM), send(FRIDAY_10AM, service=world.housing)]
    send(MONDAY_NOON)
    db.session.commit()
    return overdue


def test_remind_command_queues_and_summarizes_without_patient_data(db, runner, overdue_world):
    result = runner.invoke(args=["referrals", "remind"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "Queued 3 reminders for overdue referrals (2 organizations)."
    assert "Zephyrine" not in result.output and "Ana" not in result.output
    db.session.expire_all()
    assert reminder_count(db) == 3
    assert db.session.scalar(select(func.count()).select_from(AuditLog)
                             .where(AuditLog.action == "referral.remind")) == 3

    again = runner.invoke(args=["referrals", "remind"])
    assert again.exit_code == 0, again.output
    assert again.output.strip() == "Queued 0 reminders for overdue referrals (0 organizations)."
    db.session.expire_all()
    assert reminder_count(db) == 3


def test_remind_command_dry_run_writes_nothing(db, runner, overdue_world):
    audit_rows = db.session.scalar(select(func.count()).select_from(AuditLog))
    result = runner.invoke(args=["referrals", "remind", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "would queue 3 reminders" in result.output and "(2 organizations)" in result.output
    assert "Zephyrine" not in result.output
    db.session.expire_all()
    assert reminder_count(db) == 0
    assert db.session.scalar(select(func.count()).select_from(AuditLog)) == audit_rows
