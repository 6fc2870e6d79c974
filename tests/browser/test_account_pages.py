"""Accounts in a real browser, axe-core on every page: forgot password and the link's page, changing
your own password, the admin's user page, the idle-session warning. And the patient's thank-you,
visible without scrolling on a phone after reporting."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from referralnet.demo import DEMO_PASSWORD, load_demo_data
from referralnet.notifications.models import Notification
from referralnet.notifications.rendering import render
from referralnet.referrals.models import Referral
from referralnet.referrals.patient_links import token_for
from tests.browser.conftest import sign_in

pytestmark = pytest.mark.browser
NEW = "a-brand-new-passphrase"


@pytest.fixture()
def demo(db, app):
    from referralnet.extensions import limiter

    assert load_demo_data(echo=lambda *_: None)
    db.session.commit()
    with app.app_context():
        limiter.reset()


def latest_link(db, email: str) -> str:
    db.session.expire_all()
    row = db.session.scalar(select(Notification).where(Notification.address == email,
                                                       Notification.event.like("account.%"))
                            .order_by(Notification.id.desc()))
    body = render(row).body  # delivery issues the link
    db.session.commit()
    return re.search(r"https?://\S+(/account/set-password/\S+)", body).group(1)


def test_forgot_password_then_the_link_then_sign_in(page, axe, demo, db):
    page.goto("/login")
    page.get_by_role("link", name="Forgot your password?").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", level=1).inner_text() == "Forgot your password?"
    axe(page)
    page.get_by_label("Email").fill("partner@referralnet.test")
    page.get_by_role("button", name="Email me a link").click()
    page.wait_for_load_state()
    assert "If an account uses that address" in page.get_by_role("status").inner_text()
    axe(page)
    page.goto(latest_link(db, "partner@referralnet.test"))
    assert page.get_by_role("heading", level=1).inner_text() == "Choose your password"
    axe(page)
    page.get_by_label("New password", exact=True).fill("short")
    page.get_by_label("New password again").fill("short")
    page.get_by_role("button", name="Set password").click()
    page.wait_for_load_state()
    assert "at least 10 characters" in page.get_by_role("alert").inner_text()
    axe(page)
    page.get_by_label("New password", exact=True).fill(NEW)
    page.get_by_label("New password again").fill(NEW)
    page.get_by_role("button", name="Set password").click()
    page.wait_for_url("**/login")
    sign_in(page, "partner@referralnet.test", NEW)
    page.wait_for_url("**/")
    assert page.external_requests == []


def test_a_used_link_says_so_accessibly(page, axe, demo, db):
    page.goto("/account/set-password/" + "x" * 43)
    assert page.get_by_role("heading", level=1).inner_text() == "This link does not work any more"
    axe(page)


def test_change_your_own_password(page, axe, demo):
    sign_in(page, "coordinator@referralnet.test")
    page.get_by_role("link", name="Password", exact=True).click()
    page.wait_for_load_state()
    axe(page)
    page.get_by_label("Current password").fill("wrong-password-here")
    page.get_by_label("New password", exact=True).fill(NEW)
    page.get_by_label("New password again").fill(NEW)
    page.get_by_role("button", name="Change password").click()
    page.wait_for_load_state()
    assert "That is not your current password." in page.get_by_role("alert").inner_text()
    axe(page)
    page.get_by_label("Current password").fill(DEMO_PASSWORD)
    page.get_by_label("New password", exact=True).fill(NEW)
    page.get_by_label("New password again").fill(NEW)
    page.get_by_role("button", name="Change password").click()
    page.wait_for_load_state()
    assert "Your password is changed." in page.content()


def test_admin_edits_a_user_and_sends_a_reset_link(page, axe, demo, db):
    sign_in(page, "admin@referralnet.test")
    page.goto("/admin/users")
    page.get_by_role("link", name=re.compile("^Pat Partner")).click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", level=1).inner_text() == "Edit partner@referralnet.test"
    axe(page)
    page.get_by_label("Full name").fill("Pat Q. Partner")
    page.get_by_role("button", name="Save changes").click()
    page.wait_for_url("**/admin/users")
    assert "Pat Q. Partner" in page.content()
    page.get_by_role("link", name=re.compile("^Pat Q. Partner")).click()
    page.get_by_role("button", name="Email a link to set a new password").click()
    page.wait_for_load_state()
    assert "was emailed to partner@referralnet.test" in page.content()
    axe(page)


def test_the_idle_warning_offers_to_stay_signed_in(page, axe, demo, app, monkeypatch):
    monkeypatch.setitem(app.config, "IDLE_TIMEOUT_MINUTES", 0.5)  # 30 s: the warning shows after 15 s
    sign_in(page, "coordinator@referralnet.test")
    page.goto("/worklist")
    warning = page.get_by_role("alertdialog")
    expect(warning).to_be_hidden()
    expect(warning).to_be_visible(timeout=25000)
    stay = page.get_by_role("button", name="Stay signed in")
    expect(stay).to_be_focused()
    axe(page)
    stay.click()
    expect(warning).to_be_hidden()
    page.goto("/worklist")
    assert page.get_by_role("heading", level=1).inner_text() == "Worklist"  # still signed in


def test_the_patients_thank_you_is_in_view_after_reporting(browser, live_server, demo, db):
    referral = db.session.scalars(select(Referral).where(Referral.status == "requested")
                                  .order_by(Referral.id)).first()
    context = browser.new_context(base_url=live_server, viewport={"width": 360, "height": 740}, is_mobile=True,
                                  has_touch=True)
    phone = context.new_page()
    try:
        phone.goto(f"/s/{token_for(referral)}?lang=en")
        phone.get_by_role("button", name="The agency contacted me").click()
        phone.wait_for_load_state()
        thanks = phone.locator(".flash").first
        assert "Thank you" in thanks.inner_text()
        expect(thanks).to_be_in_viewport()
    finally:
        context.close()
