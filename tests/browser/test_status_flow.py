"""The patient on a phone: opens their link, reads their status in Spanish, reports "I have not
heard back"; the coordinator's worklist shows it. axe-core on the status page in both languages."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from referralnet.demo import DEMO_PASSWORD
from referralnet.referrals.models import Client, Referral
from referralnet.referrals.patient_links import token_for

pytestmark = pytest.mark.browser


@pytest.fixture()
def spanish_referral(db, demo):
    """A demo referral still waiting for the agency, for a Spanish-preferring client, and its link."""
    referral = db.session.scalars(
        select(Referral).join(Client).where(Client.preferred_language == "es", Referral.status == "requested")
        .order_by(Referral.id)).first()
    assert referral is not None, "the demo data should have a Spanish-speaking client waiting for an agency"
    return referral.id, referral.client.full_name, token_for(referral), referral.sender.email


@pytest.fixture()
def phone(browser, live_server):
    context = browser.new_context(base_url=live_server, viewport={"width": 360, "height": 740}, is_mobile=True,
                                  has_touch=True, locale="es-US")
    page = context.new_page()
    external = []
    page.route(lambda url: not url.startswith(live_server), lambda route: (external.append(route.request.url),
                                                                          route.abort()))
    page.external_requests = external
    yield page
    context.close()


def test_patient_reports_from_a_phone_and_the_coordinator_sees_it(phone, page, axe, spanish_referral):
    referral_id, client_name, token, sender = spanish_referral
    phone.goto(f"/s/{token}")
    assert phone.locator("html").get_attribute("lang") == "es"
    assert phone.get_by_role("heading", level=1).inner_text() == "Su remisión"
    assert re.match(r"^Enviada a ", phone.get_by_role("heading", level=2).first.inner_text())
    assert client_name.split()[0] not in phone.content()
    axe(phone)

    phone.get_by_role("link", name="English").click()
    phone.wait_for_load_state()
    assert phone.get_by_role("heading", level=1).inner_text() == "Your referral"
    axe(phone)
    phone.get_by_role("link", name="Español").click()
    phone.wait_for_load_state()

    phone.get_by_role("button", name="No he recibido respuesta").click()
    phone.wait_for_load_state()
    assert "Su equipo de atención hablará con la agencia" in phone.get_by_role("status").inner_text()
    assert "Usted nos dijo: «No he recibido respuesta»." in phone.content()
    axe(phone)
    assert phone.external_requests == []

    # The coordinator who sent it sees it on the worklist.
    page.goto("/login")
    page.get_by_label("Email").fill(sender)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    page.goto("/worklist?view=patient-reported")
    assert page.locator(f'a[href="/referrals/{referral_id}"]').count() == 1
    axe(page)
