"""Login, logout, wrong passwords, deactivated accounts, CSRF and who may reach admin pages."""
from __future__ import annotations

import pytest

from referralnet.accounts.models import User
from tests.conftest import PASSWORD, complete_second_factor, csrf_token_from, form_token

ADMIN_PAGES = ["/admin/users", "/admin/users/new", "/admin/organizations", "/admin/organizations/new",
               "/admin/directory/organizations"]


def test_login_and_logout(client, make_user, login):
    user = make_user("coordinator")
    response = login(user)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    home = client.get("/")
    assert home.status_code == 200
    assert user.name in home.get_data(as_text=True)
    token = csrf_token_from(home.get_data(as_text=True))
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 302
    assert client.get("/").headers["Location"].startswith("/login")


def test_login_records_last_login(client, make_user, login, db):
    user = make_user("partner")
    assert user.last_login_at is None
    login(user)
    db.session.expire_all()
    assert db.session.get(User, user.id).last_login_at is not None


def test_email_is_case_insensitive(client, make_user, login):
    user = make_user("coordinator", email="Casey@Example.org")
    assert login("  CASEY@example.ORG ").status_code == 302


@pytest.mark.parametrize("email,password", [("coordinator1@example.org", "wrong-password"),
                                            ("nobody@example.org", PASSWORD)])
def test_wrong_credentials_are_refused_with_one_message(client, make_user, login, email, password):
    make_user("coordinator")
    response = login(email, password)
    assert response.status_code == 401
    body = response.get_data(as_text=True)
    assert "The email or password is not right" in body
    assert client.get("/").status_code == 302  # still logged out


def test_deactivated_user_cannot_log_in(client, make_user, login):
    user = make_user("coordinator", active=False)
    response = login(user)
    assert response.status_code == 401
    assert client.get("/").status_code == 302


def test_deactivating_logs_out_existing_session(client, make_user, login, db):
    user = make_user("coordinator")
    login(user)
    assert client.get("/").status_code == 200
    db.session.get(User, user.id).active = False
    db.session.commit()
    assert client.get("/").status_code == 302


def test_user_of_deactivated_organization_cannot_log_in(client, make_user, login, db):
    user = make_user("partner")
    user.organization.active = False
    db.session.commit()
    assert login(user).status_code == 401


def test_login_without_csrf_token_is_rejected(client, make_user):
    user = make_user("admin")
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/").status_code == 302


def test_open_redirect_after_login_is_ignored(client, make_user):
    user = make_user("coordinator")
    token = form_token(client, "/login")
    response = client.post("/login?next=https://evil.example.com/", data={
        "email": user.email, "password": PASSWORD, "csrf_token": token})
    assert response.headers["Location"] == "/"
    token = form_token(client, "/login") if client.get("/login").status_code == 200 else None


def test_next_page_is_followed_after_login(client, make_user):
    user = make_user("admin")
    page = client.get("/admin/users")
    assert page.status_code == 302 and "/login" in page.headers["Location"]
    token = form_token(client, "/login")
    response = client.post("/login?next=/admin/users", data={
        "email": user.email, "password": PASSWORD, "csrf_token": token})
    # Through the second step (an admin sets it up on first sign-in), the page asked for still follows.
    assert response.headers["Location"] == "/login/two-factor/setup"
    codes_page = complete_second_factor(client, response, user.email)
    assert codes_page.headers["Location"] == "/account/recovery-codes"
    assert 'href="/admin/users"' in client.get("/account/recovery-codes").get_data(as_text=True)


@pytest.mark.parametrize("role", ["coordinator", "partner"])
@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_non_admins_cannot_reach_admin_pages(client, login_as, role, path):
    login_as(role)
    assert client.get(path).status_code == 403


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_logged_out_users_are_sent_to_login(client, db, path):
    response = client.get(path)
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_admin_reaches_admin_pages(client, login_as):
    login_as("admin")
    for path in ADMIN_PAGES:
        assert client.get(path).status_code == 200, path


def test_login_is_rate_limited(app, client, make_user):
    user = make_user("coordinator")
    app.config["LOGIN_RATE_LIMIT"] = "3 per minute"
    try:
        statuses = []
        for _ in range(5):
            token = form_token(client, "/login")
            statuses.append(client.post("/login", data={"email": user.email, "password": "nope",
                                                         "csrf_token": token}).status_code)
        assert statuses[:3] == [401, 401, 401]
        assert statuses[3:] == [429, 429]
    finally:
        app.config["LOGIN_RATE_LIMIT"] = "1000 per minute"
        from referralnet.extensions import limiter
        limiter.reset()


def test_security_headers(client, db):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"


def test_json_clients_get_the_error_contract(client, db):
    response = client.get("/no-such-page", headers={"Accept": "application/json"})
    assert response.status_code == 404
    body = response.get_json()
    assert body["code"] == "not_found" and body["status"] == 404 and "message" in body and "errors" in body


def test_html_clients_get_an_error_page(client, db):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)


def test_sign_in_starts_a_fresh_session(client, make_user):
    """A CSRF token (or anything else) planted before sign-in is not valid after it."""
    user = make_user("admin")
    before = form_token(client, "/login")
    complete_second_factor(client, client.post("/login", data={
        "email": user.email, "password": PASSWORD, "csrf_token": before}), user.email)
    response = client.post("/logout", data={"csrf_token": before})
    assert response.status_code == 400
    assert client.get("/").status_code == 200
