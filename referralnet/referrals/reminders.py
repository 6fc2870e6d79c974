"""Service-level reminders: which overdue referrals are due a reminder, and queuing them.

A partner should answer a referral (accept or reject) within REFERRAL_RESPONSE_BUSINESS_DAYS
business days (`Referral.response_due_at`). `flask referrals remind` runs from cron, often
(hourly, say); each run queues a reminder for every referral still requested past its due
time that has had none yet today. So a partner is reminded at most once per business day
per referral however often cron runs, and again on the next business day while nobody answers.

Reminders go out on business days only (the network's time zone, as in `calendar`): an
agency closed for the weekend is reminded on Monday, not three times before it opens.

A reminder is a `referral_event` of kind "reminder" by the system (not visible to the
patient) plus an audit row. Turning it into an email or SMS is the notifications outbox's
job; `due_for_reminder` stays the one place that decides who is due one.
"""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from typing import Optional

from sqlalchemy import Select, exists, select

from referralnet.db import utcnow
from referralnet.extensions import db
from referralnet.referrals.calendar import SATURDAY, network_timezone
from referralnet.referrals.events import record_event
from referralnet.referrals.models import Referral, ReferralEvent
from referralnet.audit.services import audit
from referralnet.referrals.services import overdue_clause

REMINDER = "reminder"


def business_day_bounds(now: datetime) -> Optional[tuple[datetime, datetime]]:
    """The UTC start and end of the network's local day containing `now`; None on a weekend."""
    tz = network_timezone()
    local = now.astimezone(tz)
    if local.weekday() >= SATURDAY:
        return None
    start = datetime.combine(local.date(), time(0, 0), tzinfo=tz)
    end = datetime.combine(local.date() + timedelta(days=1), time(0, 0), tzinfo=tz)
    return start.astimezone(timezone.utc), end.astimezone(timezone.utc)


def due_for_reminder_query(now: Optional[datetime] = None) -> Optional[Select[tuple[Referral]]]:
    """A `select(Referral)` of the overdue referrals with no reminder yet today, oldest due first.

    None on a weekend, when no reminders go out.
    """
    now = now or utcnow()
    bounds = business_day_bounds(now)
    if bounds is None:
        return None
    start, end = bounds
    reminded_today = exists().where(ReferralEvent.referral_id == Referral.id, ReferralEvent.kind == REMINDER,
                                    ReferralEvent.at >= start, ReferralEvent.at < end)
    return (select(Referral).where(overdue_clause(now), ~reminded_today)
            .order_by(Referral.response_due_at, Referral.id))


def due_for_reminder(now: Optional[datetime] = None) -> list[Referral]:
    """The referrals a reminder would be queued for at `now` (default: the current time). Writes nothing."""
    query = due_for_reminder_query(now)
    return [] if query is None else list(db.session.scalars(query))


def queue_reminders(now: Optional[datetime] = None) -> list[Referral]:
    """Queue a reminder for each referral `due_for_reminder(now)`; return those referrals.

    Appends a system "reminder" event (not patient-visible) and a "referral.remind" audit row
    per referral, and flushes; the caller commits. The event is added by id, not through the
    referral's relationship, so that the referral's `version` is untouched: a reminder must
    not make the partner's open page stale.
    """
    now = now or utcnow()
    referrals = due_for_reminder(now)
    for referral in referrals:
        # By id: a reminder must not touch the referral (see the docstring). The outbox tells the partner staff.
        record_event(referral, REMINDER, actor=None, actor_kind="system", at=now, link=False)
        audit(None, "referral.remind", "referral", referral.id,
              receiving_organization_id=referral.receiving_organization_id, now=now)
    db.session.flush()
    return referrals
