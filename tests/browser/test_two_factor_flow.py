"""Two-factor sign-in in a real browser: the demo admin's first sign-in sets it up (QR code, key,
code, recovery codes), the next one asks for the code; every page passes axe-core."""
from __future__ import annotations

import pyotp
import pytest

from referralnet.accounts.models import User
from referralnet.demo import DEMO_PASSWORD
from referralnet.extensions import db
from tests.conftest import totp_code

pytestmark = pytest.mark.browser
ADMIN = "admin@referralnet.test"


def password_step(page):
    page.goto("/login")
    page.get_by_label("Email").fill(ADMIN)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def test_admin_enrols_then_signs_in_with_a_code(page, axe, demo):
    password_step(page)
    assert page.url.endswith("/login/two-factor/setup")
    assert page.get_by_role("heading", level=1).inner_text() == "Set up two-factor sign-in"
    assert page.locator(".qr svg").count() == 1
    axe(page)
    # A wrong code first: a clear, accessible error, still not signed in.
    page.get_by_label("Code").fill("12")
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    assert "the app shows now" in page.get_by_role("alert").inner_text()
    axe(page)
    secret = page.locator("#totp-secret").inner_text()
    page.get_by_label("Code").fill(totp_code(secret))
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    page.wait_for_url("**/account/recovery-codes")
    codes = page.locator(".recovery-codes code").all_inner_texts()
    assert len(codes) == 10
    axe(page)
    page.get_by_role("link", name="I have saved them: continue").click()
    page.wait_for_url("**/")
    assert page.get_by_role("heading", level=1).inner_text().startswith("Welcome")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/login")

    # Next time: the code page, and skipping it leads back to sign-in.
    password_step(page)
    assert page.url.endswith("/login/two-factor")
    axe(page)
    page.goto("/admin/users")
    assert "/login" in page.url and "/admin/users" not in page.url.split("?")[0]
    page.goto("/login/two-factor")
    db.session.expire_all()
    user = db.session.scalar(db.select(User).where(User.email == ADMIN))
    page.get_by_label("Code").fill(pyotp.TOTP(secret).generate_otp(user.totp_last_step))  # replayed
    page.get_by_role("button", name="Verify").click()
    assert "already used" in page.get_by_role("alert").inner_text()
    axe(page)
    page.get_by_label("Code").fill(totp_code(secret, user.totp_last_step))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url("**/")
    assert page.get_by_role("heading", level=1).inner_text().startswith("Welcome")
    page.goto("/account/two-factor")
    assert "10 unused recovery codes" in page.content()
    axe(page)
    assert page.external_requests == []
