"""In a real browser: a coordinator withdraws a client's consent to share with an agency that has
not accepted their referral yet; the agency's staff then find it cancelled, without the client's
details, on an accessible page."""
from __future__ import annotations

from sqlalchemy import select

from referralnet.accounts.models import NetworkOrganization, User
from referralnet.referrals.models import Client, Consent, Referral, Status
from tests.browser.conftest import sign_in


def _waiting_referral(db):
    """A demo referral still requested, from Bayside to Samaritan House, and its client's consent."""
    agency = db.session.scalar(select(NetworkOrganization).where(NetworkOrganization.name == "Samaritan House"))
    coordinator = db.session.scalar(select(User).where(User.email == "coordinator@referralnet.test"))
    referral = db.session.scalar(
        select(Referral).where(Referral.status == Status.REQUESTED.value,
                               Referral.receiving_organization_id == agency.directory_organization_id,
                               Referral.sending_organization_id == coordinator.organization_id)
        .order_by(Referral.id).limit(1))
    assert referral is not None, "the demo data has a requested referral to Samaritan House"
    return referral


def test_withdrawing_consent_cancels_and_hides_the_client_from_the_agency(page, axe, demo, db):
    referral = _waiting_referral(db)
    client = db.session.get(Client, referral.client_id)
    name, phone = client.full_name, client.phone
    sign_in(page, "coordinator@referralnet.test")
    page.goto(f"/clients/{client.id}")
    assert "cancels the referrals that agency has not accepted yet" in page.content()
    axe(page)
    page.get_by_role("button", name="Withdraw consent to share with Samaritan House").first.click()
    page.wait_for_load_state()
    assert "Consent to share with Samaritan House was withdrawn." in page.content()
    assert "had not accepted yet" in page.content()

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, "partner@referralnet.test")
    page.goto(f"/referrals/{referral.id}")
    content = page.content()
    assert "Consent withdrawn" in content and name in content
    assert page.locator("#consent-withdrawn").is_visible()
    if phone:
        assert phone not in content
    axe(page)
    db.session.rollback()
    assert db.session.get(Referral, referral.id).status == Status.CANCELLED.value
    assert db.session.scalar(select(Consent.revoked_at).where(Consent.id == referral.consent_id)) is not None
