"""A referral to an agency outside the network, in a real browser, axe-core on every page:
the coordinator finds a non-member service (its card says it goes by secure link), records
consent, need and note and sends; the agency, with no account, opens the link it was emailed,
accepts and completes; the coordinator sees it on the referral's timeline."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from referralnet.notifications.models import Notification
from referralnet.notifications.rendering import render
from referralnet.referrals.models import Referral
from tests.browser.conftest import sign_in

pytestmark = pytest.mark.browser
SERVICE = "Weekend Community Supper"  # Tidepool Community Food Network: in the directory, not a member, has an email


def _agency_link(db, referral_id: int) -> str:
    """The path of the link the outbox emails the agency (rendered as delivery would)."""
    db.session.expire_all()
    row = db.session.scalar(select(Notification).where(Notification.referral_id == referral_id,
                                                       Notification.event == "referral.sent",
                                                       Notification.recipient_user_id.is_(None),
                                                       Notification.recipient_client_id.is_(None)))
    assert row is not None and row.address == "supper@tidepool-food.example.org"
    return re.search(r"/a/[A-Za-z0-9_-]{43}", render(row).body).group(0)


def test_an_agency_without_an_account_accepts_and_completes_through_its_link(browser, live_server, page, axe,
                                                                              demo, db):
    # --- the coordinator: search, pick the non-member service, send ------------------------------
    sign_in(page, "coordinator@referralnet.test")
    page.goto("/search")
    page.get_by_label("What does the person need?").fill(SERVICE)
    page.get_by_role("button", name="Search").click()
    page.wait_for_load_state()
    card = page.locator("li.result", has=page.get_by_role("link", name=SERVICE, exact=True)).first
    assert "the agency is emailed a secure link" in card.inner_text()
    assert "Accepting referrals" not in card.inner_text()
    axe(page)
    card.get_by_label(f"Select {SERVICE} for a referral").check()
    page.get_by_role("button", name="Refer a client to the selected services").click()
    page.wait_for_load_state()
    page.get_by_role("link", name="Refer James Okafor").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", level=1).inner_text() == "Refer James Okafor"
    assert page.get_by_label("Agency's email").input_value() == "supper@tidepool-food.example.org"
    axe(page)
    page.get_by_label("James agreed to share their details with Tidepool Community Food Network").check()
    page.get_by_label("Need").select_option("food-insecurity")
    page.get_by_label("Note to the agency").fill("Works weekdays; Saturday supper would help.")
    page.get_by_role("button", name="Send referrals").click()
    page.wait_for_url(re.compile(r".*/referrals/\d+$"))
    referral_url = page.url
    referral_id = int(referral_url.rsplit("/", 1)[1])
    assert "Requested" in page.locator(".status-line").inner_text()
    assert "Sent by secure link" in page.content()
    axe(page)

    # --- the agency: no account, only the link from its email --------------------------------------
    agency = browser.new_context(base_url=live_server).new_page()
    agency.goto(_agency_link(db, referral_id))
    assert agency.get_by_role("heading", level=1).inner_text() == SERVICE
    assert "James Okafor" in agency.content() and "Works weekdays; Saturday supper would help." in agency.content()
    axe(agency)
    agency.locator("#move-accepted > summary").click()
    agency.locator("#move-accepted").get_by_role("button", name="Accept", exact=True).click()
    agency.wait_for_load_state()
    assert "Accepted" in agency.locator(".status-line").inner_text()
    axe(agency)
    agency.locator("#move-completed > summary").click()
    completed = agency.locator("#move-completed")
    completed.get_by_label("Outcome").select_option("got-help")
    completed.get_by_label("Note").fill("He came on Saturday.")
    completed.get_by_role("button", name="Complete", exact=True).click()
    agency.wait_for_load_state()
    assert "Completed" in agency.locator(".status-line").inner_text()
    assert "Tidepool Community Food Network (through its secure link)" in agency.content()
    axe(agency)
    # A guessed link gets the not-found page, which passes axe too.
    agency.goto("/a/" + "Z" * 43)
    assert agency.get_by_role("heading", level=1).inner_text() == "Page not found"
    axe(agency)
    agency.context.close()

    # --- the coordinator sees the agency's moves on the timeline -------------------------------------
    page.goto(referral_url)
    assert "Completed" in page.locator(".status-line").inner_text()
    assert "Tidepool Community Food Network (through its secure link)" in page.content()
    axe(page)
    assert page.external_requests == []
    db.session.expire_all()
    assert db.session.get(Referral, referral_id).outcome == "got-help"
