"""The patient's status page: reached by token only, in the patient's language, showing the
agency and the status but nothing about the patient; reports reach the coordinator's worklist."""
from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from referralnet.db import utcnow
from referralnet.directory.models import Address, Phone, RequiredDocument
from referralnet.referrals import patient_links, services
from referralnet.referrals.models import Referral, ReferralEvent, Status
from referralnet.referrals.worklists import WORKLIST, Filters, listing
from tests.conftest import csrf_token_from


def text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture()
def sent(db, world, make_client, consent_for):
    """A referral sent through the service (so it has a link) for a Spanish-speaking patient."""
    db.session.add(Address(id="addr-eastside", location_id="loc-eastside", address_1="100 Main St", city="San Mateo",
                           state_province="CA", postal_code="94401", country="US", address_type="physical"))
    db.session.add(Phone(id="ph-pantry", service_id="svc-pantry", number="650 555 0199"))
    db.session.add(RequiredDocument(id="doc-id", service_id="svc-pantry", document="Photo ID"))
    client = make_client(given_name="Lucía", family_name="Ramírez", date_of_birth=date(1971, 2, 3),
                         preferred_language="es", phone="(415) 555-0100", email="lucia@example.org")
    consent_for(client)
    referral = services.send_referral(world.coordinator, client, "svc-pantry", location_id="loc-eastside",
                                      category="food-insecurity")
    db.session.commit()
    token = patient_links.token_for(referral)
    return referral, token


def test_the_page_shows_the_agency_and_status_in_the_patients_language(client, sent):
    referral, token = sent
    page = text(client.get(f"/s/{token}"))
    assert '<html lang="es">' in page
    assert "Enviada a Eastside Food Bank" in page and "debería comunicarse con usted a más tardar el" in page
    assert "Sent to" not in page and "Teléfono" in page and "Qué llevar" in page
    assert "Eastside Food Bank" in page and "100 Main St" in page and "650 555 0199" in page
    assert "Photo ID" in page
    english = text(client.get(f"/s/{token}?lang=en"))
    assert '<html lang="en">' in english and "Sent to Eastside Food Bank" in english
    assert "should contact you by" in english


def test_the_page_holds_nothing_about_the_patient(client, sent):
    referral, token = sent
    for url in (f"/s/{token}", f"/s/{token}?lang=en", f"/s/{token}/print"):
        page = text(client.get(url))
        for private in ("Lucía", "Ramírez", "1971", "555-0100", "lucia@example.org", "Given", "Family"):
            assert private not in page, (url, private)


def test_unknown_malformed_and_revoked_links_get_the_same_not_found_page(client, db, sent, world):
    referral, token = sent
    guessed = client.get("/s/" + "A" * 43)
    assert guessed.status_code == 404
    assert client.get("/s/short").status_code == 404
    assert client.get("/s/" + "x" * 200).status_code == 404
    patient_links.revoke_link(world.coordinator, db.session.get(Referral, referral.id))
    db.session.commit()
    revoked = client.get(f"/s/{token}")
    assert revoked.status_code == 404
    strip = lambda html: re.sub(r'lang="\w+"', "", html)  # noqa: E731
    assert strip(text(revoked)) == strip(text(guessed))


def test_reissuing_replaces_the_link(client, db, sent, world):
    referral, old = sent
    new = patient_links.reissue_link(world.coordinator, db.session.get(Referral, referral.id))
    db.session.commit()
    assert new != old
    assert client.get(f"/s/{old}").status_code == 404
    assert client.get(f"/s/{new}").status_code == 200


def test_the_token_is_long_random_and_not_stored(db, sent):
    referral, token = sent
    assert len(token) >= 43  # 256 bits, base64url
    row = db.session.execute(select(Referral.__table__)).mappings().one()
    assert token not in {str(v) for v in row.values()}
    assert row["patient_token_hash"] == patient_links.hash_token(token)
    assert len(row["patient_token_salt"]) == 32  # 128 random bits


def test_only_the_sending_side_can_manage_the_link(db, sent, world):
    from referralnet.errors import NotPermitted

    referral, _ = sent
    for outsider in (world.partner, world.other_coordinator, world.admin):
        with pytest.raises(NotPermitted):
            patient_links.reissue_link(outsider, referral)
        with pytest.raises(NotPermitted):
            patient_links.revoke_link(outsider, referral)


def test_repeated_bad_tokens_are_rate_limited(app, client, sent):
    referral, token = sent
    app.config["STATUS_BAD_TOKEN_LIMIT"] = "3 per minute"
    try:
        codes = [client.get("/s/" + "B" * 42 + str(i % 10)).status_code for i in range(5)]
    finally:
        app.config["STATUS_BAD_TOKEN_LIMIT"] = "10 per minute"
    assert codes[:3] == [404, 404, 404] and codes[-1] == 429


def test_a_report_lands_on_the_timeline_and_the_worklist(client, db, sent, world):
    referral, token = sent
    page = text(client.get(f"/s/{token}?lang=en"))
    response = client.post(f"/s/{token}?lang=en", data={"report": "not-heard-back", "csrf_token": csrf_token_from(page)})
    assert response.status_code == 302
    event = db.session.scalar(select(ReferralEvent).where(ReferralEvent.kind == "report"))
    assert event.report_code == "not-heard-back" and event.actor_kind == "patient" and event.patient_visible
    result = listing(world.coordinator, WORKLIST, "patient-reported", Filters())
    assert [r.id for r in result.referrals] == [referral.id]
    after = text(client.get(f"/s/{token}?lang=en"))
    assert "You told us: “I have not heard back”." in after


def test_reports_need_a_known_code_and_a_form_token(client, db, sent):
    referral, token = sent
    page = text(client.get(f"/s/{token}"))
    assert client.post(f"/s/{token}", data={"report": "hacked", "csrf_token": csrf_token_from(page)}).status_code == 404
    assert client.post(f"/s/{token}", data={"report": "got-help"}).status_code == 400
    assert db.session.scalar(select(func.count()).select_from(ReferralEvent).where(ReferralEvent.kind == "report")) == 0


def test_entered_in_error_referrals_have_no_page(client, db, sent, world):
    referral, token = sent
    services.change_status(db.session.get(Referral, referral.id), "entered-in-error", world.coordinator)
    db.session.commit()
    assert client.get(f"/s/{token}").status_code == 404


def test_staff_notes_never_reach_the_patient(client, db, sent, world):
    referral, token = sent
    services.change_status(db.session.get(Referral, referral.id), "rejected", world.partner, reason="other",
                             reason_text="Client was rude on the phone", note="internal only")
    db.session.commit()
    page = text(client.get(f"/s/{token}?lang=en"))
    assert "cannot take this referral" in page
    assert "rude" not in page and "internal only" not in page


def test_printable_summary_has_a_qr_code_of_the_link(client, sent):
    referral, token = sent
    page = text(client.get(f"/s/{token}/print?lang=en"))
    assert "<svg" in page and f"/s/{token}" in page and "Photo ID" in page


def test_the_page_sends_no_third_party_requests(client, sent):
    referral, token = sent
    page = text(client.get(f"/s/{token}"))
    for url in re.findall(r'(?:src|href)="([^"]+)"', page):
        assert url.startswith(("/", "#", "tel:")), url
    response = client.get(f"/s/{token}")
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] in ("same-origin", "no-referrer")
    assert '<meta name="referrer" content="no-referrer">' in page


def test_overdue_wording(client, db, sent):
    referral, token = sent
    row = db.session.get(Referral, referral.id)
    row.response_due_at = utcnow() - timedelta(days=1)
    db.session.commit()
    assert "should have contacted you by now" in text(client.get(f"/s/{token}?lang=en"))


def test_a_report_notifies_the_sending_coordinator(client, db, sent, world):
    from referralnet.notifications.models import Notification

    referral, token = sent
    page = text(client.get(f"/s/{token}"))
    client.post(f"/s/{token}", data={"report": "no-longer-needed", "csrf_token": csrf_token_from(page)})
    rows = db.session.scalars(select(Notification).where(Notification.recipient_user_id == world.coordinator.id,
                                                         Notification.event.like("%report%"))).all()
    assert {r.channel for r in rows} >= {"app"}
    assert all("Lucía" not in (r.body or "") and "Ramírez" not in (r.body or "") for r in rows)
