"""Issue 13's walkthrough, the patient's side: links on the address the app is served on, what the
patient said in the staff timeline, no report buttons once the referral is finished, the care team's
phone, dates as staff pages show them in the patient's language, the thank-you at the top."""
from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import func, select

from referralnet.config import network_timezone
from referralnet.notifications.models import Notification
from referralnet.notifications.rendering import render
from referralnet.referrals import patient_links, services
from referralnet.referrals.models import ReferralEvent, Status
from referralnet.status.service import record_report
from tests.conftest import csrf_token_from
from tests.referrals.conftest import signed_in
from tests.referrals.test_pages import FAST_HASH


def text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture()
def sent(db, world, make_client, consent_for):
    """A referral sent through the service (so it has a patient link) by Mission Clinic, which has a phone."""
    world.clinic.phone = "(415) 555-0123"
    client = make_client(given_name="Lucía", family_name="Ramírez", date_of_birth=date(1971, 2, 3),
                         preferred_language="es", phone="(415) 555-0100", email="lucia@example.org",
                         contact_preference="email")
    consent_for(client)
    referral = services.send_referral(world.coordinator, client, "svc-pantry", category="food-insecurity")
    db.session.commit()
    return referral, patient_links.token_for(referral)


# --- the address links point at ----------------------------------------------------------------

def test_without_public_base_url_links_follow_the_address_the_app_is_served_on(app, client, sent):
    referral, token = sent
    assert app.config["PUBLIC_BASE_URL"] is None  # the default: nothing hard-wired to :5000
    page = text(client.get(f"/s/{token}/print?lang=en", base_url="http://127.0.0.1:8123"))
    # The printed address and the QR code (an SVG of the same address) are on the port served.
    assert f"http://127.0.0.1:8123/s/{token}" in page and "127.0.0.1:5000" not in page
    with app.test_request_context(base_url="http://clinic.example:8000"):
        assert patient_links.status_url(referral) == f"http://clinic.example:8000/s/{token}"


def test_staff_messages_written_during_a_request_link_to_that_address(app, db, world, make_client, consent_for):
    person = make_client(given_name="Ann", family_name="Lee")
    consent_for(person)
    with app.test_request_context(base_url="http://127.0.0.1:8123"):
        referral = services.send_referral(world.coordinator, person, "svc-pantry", category="food-insecurity")
        db.session.flush()
    email = db.session.scalar(select(Notification).where(Notification.channel == "email",
                                                         Notification.recipient_user_id == world.partner.id))
    assert f"http://127.0.0.1:8123/referrals/{referral.id}" in email.body


def test_a_set_public_base_url_wins_and_serves_cron_jobs(app, db, sent, monkeypatch):
    referral, token = sent
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", "https://referrals.example.org/")
    row = db.session.scalar(select(Notification).where(Notification.recipient_client_id == referral.client_id))
    assert f"https://referrals.example.org/s/{token}" in render(row).body  # outside any request, as cron runs
    with app.test_request_context(base_url="http://10.0.0.5:5000"):
        assert patient_links.status_url(referral) == f"https://referrals.example.org/s/{token}"


# --- the patient's reports -----------------------------------------------------------------------

def test_the_staff_timeline_says_what_the_patient_said(app, db, world, sent):
    referral, token = sent
    record_report(referral, "not-heard-back")
    db.session.commit()
    world.coordinator.password_hash = FAST_HASH
    db.session.commit()
    page = text(signed_in(app, world.coordinator).get(f"/referrals/{referral.id}"))
    assert "Patient: I have not heard back" in page
    assert "not heard back</" not in page.replace("I have not heard back", "")  # never the bare code


def test_after_reporting_the_page_opens_at_the_thank_you(client, sent):
    referral, token = sent
    page = text(client.get(f"/s/{token}?lang=en"))
    response = client.post(f"/s/{token}?lang=en", data={"report": "contacted", "csrf_token": csrf_token_from(page)})
    assert response.status_code == 302 and "#" not in response.headers["Location"]
    thanks = text(client.get(response.headers["Location"]))
    assert thanks.index("We told your care team") < thanks.index("Your referral</h1>")


@pytest.mark.parametrize("finished", [Status.COMPLETED, Status.FAILED, Status.REJECTED, Status.CANCELLED])
def test_a_finished_referral_offers_no_report_buttons_and_takes_no_report(db, client, world, make_referral,
                                                                          sent, finished):
    open_one, open_token = sent  # its page has the report form: its CSRF token is this browser's
    csrf = csrf_token_from(text(client.get(f"/s/{open_token}?lang=en")))
    referral = make_referral(finished)
    db.session.flush()
    token = patient_links.ensure_link(referral)
    db.session.commit()
    page = text(client.get(f"/s/{token}?lang=en"))
    assert "Tell your care team" not in page and 'name="report"' not in page
    before = db.session.scalar(select(func.count()).select_from(ReferralEvent).where(ReferralEvent.kind == "report"))
    response = client.post(f"/s/{token}?lang=en", data={"report": "not-heard-back", "csrf_token": csrf})
    assert response.status_code == 302
    assert "This referral is finished" in text(client.get(response.headers["Location"]))
    after = db.session.scalar(select(func.count()).select_from(ReferralEvent).where(ReferralEvent.kind == "report"))
    assert after == before


def test_the_patient_page_shows_the_care_teams_phone(client, sent):
    referral, token = sent
    page = text(client.get(f"/s/{token}?lang=en"))
    care_team = page[page.index('id="care-team"'):]
    assert "Mission Clinic" in care_team and 'href="tel:(415)555-0123"' in care_team
    assert "Su equipo de atención" in text(client.get(f"/s/{token}"))


def test_patient_page_dates_are_long_dates_in_the_patients_language(client, sent):
    referral, token = sent
    due = referral.response_due_at.astimezone(network_timezone())  # the pages' dates are the network's local dates
    spanish = text(client.get(f"/s/{token}"))
    english = text(client.get(f"/s/{token}?lang=en"))
    months_es = ["ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sept", "oct", "nov", "dic"]
    # The due date, as staff pages write dates ("Nov 24, 2026"), in each language.
    assert f"{due.strftime('%b')} {due.day}, {due.year}" in english
    assert f"{due.day} {months_es[due.month - 1]} {due.year}" in spanish
    # The timeline's times carry the year too, and Spanish uses the 24-hour clock.
    stamp = re.search(r'<time datetime="[^"]+">([^<]+)</time>', spanish).group(1)
    assert str(due.year) in stamp and re.search(r"\d{1,2}:\d{2}$", stamp)
    assert re.search(r"\d{1,2}:\d{2}\s?(AM|PM)", re.search(r'<time datetime="[^"]+">([^<]+)</time>',
                                                          english).group(1))
