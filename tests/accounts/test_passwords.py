"""Accounts people can manage (issue 13, item 6): change your own password, "forgot password" by
email with a one-time expiring link, admins edit users and send reset links instead of setting
passwords, invitations, and staff sessions that end after an idle time.

Tried from the attacker's side: a used, expired or guessed link, the same answer for unknown
addresses, other roles and logged-out users on the admin pages, an idle session's next request.
"""
from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from referralnet.accounts import passwords
from referralnet.accounts.models import AccountToken, User
from referralnet.audit.models import AuditLog
from referralnet.db import utcnow
from referralnet.notifications.delivery import deliver
from referralnet.notifications.models import Notification
from referralnet.notifications.rendering import render
from tests.conftest import PASSWORD, csrf_token_from, form_token
from tests.notifications.conftest import smtp_server  # noqa: F401  (fixture: a real SMTP server)

NEW = "a-brand-new-passphrase"


@pytest.fixture(autouse=True)
def fresh_limits(app):
    """Each test starts with untouched "forgot password" budgets (they are per hour, per address)."""
    from referralnet.extensions import limiter

    with app.app_context():
        limiter.reset()


def text(response) -> str:
    return response.get_data(as_text=True)


def emailed_link(db, user, event: str = "account.password_reset") -> str:
    """The link in the newest account email to `user`, as delivery renders it (the token is issued then)."""
    db.session.expire_all()
    row = db.session.scalar(select(Notification).where(Notification.recipient_user_id == user.id,
                                                       Notification.event == event)
                            .order_by(Notification.id.desc()))
    assert row is not None, f"no {event} email for {user.email}"
    assert "/account/set-password/" not in row.body  # the outbox never holds a usable link
    message = render(row)
    db.session.commit()
    return re.search(r"https?://\S+/account/set-password/\S+", message.body).group(0)


def set_password_through(browser, link: str, password: str, confirm: str | None = None):
    path = re.sub(r"^https?://[^/]+", "", link)
    opened = browser.get(path)
    # A link that no longer works shows no form: post as an attacker would, with this browser's own token.
    page = text(opened) if opened.status_code == 200 else text(browser.get("/login/forgot"))
    return browser.post(path, data={"new_password": password, "confirm_password": confirm or password,
                                    "csrf_token": csrf_token_from(page)})


def can_sign_in(app, email: str, password: str) -> bool:
    browser = app.test_client()
    token = csrf_token_from(text(browser.get("/login")))
    return browser.post("/login", data={"email": email, "password": password, "csrf_token": token}).status_code == 302


def forgot(browser, email: str):
    return browser.post("/login/forgot", data={"email": email, "csrf_token": form_token(browser, "/login/forgot")})


# --- change your own password --------------------------------------------------------------------

def test_change_your_own_password_needs_the_current_one(app, client, login_as, db):
    user = login_as("coordinator")
    url = "/account/password"
    wrong = client.post(url, data={"current_password": "not-it-at-all", "new_password": NEW,
                                   "confirm_password": NEW, "csrf_token": form_token(client, url)})
    assert wrong.status_code == 400 and "That is not your current password." in text(wrong)
    weak = client.post(url, data={"current_password": PASSWORD, "new_password": "short", "confirm_password": "short",
                                  "csrf_token": form_token(client, url)})
    assert weak.status_code == 400 and "at least 10 characters" in text(weak)
    differ = client.post(url, data={"current_password": PASSWORD, "new_password": NEW,
                                    "confirm_password": NEW + "x", "csrf_token": form_token(client, url)})
    assert differ.status_code == 400 and "not the same" in text(differ)
    assert can_sign_in(app, user.email, PASSWORD)
    done = client.post(url, data={"current_password": PASSWORD, "new_password": NEW, "confirm_password": NEW,
                                  "csrf_token": form_token(client, url)})
    assert done.status_code == 302
    assert can_sign_in(app, user.email, NEW) and not can_sign_in(app, user.email, PASSWORD)
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "user.password_change")) is not None


def test_a_logged_out_user_cannot_change_a_password(client, db):
    assert client.get("/account/password").status_code == 302
    assert "/login" in client.get("/account/password").headers["Location"]


# --- forgot password -------------------------------------------------------------------------------

def test_forgot_password_emails_a_one_time_link_that_sets_the_password(app, client, make_user, db):
    user = make_user("partner")
    response = forgot(client, user.email.upper())
    assert response.status_code == 200 and "If an account uses that address" in text(response)
    link = emailed_link(db, user)
    assert link.startswith("http://127.0.0.1:5000/account/set-password/")  # on the public base URL
    assert set_password_through(client, link, NEW).status_code == 302
    assert can_sign_in(app, user.email, NEW)
    # Used once: the same link again is refused and changes nothing.
    again = set_password_through(app.test_client(), link, "someone-elses-password")
    assert again.status_code == 404 and "does not work any more" in text(again)
    assert can_sign_in(app, user.email, NEW)


def test_the_link_uses_public_base_url_when_set(app, client, make_user, db, monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", "https://referrals.example.org")
    user = make_user("coordinator")
    forgot(client, user.email)
    assert emailed_link(db, user).startswith("https://referrals.example.org/account/set-password/")


def test_the_answer_is_the_same_whether_or_not_the_address_has_an_account(client, make_user, db):
    user = make_user("coordinator")
    known = text(forgot(client, user.email))
    unknown = text(forgot(client, "nobody@example.org"))
    strip = lambda page: re.sub(r'value="[^"]+"', "", page)  # noqa: E731  (CSRF tokens differ)
    assert strip(known) == strip(unknown)
    assert db.session.scalar(select(func.count()).select_from(Notification)
                             .where(Notification.address == "nobody@example.org")) == 0


def test_a_deactivated_account_gets_no_link(client, make_user, db):
    user = make_user("coordinator", active=False)
    forgot(client, user.email)
    assert db.session.scalar(select(func.count()).select_from(Notification)
                             .where(Notification.recipient_user_id == user.id)) == 0


def test_an_expired_link_is_refused(app, client, make_user, db):
    user = make_user("coordinator")
    forgot(client, user.email)
    link = emailed_link(db, user)
    row = db.session.scalar(select(AccountToken).where(AccountToken.user_id == user.id))
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    response = set_password_through(client, link, NEW)
    assert response.status_code == 404 and can_sign_in(app, user.email, PASSWORD)


@pytest.mark.parametrize("guess", ["A" * 43, "short", "x" * 200, "../../login"])
def test_a_guessed_link_opens_nothing(client, make_user, db, guess):
    user = make_user("coordinator")
    forgot(client, user.email)
    emailed_link(db, user)  # a real link exists; the guess is not it
    assert client.get(f"/account/set-password/{guess}").status_code == 404
    response = client.post(f"/account/set-password/{guess}", data={"new_password": NEW, "confirm_password": NEW,
                                                                  "csrf_token": form_token(client, "/login")})
    assert response.status_code == 404


def test_a_newer_link_retires_the_older_and_only_hashes_are_stored(client, make_user, db):
    user = make_user("coordinator")
    forgot(client, user.email)
    first = emailed_link(db, user)
    forgot(client, user.email)
    second = emailed_link(db, user)
    assert client.get(re.sub(r"^https?://[^/]+", "", first)).status_code == 404
    assert client.get(re.sub(r"^https?://[^/]+", "", second)).status_code == 200
    token = second.rsplit("/", 1)[1]
    stored = db.session.scalars(select(AccountToken.token_hash)).all()
    assert token not in stored and passwords.hash_token(token) in stored


def test_forgot_password_is_rate_limited_per_address_asked(app, client, make_user, db, monkeypatch):
    user = make_user("coordinator")
    answers = [forgot(client, user.email).status_code for _ in range(6)]
    assert answers[:5] == [200] * 5 and answers[5] == 429


# --- admins: edit users, send reset links -----------------------------------------------------------

def test_admin_edits_name_role_and_organization(client, login_as, make_user, db):
    login_as("admin")
    person = make_user("coordinator", org_name="Clinic A")
    other_clinic = make_user("coordinator", org_name="Clinic B").organization
    url = f"/admin/users/{person.id}/edit"
    page = text(client.get(url))
    assert 'type="password"' not in page and "Email a link to set a new password" in page
    response = client.post(url, data={"name": "Robin R. Reyes", "role": "coordinator",
                                      "organization_id": other_clinic.id, "csrf_token": csrf_token_from(page)})
    assert response.status_code == 302
    db.session.expire_all()
    person = db.session.get(User, person.id)
    assert (person.name, person.organization_id) == ("Robin R. Reyes", other_clinic.id)
    row = db.session.scalar(select(AuditLog).where(AuditLog.action == "user.update"))
    assert set(row.details["fields"]) == {"name", "organization_id"}


def test_a_role_that_does_not_fit_the_organization_is_refused(client, login_as, make_user, db):
    login_as("admin")
    person = make_user("coordinator", org_name="Clinic A")
    url = f"/admin/users/{person.id}/edit"
    response = client.post(url, data={"name": person.name, "role": "partner", "organization_id": person.organization_id,
                                      "csrf_token": form_token(client, url)})
    assert response.status_code == 400 and "Partner staff must belong to a partner agency." in text(response)
    db.session.expire_all()
    assert db.session.get(User, person.id).role == "coordinator"


def test_an_admin_cannot_take_away_their_own_admin_role(client, login_as, db):
    admin = login_as("admin")
    url = f"/admin/users/{admin.id}/edit"
    response = client.post(url, data={"name": admin.name, "role": "coordinator",
                                      "organization_id": admin.organization_id, "csrf_token": form_token(client, url)})
    assert response.status_code == 400 and "You cannot change your own role" in text(response)


def test_admin_sends_a_reset_link_instead_of_setting_a_password(app, client, login_as, make_user, db):
    login_as("admin")
    person = make_user("partner")
    url = f"/admin/users/{person.id}/edit"
    response = client.post(f"/admin/users/{person.id}/reset-link", data={"csrf_token": form_token(client, url)})
    assert response.status_code == 302
    link = emailed_link(db, person)
    assert can_sign_in(app, person.email, PASSWORD)  # nothing changes until they use the link
    assert set_password_through(app.test_client(), link, NEW).status_code == 302
    assert can_sign_in(app, person.email, NEW)


@pytest.mark.parametrize("role", ["coordinator", "partner"])
def test_staff_of_any_organization_cannot_edit_users_or_send_links(client, login_as, make_user, db, role):
    victim = make_user("coordinator", org_name="Clinic A")
    login_as(role, org_name="Clinic A" if role == "coordinator" else None)  # even the victim's own organization
    token = form_token(client, "/account/password")
    assert client.get(f"/admin/users/{victim.id}/edit").status_code == 403
    assert client.post(f"/admin/users/{victim.id}/edit", data={"name": "Pwned", "role": "admin",
                                                              "organization_id": victim.organization_id,
                                                              "csrf_token": token}).status_code == 403
    assert client.post(f"/admin/users/{victim.id}/reset-link", data={"csrf_token": token}).status_code == 403
    db.session.expire_all()
    assert db.session.get(User, victim.id).name != "Pwned"
    assert db.session.scalar(select(func.count()).select_from(Notification)
                             .where(Notification.recipient_user_id == victim.id)) == 0


def test_logged_out_visitors_cannot_reach_the_admin_user_pages(client, make_user, db):
    victim = make_user("coordinator")
    for response in (client.get(f"/admin/users/{victim.id}/edit"),
                     client.post(f"/admin/users/{victim.id}/reset-link", data={})):
        assert response.status_code in (302, 400)
        assert response.status_code == 400 or "/login" in response.headers["Location"]


# --- invitations -----------------------------------------------------------------------------------

def test_an_invitation_is_delivered_by_smtp_and_lasts_days(app, client, login_as, make_user, db, smtp_server):
    login_as("admin")
    clinic = make_user("coordinator", org_name="Bayside").organization
    client.post("/admin/users/new", data={"name": "Sam Lee", "email": "sam@example.org", "role": "coordinator",
                                          "organization_id": clinic.id,
                                          "csrf_token": form_token(client, "/admin/users/new")})
    report = deliver()
    db.session.commit()
    assert report.sent >= 1
    message = next(m.message for m in smtp_server.messages if m.rcpt_tos == ["sam@example.org"])
    assert message["Subject"] == "You are invited to ReferralNet"
    body = message.get_payload(decode=True).decode() if not message.is_multipart() else \
        message.get_payload(0).get_payload(decode=True).decode()
    link = re.search(r"https?://\S+/account/set-password/\S+", body).group(0)
    token = db.session.scalar(select(AccountToken).where(AccountToken.purpose == "invite"))
    assert token.expires_at - token.created_at == timedelta(days=7)
    invited = db.session.scalar(select(User).where(User.email == "sam@example.org"))
    assert set_password_through(app.test_client(), link, NEW).status_code == 302
    assert can_sign_in(app, invited.email, NEW)


# --- idle sessions --------------------------------------------------------------------------------

def test_an_idle_session_ends_and_the_next_request_signs_in_again(app, client, login_as, db, monkeypatch):
    login_as("coordinator")
    assert client.get("/worklist").status_code == 200
    with client.session_transaction() as session:
        session["last_seen"] = time.time() - 16 * 60  # 16 minutes without a request
    response = client.get("/worklist")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert "next=/worklist" in response.headers["Location"]
    assert client.get("/worklist").status_code == 302  # signed out for good, not only redirected once
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "user.session_timeout")) is not None


def test_activity_and_stay_signed_in_keep_the_session_but_polling_does_not(app, client, login_as, db, monkeypatch):
    monkeypatch.setitem(app.config, "IDLE_TIMEOUT_MINUTES", 1)
    login_as("partner")
    page = text(client.get("/inbox"))
    assert 'data-idle-seconds="60"' in page and "/static/idle.js" in page
    with client.session_transaction() as session:
        session["last_seen"] = time.time() - 50
    # The unread-count poll runs by itself: it must not count as activity.
    assert client.get("/notifications/unread.json").status_code == 200
    with client.session_transaction() as session:
        assert time.time() - session["last_seen"] >= 50
    csrf = csrf_token_from(page)
    assert client.post("/account/keepalive", headers={"X-CSRFToken": csrf}).status_code == 200
    with client.session_transaction() as session:
        assert time.time() - session["last_seen"] < 5
    assert client.get("/inbox").status_code == 200


def test_the_timeout_is_a_setting(app, client, login_as, db, monkeypatch):
    monkeypatch.setitem(app.config, "IDLE_TIMEOUT_MINUTES", 30)
    login_as("coordinator")
    with client.session_transaction() as session:
        session["last_seen"] = time.time() - 20 * 60
    assert client.get("/worklist").status_code == 200
