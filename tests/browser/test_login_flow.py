"""A demo user logs in through a real browser; every page visited passes axe-core."""
from __future__ import annotations

import pytest

from referralnet.demo import DEMO_PASSWORD, DEMO_USERS
from tests.browser.conftest import pass_second_factor

pytestmark = pytest.mark.browser


def sign_in(page, email, password=DEMO_PASSWORD):
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    pass_second_factor(page, email)  # the demo admin sets up two-factor sign-in on first sign-in


def test_login_page_is_accessible(page, axe, demo):
    page.goto("/login")
    assert page.title() == "Sign in · ReferralNet"
    axe(page)


@pytest.mark.parametrize("user", DEMO_USERS, ids=lambda u: u.role + ":" + u.email.split("@")[0])
def test_each_demo_user_logs_in(page, axe, demo, user):
    sign_in(page, user.email)
    page.wait_for_url("**/")
    assert page.get_by_role("heading", level=1).inner_text() == f"Welcome, {user.name}"
    assert user.organization in page.content()
    axe(page)
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/login")
    assert "You are signed out." in page.content()
    assert page.external_requests == []


def test_wrong_password_shows_error_accessibly(page, axe, demo):
    sign_in(page, DEMO_USERS[0].email, "not-the-password")
    alert = page.get_by_role("alert")
    assert "The email or password is not right" in alert.inner_text()
    axe(page)


def test_admin_pages_are_accessible(page, axe, demo):
    sign_in(page, "admin@referralnet.test")
    page.wait_for_url("**/")
    for link in ["Users", "Member organizations", "Directory"]:
        page.get_by_role("navigation", name="Main").get_by_role("link", name=link).click()
        page.wait_for_load_state()
        assert page.get_by_role("heading", level=1).count() == 1
        axe(page)
    page.goto("/admin/users/new")
    page.get_by_role("button", name="Create user").click()
    assert page.get_by_role("alert").is_visible()
    axe(page)
