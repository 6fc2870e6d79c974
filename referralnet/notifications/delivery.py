"""Delivering the outbox: claim a row, commit the claim, send, record the result, commit.

`deliver()` is what `flask notifications deliver` runs from cron. One message at a time:

1. **Claim** the next due email or SMS row — pending with `next_attempt_at <= now`, or
   stuck in "sending" with a claim older than the lease (a run that crashed) — with a
   conditional UPDATE (state, claimed_at, attempts + 1) that succeeds for one runner only,
   and commit it. Two runs at once never take the same row.
2. **Send** it through the channel's transport.
3. **Record** sent / retry / failed / skipped and commit at once, before the next message.

So a run that crashes before sending leaves its row claimed; the next run after the lease
(NOTIFICATION_LEASE_SECONDS) sends it — once. The one unavoidable window, a crash after the
transport accepted a message and before step 3 committed, re-sends it after the lease with
the same Message-ID / idempotency key, so the receiving side can recognise it.

Failures: a retryable error puts the row back to pending at now + back-off (1, 2, 4, 8...
minutes, capped at NOTIFICATION_BACKOFF_CAP_MINUTES); a permanent error, or the
NOTIFICATION_MAX_ATTEMPTS-th attempt, fails it. Attempts count claims, so a message that
keeps crashing the runner also ends up failed instead of looping. `last_error` holds the
transport's error class and code, never content. The log names notification ids and
channels only.

App-channel rows are never claimed: they are written as sent (see outbox).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable, Optional

from flask import current_app
from sqlalchemy import and_, or_, select, update

from referralnet.db import utcnow
from referralnet.extensions import db
from referralnet.notifications.models import Notification
from referralnet.notifications.rendering import Skip, render
from referralnet.notifications.transports import DeliveryError, transport_for

log = logging.getLogger(__name__)

DELIVERED_CHANNELS = ("email", "sms")
DEFAULT_MAX_ATTEMPTS = 8
DEFAULT_LEASE_SECONDS = 600
DEFAULT_BACKOFF_CAP_MINUTES = 240


@dataclass
class DeliveryReport:
    """What a run did, by outcome (counts only)."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    skipped: int = 0
    ids: dict[str, list[int]] = field(default_factory=lambda: {"sent": [], "retrying": [], "failed": [],
                                                               "skipped": []})

    @property
    def total(self) -> int:
        return self.sent + self.retrying + self.failed + self.skipped

    def add(self, outcome: str, notification_id: int) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)
        self.ids[outcome].append(notification_id)


def _setting(key: str, default):
    value = current_app.config.get(key)
    return default if value in (None, "") else value


def backoff(attempts: int) -> timedelta:
    """The wait before attempt `attempts + 1`: 1, 2, 4, 8... minutes, capped."""
    cap = int(_setting("NOTIFICATION_BACKOFF_CAP_MINUTES", DEFAULT_BACKOFF_CAP_MINUTES))
    return timedelta(minutes=min(2 ** max(attempts - 1, 0), cap))


def _due(now: datetime):
    lease = timedelta(seconds=int(_setting("NOTIFICATION_LEASE_SECONDS", DEFAULT_LEASE_SECONDS)))
    return and_(Notification.channel.in_(DELIVERED_CHANNELS),
                or_(and_(Notification.state == "pending", Notification.next_attempt_at <= now),
                    and_(Notification.state == "sending", Notification.claimed_at < now - lease)))


def claim_next(now: Optional[datetime] = None) -> Optional[Notification]:
    """Claim the next due row for this run and commit the claim; None when nothing is due."""
    now = now or utcnow()
    while True:
        candidates = db.session.scalars(select(Notification.id).where(_due(now))
                                        .order_by(Notification.next_attempt_at, Notification.id).limit(20)).all()
        if not candidates:
            db.session.commit()
            return None
        for notification_id in candidates:
            # Conditional: only one runner's UPDATE matches a due row (the other sees rowcount 0).
            result = db.session.execute(
                update(Notification).where(Notification.id == notification_id, _due(now))
                .values(state="sending", claimed_at=now, attempts=Notification.attempts + 1)
                .execution_options(synchronize_session=False))
            if result.rowcount == 1:
                db.session.commit()
                return db.session.get(Notification, notification_id)
        db.session.commit()  # all taken by another runner meanwhile; look again


def deliver(limit: Optional[int] = None, *,
            now: Optional[datetime | Callable[[], datetime]] = None) -> DeliveryReport:
    """Send due notifications, at most `limit`; commit after each. Returns what happened.

    `now` (a time or a clock, for tests) defaults to utcnow. Transport errors never escape: they are
    recorded on the row. Database errors do (the run stops; claimed rows wait for the lease).
    """
    clock = now if callable(now) else (lambda: now) if now is not None else utcnow
    report = DeliveryReport()
    transports: dict[str, object] = {}
    max_attempts = int(_setting("NOTIFICATION_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS))
    while limit is None or report.total < limit:
        row = claim_next(clock())
        if row is None:
            break
        if row.attempts > max_attempts:  # claimed again and again by runs that crashed on it
            _record_failure(row, DeliveryError("DeliveryInterrupted", permanent=True), clock(), max_attempts)
            report.add("failed", row.id)
            continue
        try:
            message = render(row)
        except Skip as reason:
            _record(row, state="skipped", last_error=str(reason), now=clock())
            log.info("skipped %s notification %s (%s)", row.channel, row.id, reason)
            report.add("skipped", row.id)
            continue
        try:
            transport = transports.get(row.channel) or transport_for(row.channel, current_app.config)
            transports[row.channel] = transport
            transport.send(message)
        except DeliveryError as exc:
            report.add(_record_failure(row, exc, clock(), max_attempts), row.id)
            continue
        except Exception as exc:  # a bug or an unexpected library error: retry, keep the run going
            log.exception("unexpected error delivering %s notification %s", row.channel, row.id)
            report.add(_record_failure(row, DeliveryError(type(exc).__name__), clock(), max_attempts), row.id)
            continue
        _mark_sent(row, clock())
        report.add("sent", row.id)
    return report


def _mark_sent(row: Notification, now: datetime) -> None:
    _record(row, state="sent", sent_at=now, last_error=None, now=now)
    log.info("sent %s notification %s", row.channel, row.id)


def _record_failure(row: Notification, exc: DeliveryError, now: datetime, max_attempts: int) -> str:
    error = str(exc)[:500]
    if exc.permanent or row.attempts >= max_attempts:
        _record(row, state="failed", last_error=error, now=now)
        log.warning("%s notification %s failed after %s attempts: %s", row.channel, row.id, row.attempts, error)
        return "failed"
    _record(row, state="pending", last_error=error, next_attempt_at=now + backoff(row.attempts), now=now)
    log.info("%s notification %s will be retried (attempt %s): %s", row.channel, row.id, row.attempts, error)
    return "retrying"


def _record(row: Notification, *, now: datetime, **values) -> None:
    for name, value in values.items():
        setattr(row, name, value)
    db.session.commit()
