"""Delivery: claim, send, record; retries with back-off; crashes; the log, SMTP and SMS transports.

SMTP is a real aiosmtpd server and the SMS gateway a real local HTTP server (conftest).
"""
from __future__ import annotations

import logging
from collections import Counter
from datetime import timedelta

import pytest

from referralnet.db import utcnow
from referralnet.notifications import delivery
from referralnet.config import FALLBACK_BASE_URL
from referralnet.notifications.delivery import backoff, claim_next, deliver
from referralnet.notifications.models import Notification
from referralnet.referrals import patient_links
from referralnet.referrals import services as sv
from tests.notifications.conftest import free_port, rows

LEASE = timedelta(seconds=601)


def link_of(app, referral) -> str:
    # Delivery runs outside any request: on PUBLIC_BASE_URL, or the fallback when it is unset.
    with app.test_request_context(base_url=app.config["PUBLIC_BASE_URL"] or FALLBACK_BASE_URL):
        return patient_links.status_url(referral)


def test_log_transport_marks_sent_and_logs_ids_only(db, world, send, caplog, monkeypatch):
    referral = send(contact_preference="sms")
    db.session.commit()
    for name in ("", ".transports", ".delivery", ".rendering", ".outbox"):
        # The test app's Alembic upgrade (logging.config.fileConfig) disabled loggers that already existed.
        monkeypatch.setattr(logging.getLogger("referralnet.notifications" + name), "disabled", False)
    caplog.set_level(logging.INFO, logger="referralnet.notifications")
    report = deliver()
    assert (report.sent, report.retrying, report.failed, report.skipped) == (2, 0, 0, 0)
    db.session.expire_all()
    assert {(r.channel, r.state) for r in rows(db)} == {("app", "sent"), ("email", "sent"), ("sms", "sent")}
    email, sms = rows(db, channel="email")[0], rows(db, channel="sms")[0]
    assert f"would send email notification {email.id}" in caplog.text
    assert f"would send sms notification {sms.id}" in caplog.text
    for secret in (world.partner.email, "415-555-0199", "Eastside", referral.client.given_name):
        assert secret not in caplog.text
    assert deliver().total == 0  # nothing twice


def test_smtp_delivery_reaches_a_real_smtp_server(app, db, world, send, smtp_server):
    referral = send(contact_preference="email")
    db.session.commit()
    report = deliver()
    assert report.sent == 2 and report.failed == report.retrying == 0
    by_rcpt = {m.rcpt_tos[0]: m.message for m in smtp_server.messages}
    assert set(by_rcpt) == {world.partner.email, "patient@example.net"}
    staff_mail = by_rcpt[world.partner.email]
    staff_row = rows(db, channel="email", recipient_user_id=world.partner.id)[0]
    assert staff_mail["Message-ID"] == f"<notification-{staff_row.id}@referralnet>"
    assert staff_mail["Subject"] == "New referral from Mission Clinic"
    assert f"/referrals/{referral.id}" in staff_mail.get_content()
    patient_mail = by_rcpt["patient@example.net"]
    link = link_of(app, referral)
    assert link and link in patient_mail.get_content() and "[[status_link]]" not in patient_mail.get_content()
    assert referral.client.given_name not in patient_mail.get_content()
    db.session.expire_all()
    assert all(r.state == "sent" and r.sent_at is not None for r in rows(db))


def test_failures_retry_with_backoff_then_fail(app, db, world, send, monkeypatch):
    monkeypatch.setitem(app.config, "NOTIFICATION_TRANSPORT", "smtp")
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", free_port())  # nobody listens: connection refused
    monkeypatch.setitem(app.config, "NOTIFICATION_MAX_ATTEMPTS", 4)
    send(contact_preference="phone")
    db.session.commit()
    row_id = rows(db, channel="email")[0].id
    now = utcnow()
    waits = []
    for attempt in (1, 2, 3):
        report = deliver(now=now)
        assert report.retrying == 1
        db.session.expire_all()
        row = db.session.get(Notification, row_id)
        assert (row.state, row.attempts, row.last_error) == ("pending", attempt, "ConnectionRefusedError")
        waits.append(row.next_attempt_at - now)
        assert deliver(now=now + waits[-1] - timedelta(seconds=1)).total == 0  # not due yet
        now = row.next_attempt_at
    assert waits == [timedelta(minutes=1), timedelta(minutes=2), timedelta(minutes=4)]
    assert deliver(now=now).failed == 1
    db.session.expire_all()
    row = db.session.get(Notification, row_id)
    assert (row.state, row.attempts) == ("failed", 4)
    assert world.partner.email not in row.last_error
    assert deliver(now=now + timedelta(days=1)).total == 0


def test_backoff_is_capped(app, monkeypatch):
    with app.app_context():
        monkeypatch.setitem(app.config, "NOTIFICATION_BACKOFF_CAP_MINUTES", 60)
        assert [backoff(n).total_seconds() / 60 for n in (1, 2, 3, 7, 8, 20)] == [1, 2, 4, 60, 60, 60]


def test_a_run_that_crashed_between_claim_and_send_is_finished_once_by_the_next(db, world, send, smtp_server):
    send(contact_preference="email")
    db.session.commit()
    now = utcnow()
    claimed = claim_next(now)  # ...and the process dies here, before sending
    assert claimed.state == "sending"
    db.session.rollback()

    assert deliver(now=now + timedelta(minutes=5)).sent == 1  # the other message; the claimed one is leased
    assert deliver(now=now + LEASE).sent == 1  # the lease expired: the crashed run's message goes now
    assert deliver(now=now + 2 * LEASE).total == 0
    ids = Counter(m.message["Message-ID"] for m in smtp_server.messages)
    assert ids == {f"<notification-{r.id}@referralnet>": 1 for r in rows(db) if r.channel == "email"}
    assert len(ids) == 2


class Crash(BaseException):
    """The process dying: not an Exception, so no handler catches it."""


def test_a_crash_after_sending_resends_with_the_same_identity(db, world, send, smtp_server, monkeypatch):
    send(contact_preference="email")
    db.session.commit()
    first_id = min(r.id for r in rows(db, channel="email"))
    real_mark_sent = delivery._mark_sent

    def crash_once(row, now):
        if row.id == first_id and not getattr(crash_once, "done", False):
            crash_once.done = True
            raise Crash()
        real_mark_sent(row, now)

    monkeypatch.setattr(delivery, "_mark_sent", crash_once)
    now = utcnow()
    with pytest.raises(Crash):
        deliver(now=now)
    db.session.rollback()
    assert len(smtp_server.messages) == 1  # it went out; the run died before recording it

    assert deliver(now=now).sent == 1  # the other message
    assert deliver(now=now + LEASE).sent == 1  # the unrecorded one again, after the lease
    ids = Counter(m.message["Message-ID"] for m in smtp_server.messages)
    # The re-send carries the same Message-ID: the receiving side sees one message each.
    assert set(ids) == {f"<notification-{r.id}@referralnet>" for r in rows(db, channel="email")}
    assert ids[f"<notification-{first_id}@referralnet>"] == 2 and sum(ids.values()) == 3
    db.session.expire_all()
    assert all(r.state == "sent" for r in rows(db))


def test_two_runs_never_claim_the_same_row(db, world, send):
    send(contact_preference="phone")  # one email row
    db.session.commit()
    now = utcnow()
    assert claim_next(now) is not None
    assert claim_next(now) is None
    assert claim_next(now + LEASE).attempts == 2  # taken over only after the lease, counted as an attempt


def test_a_message_that_keeps_crashing_runs_ends_up_failed(app, db, world, send, monkeypatch):
    monkeypatch.setitem(app.config, "NOTIFICATION_MAX_ATTEMPTS", 2)
    send(contact_preference="phone")
    db.session.commit()
    now = utcnow()
    claim_next(now)
    claim_next(now + LEASE)
    report = deliver(now=now + 2 * LEASE)
    assert report.failed == 1
    row = rows(db, channel="email")[0]
    assert (row.state, row.last_error) == ("failed", "DeliveryInterrupted")


def test_sms_gateway_success(app, db, world, send, sms_gateway):
    referral = send(contact_preference="sms")
    db.session.commit()
    assert deliver().sent == 2
    sms_row = rows(db, channel="sms")[0]
    [request] = sms_gateway.requests
    assert request.headers["Authorization"] == "Bearer gateway-token"
    assert request.json["to"] == "415-555-0199" and request.json["from"] == "+14155550000"
    assert request.json["idempotency_key"] == f"notification-{sms_row.id}"
    assert link_of(app, referral) in request.json["body"]
    assert "Quetzalcoatl" not in request.json["body"] and "1971" not in request.json["body"]
    db.session.expire_all()
    assert db.session.get(Notification, sms_row.id).state == "sent"


def test_sms_gateway_4xx_fails_at_once_and_5xx_is_retried(db, world, send, sms_gateway):
    send(contact_preference="sms")
    send(contact_preference="sms", phone="415-555-0142")
    db.session.commit()
    first, second = rows(db, channel="sms")
    sms_gateway.statuses = [422, 503]
    now = utcnow()
    deliver(now=now)
    db.session.expire_all()
    first, second = db.session.get(Notification, first.id), db.session.get(Notification, second.id)
    assert (first.state, first.attempts, first.last_error) == ("failed", 1, "HTTP 422")
    assert (second.state, second.attempts, second.last_error) == ("pending", 1, "HTTP 503")
    assert second.next_attempt_at == now + timedelta(minutes=1)
    assert deliver(now=now + timedelta(minutes=1)).sent == 1
    db.session.expire_all()
    assert db.session.get(Notification, second.id).state == "sent"
    keys = [r.json["idempotency_key"] for r in sms_gateway.requests]
    assert keys == [f"notification-{first.id}", f"notification-{second.id}", f"notification-{second.id}"]


def test_revoked_link_or_do_not_contact_since_enqueue_skips_the_patient(db, world, send, sms_gateway):
    revoked = send(contact_preference="sms")
    changed_mind = send(contact_preference="sms", phone="415-555-0142")
    patient_links.revoke_link(world.coordinator, revoked)
    sv.update_client(world.coordinator, changed_mind.client, contact_preference="do-not-contact")
    db.session.commit()
    report = deliver()
    assert report.skipped == 2 and sms_gateway.requests == []
    db.session.expire_all()
    assert {(r.state, r.last_error) for r in rows(db, channel="sms")} == \
        {("skipped", "status link revoked"), ("skipped", "patient contact preference changed")}


def test_cli_deliver(runner, db, world, send):
    send(contact_preference="sms")
    db.session.commit()
    result = runner.invoke(args=["notifications", "deliver", "--limit", "1"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "Notifications: 1 sent, 0 to retry, 0 failed, 0 skipped."
    result = runner.invoke(args=["notifications", "deliver"])
    assert "1 sent" in result.output
