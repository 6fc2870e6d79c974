"""The partner's listing pages and the admin's audit log in a real browser, with axe-core."""
from __future__ import annotations

import re

import pytest

from tests.browser.conftest import sign_in

pytestmark = pytest.mark.browser




def test_partner_keeps_listings_current(page, axe, demo):
    sign_in(page, "partner@referralnet.test")
    axe(page)  # home with the inbox count
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Our listings").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", level=1).inner_text() == "Your listings"
    axe(page)

    page.get_by_role("link", name=re.compile(r"(Update|Add) capacity of Project Smile")).click()
    page.wait_for_load_state()
    axe(page)
    page.get_by_label("Available").fill("3")
    page.get_by_label("Maximum").fill("2")
    page.get_by_role("button", name="Save capacity").click()
    page.wait_for_load_state()
    assert page.get_by_role("alert").count() >= 1  # error summary: available above maximum
    axe(page)
    page.get_by_label("Maximum").fill("10")
    page.get_by_role("button", name="Save capacity").click()
    page.wait_for_load_state()
    capacity = page.get_by_role("table", name="Capacity of Project Smile")
    assert capacity.get_by_role("cell").nth(0).inner_text() == "3"
    assert capacity.get_by_role("cell").nth(1).inner_text() == "10"

    page.get_by_role("link", name=re.compile(r"Edit (service-wide )?hours of Project Smile")).first.click()
    page.wait_for_load_state()
    axe(page)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Inbox").click()
    page.wait_for_load_state()
    axe(page)
    assert page.external_requests == []


def test_admin_browses_the_audit_log(page, axe, demo):
    sign_in(page, "admin@referralnet.test")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Audit log").click()
    page.wait_for_load_state()
    axe(page)
    page.get_by_label("Object id").fill("abc")
    page.get_by_role("button", name=re.compile("Filter|Apply|Show")).first.click()
    page.wait_for_load_state()
    assert page.get_by_role("alert").count() >= 1
    axe(page)
    assert page.external_requests == []


def test_admin_creates_an_api_token_and_staff_read_notifications(page, axe, demo):
    sign_in(page, "admin@referralnet.test")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="API tokens").click()
    page.wait_for_load_state()
    axe(page)
    page.get_by_role("link", name="New token").click()
    page.wait_for_load_state()
    option = page.locator("#organization_id option", has_text="Samaritan House").first
    page.get_by_label("Organization", exact=True).select_option(value=option.get_attribute("value"))
    page.get_by_label("Integration name").fill("Case management system")
    page.get_by_label(re.compile("^referrals:read")).check()
    axe(page)
    page.get_by_role("button", name=re.compile("Create", re.I)).click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", level=1).inner_text() == "API token created"
    assert page.get_by_label("Token").input_value().startswith("rn_")
    axe(page)
    page.get_by_role("button", name="Sign out").click()

    sign_in(page, "partner@referralnet.test")
    page.get_by_role("navigation", name="Main").get_by_role("link", name=re.compile("^Notifications")).click()
    page.wait_for_load_state()
    axe(page)
    assert page.external_requests == []


def test_the_unread_count_updates_without_reloading(page, axe, demo, app, db):
    """A partner has a page open; a coordinator sends them a referral; the count goes up by itself."""
    from sqlalchemy import select

    from referralnet.accounts.models import User
    from referralnet.directory.models import Service
    from referralnet.referrals import services

    app.config["NOTIFICATION_POLL_SECONDS"] = 1
    try:
        sign_in(page, "partner@referralnet.test")
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Our listings").click()
        page.wait_for_load_state()
        link = page.get_by_role("navigation", name="Main").get_by_role("link", name=re.compile("^Notifications"))
        before = int(re.sub(r"\D", "", link.inner_text()) or 0)

        coordinator = db.session.scalar(select(User).where(User.email == "coordinator@referralnet.test"))
        client = services.create_client(coordinator, given_name="Live", family_name="Update",
                                        date_of_birth="1990-01-01", phone="(650) 555-0100")
        service = db.session.scalar(select(Service).where(Service.name == "Project Smile"))
        services.record_consent(coordinator, client, service.organization_id, "verbal")
        services.send_referral(coordinator, client, service.id, category="food-insecurity")
        db.session.commit()

        page.wait_for_function(
            "n => parseInt((document.querySelector('[data-notifications-url]').textContent.match(/\\d+/) || ['0'])[0]) > n",
            arg=before, timeout=10_000)
        assert page.locator("#notifications-live").inner_text() != ""
        axe(page)
    finally:
        app.config["NOTIFICATION_POLL_SECONDS"] = 60
