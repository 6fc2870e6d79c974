"""Who hears what (`outbox.enqueue_for_event`), driven through the real referral services."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from referralnet.accounts.models import User
from referralnet.errors import Conflict
from referralnet.notifications.models import Notification
from referralnet.notifications.outbox import STATUS_LINK, enqueue_for_event
from referralnet.referrals import services as sv
from referralnet.referrals.models import Referral, ReferralEvent
from referralnet.referrals.reminders import queue_reminders
from tests.notifications.conftest import rows

PACIFIC = ZoneInfo("America/Los_Angeles")


def clear(db) -> None:
    for row in rows(db):
        db.session.delete(row)
    db.session.flush()


def summary(db, **where) -> set[tuple]:
    """(event, channel, recipient) for every row: 'user:<email>' or 'client'."""
    return {(r.event, r.channel, f"user:{r.recipient_user.email}" if r.recipient_user_id else "client")
            for r in rows(db, **where)}


def staff(event: str, *users) -> set[tuple]:
    return {(event, channel, f"user:{u.email}") for u in users for channel in ("app", "email")}


def test_new_referral_tells_the_partner_staff_and_the_patient(db, world, send):
    referral = send(contact_preference="sms")
    assert summary(db) == staff("referral.sent", world.partner) | {("referral.sent", "sms", "client")}

    partner_app, partner_email = rows(db, channel="app")[0], rows(db, channel="email")[0]
    assert (partner_app.state, partner_app.sent_at is not None) == ("sent", True)  # delivered by being written
    assert (partner_email.state, partner_email.address) == ("pending", world.partner.email)
    assert f"http://127.0.0.1:5000/referrals/{referral.id}" in partner_email.body
    assert "Mission Clinic sent a new referral for a client to Eastside Pantry." in partner_email.body

    sms = rows(db, channel="sms")[0]
    assert (sms.address, sms.recipient_client_id, sms.language, sms.subject) == \
        ("415-555-0199", referral.client_id, "en", None)
    assert "Eastside Food Bank" in sms.body and STATUS_LINK in sms.body  # the link itself is never stored


def test_only_active_partner_staff_of_the_receiving_agency(db, world, send):
    colleague = User(email="colleague@eastside.example", name="Colleague", role="partner",
                     organization=world.partner_org, password_hash="x", active=True)
    gone = User(email="gone@eastside.example", name="Gone", role="partner", organization=world.partner_org,
                password_hash="x", active=False)
    db.session.add_all([colleague, gone])
    db.session.flush()
    send(contact_preference="phone")
    assert summary(db) == staff("referral.sent", world.partner, colleague)


def test_partner_actions_tell_the_coordinator_and_the_patient_hears_accept_and_complete(db, world, send):
    referral = send(contact_preference="email")
    clear(db)

    sv.change_status(referral, "accepted", world.partner)
    assert summary(db) == staff("referral.accepted", world.coordinator) | {("referral.accepted", "email", "client")}
    patient_email = rows(db, recipient_client_id=referral.client_id)[0]
    assert (patient_email.address, patient_email.subject) == \
        ("patient@example.net", "Eastside Food Bank accepted your referral")

    clear(db)
    sv.change_status(referral, "in-progress", world.partner)
    sv.change_status(referral, "on-hold", world.partner, reason="waitlist")
    assert summary(db) == staff("referral.in-progress", world.coordinator) | staff("referral.on-hold",
                                                                                   world.coordinator)
    clear(db)
    sv.change_status(referral, "completed", world.partner, outcome="got-help")
    assert summary(db) == staff("referral.completed", world.coordinator) | \
        {("referral.completed", "email", "client")}


def test_partner_rejection_tells_the_coordinator_not_the_patient(db, world, send):
    referral = send(contact_preference="sms")
    clear(db)
    sv.change_status(referral, "rejected", world.partner, reason="other", reason_text="Client Ximena is over income")
    assert summary(db) == staff("referral.rejected", world.coordinator)
    for row in rows(db):
        assert "Ximena" not in row.body and "income" not in row.body  # free text stays in the app


def test_inactive_sender_hands_over_to_the_other_coordinators_of_the_clinic(db, world, send):
    referral = send(contact_preference="phone")
    colleague = User(email="colleague@mission.example", name="Colleague", role="coordinator",
                     organization=world.clinic, password_hash="x", active=True)
    db.session.add(colleague)
    world.coordinator.active = False
    db.session.flush()
    sv.change_status(referral, "accepted", world.partner)
    assert summary(db, event="referral.accepted") == staff("referral.accepted", colleague)


def test_coordinator_cancel_tells_the_partner(db, world, send):
    referral = send(contact_preference="phone")
    clear(db)
    sv.change_status(referral, "cancelled", world.coordinator, reason="client-request")
    assert summary(db) == staff("referral.cancelled", world.partner)


def test_messages_go_to_the_other_side_without_their_text(db, world, send):
    referral = send(contact_preference="sms")
    clear(db)
    sv.post_message(world.partner, referral, "Ximena missed her appointment on 9/17")
    assert summary(db) == staff("referral.message", world.coordinator)
    clear(db)
    sv.post_message(world.coordinator, referral, "She will call you back")
    assert summary(db) == staff("referral.message", world.partner)
    for row in rows(db):
        assert "call you back" not in row.body and "Eastside Pantry" in row.body


def test_reminders_tell_the_partner_staff(db, world, make_client, consent_for):
    friday = datetime(2026, 3, 13, 10, 0, tzinfo=PACIFIC)
    client = make_client(contact_preference="sms")
    consent_for(client)
    referral = sv.send_referral(world.coordinator, client, world.pantry.id, category="food-insecurity", now=friday)
    clear(db)
    assert queue_reminders(now=datetime(2026, 3, 17, 10, 1, tzinfo=PACIFIC)) == [referral]
    assert summary(db) == staff("referral.reminder", world.partner)
    assert "past its response time" in rows(db, channel="email")[0].body


def test_patient_report_tells_the_coordinator(db, world, send):
    referral = send(contact_preference="sms")
    clear(db)
    event = ReferralEvent(referral=referral, actor_kind="patient", kind="report", report_code="not-heard-back",
                          patient_visible=True)
    db.session.add(event)
    enqueue_for_event(event)
    assert summary(db) == staff("referral.report", world.coordinator)
    assert "they have not heard back" in rows(db, channel="app")[0].body


@pytest.mark.parametrize("preference", ["do-not-contact", "phone"])
def test_no_automated_message_to_a_patient_who_is_called_or_not_contacted(db, world, send, preference):
    referral = send(contact_preference=preference)
    sv.change_status(referral, "accepted", world.partner)
    sv.change_status(referral, "completed", world.partner, outcome="got-help")
    assert rows(db, recipient_client_id=referral.client_id) == []
    assert {r.channel for r in rows(db)} == {"app", "email"}  # staff still hear


def test_spanish_speaking_patient_gets_spanish(db, world, send):
    referral = send(contact_preference="sms", preferred_language="es-MX")
    sms = rows(db, channel="sms")[0]
    assert sms.language == "es"
    assert "Le refirieron a Eastside Food Bank" in sms.body and STATUS_LINK in sms.body
    sv.change_status(referral, "accepted", world.partner)
    assert "aceptó su remisión" in rows(db, channel="sms", event="referral.accepted")[0].body
    assert "accepted" in rows(db, channel="app", event="referral.accepted")[0].body  # staff: English


def test_no_patient_name_or_birth_date_in_sms_or_staff_messages(db, world, send):
    referral = send(contact_preference="sms")
    sv.change_status(referral, "accepted", world.partner)
    sv.post_message(world.partner, referral, "hello")
    sv.change_status(referral, "completed", world.partner, outcome="got-help")
    client = referral.client
    for row in rows(db):
        if row.recipient_client_id is not None and row.channel == "email":
            continue
        text = f"{row.subject or ''} {row.body}"
        for forbidden in (client.given_name, client.family_name, "1971", "09/17", "9/17", "Sep"):
            assert forbidden not in text, (row.event, row.channel, forbidden)


def test_a_rolled_back_change_leaves_no_notification(db, world, send):
    referral = send(contact_preference="sms")
    db.session.commit()
    before = db.session.scalar(select(func.count(Notification.id)))
    sv.change_status(referral, "accepted", world.partner)
    assert db.session.scalar(select(func.count(Notification.id))) > before
    db.session.rollback()
    assert db.session.scalar(select(func.count(Notification.id))) == before
    assert db.session.get(Referral, referral.id).status == "requested"

    with pytest.raises(Conflict):
        sv.change_status(referral, "accepted", world.partner, expected_version=referral.version + 5)
    db.session.rollback()
    assert db.session.scalar(select(func.count(Notification.id))) == before


def test_enqueuing_an_event_twice_adds_nothing(db, world, send):
    referral = send(contact_preference="sms")
    event = referral.events[-1]
    count = db.session.scalar(select(func.count(Notification.id)))
    assert enqueue_for_event(event) == []
    assert db.session.scalar(select(func.count(Notification.id))) == count
    assert len({r.dedupe_key for r in rows(db)}) == count


def test_staff_email_can_be_switched_off(app, db, world, send, monkeypatch):
    monkeypatch.setitem(app.config, "STAFF_EMAIL_NOTIFICATIONS", False)
    send(contact_preference="phone")
    assert {r.channel for r in rows(db)} == {"app"}
