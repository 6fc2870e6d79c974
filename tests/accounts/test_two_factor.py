"""Two-factor sign-in from the attacker's and the careless user's side: enrolment, sign-in with a code
or a recovery code, refusals (wrong code, replayed code, used recovery code, skipping the second step),
the admin's reset of a lost device, and who must use it."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pyotp
import pytest
from sqlalchemy import select

from referralnet.accounts import two_factor
from referralnet.accounts.models import RecoveryCode, User
from referralnet.audit.models import AuditLog
from referralnet.errors import NotPermitted, ValidationFailed
from tests.conftest import PASSWORD, complete_second_factor, csrf_token_from, form_token, totp_code


def password_step(client, user, next_page: str = ""):
    token = form_token(client, "/login")
    return client.post(f"/login{next_page}", data={"email": user.email, "password": PASSWORD, "csrf_token": token})


def enrol(client, user) -> tuple[str, list[str]]:
    """Sign `user` in for the first time through the set-up page; returns (secret, recovery codes)."""
    response = password_step(client, user)
    assert response.headers["Location"] == "/login/two-factor/setup"
    page = client.get("/login/two-factor/setup").get_data(as_text=True)
    assert "<svg" in page and "QR code" in page
    secret = re.search(r'<code id="totp-secret">([A-Z2-7]+)</code>', page).group(1)
    done = client.post("/login/two-factor/setup", data={"code": totp_code(secret), "csrf_token": csrf_token_from(page)})
    assert done.headers["Location"] == "/account/recovery-codes"
    codes = re.findall(r"<li><code>([a-z0-9-]+)</code></li>", client.get("/account/recovery-codes").get_data(as_text=True))
    assert len(codes) == 10
    return secret, codes


def signed_in(client) -> bool:
    return client.get("/").status_code == 200 and client.get("/notifications").status_code == 200


def code_step(client, code: str):
    page = client.get("/login/two-factor")
    assert page.status_code == 200
    return client.post("/login/two-factor", data={"code": code, "csrf_token": csrf_token_from(page.get_data(as_text=True))})


def test_admin_enrols_on_first_sign_in_and_codes_are_stored_hashed(client, db, make_user):
    admin = make_user("admin")
    secret, codes = enrol(client, admin)
    assert signed_in(client)
    db.session.expire_all()
    user = db.session.get(User, admin.id)
    assert user.totp_secret == secret and user.two_factor_enabled_at is not None
    stored = db.session.scalars(select(RecoveryCode.code_hash).where(RecoveryCode.user_id == admin.id)).all()
    assert len(stored) == 10 and not set(codes) & set(stored)  # hashes only
    # Shown once: the page does not show them again.
    again = client.get("/account/recovery-codes")
    assert again.status_code == 302 and not any(c in client.get("/account/two-factor").get_data(as_text=True)
                                                 for c in codes)
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "user.two_factor_enroll",
                                                    AuditLog.object_id == str(admin.id)))


def test_the_password_alone_signs_no_one_in(client, make_user):
    admin = make_user("admin")
    enrol(client, admin)
    client.post("/logout", data={"csrf_token": form_token(client, "/account/two-factor")})
    response = password_step(client, admin, "?next=/admin/users")
    assert response.headers["Location"] == "/login/two-factor"
    # Going anywhere else instead of the second step: still signed out.
    for path in ("/", "/admin/users", "/admin/audit", "/account/two-factor", "/account/recovery-codes",
                 "/login/two-factor/setup"):
        page = client.get(path)
        assert page.status_code == 302 and "/login" in page.headers["Location"], path
    assert client.get("/notifications").status_code == 302
    # The set-up page cannot be used to replace an enrolled user's secret.
    assert client.get("/login/two-factor/setup").headers["Location"].endswith("/login")


def test_wrong_and_replayed_codes_are_refused(client, db, make_user):
    admin = make_user("admin")
    secret, _ = enrol(client, admin)
    client.post("/logout", data={"csrf_token": form_token(client, "/account/two-factor")})
    password_step(client, admin)
    wrong = code_step(client, "000000" if totp_code(secret) != "000000" else "111111")
    assert wrong.status_code == 401 and "or an unused recovery code" in wrong.get_data(as_text=True)
    assert not signed_in(client)
    # The code used at enrolment (same 30-second step) cannot be replayed.
    db.session.expire_all()
    user = db.session.get(User, admin.id)
    replay = pyotp.TOTP(secret).generate_otp(user.totp_last_step)
    refused = code_step(client, replay)
    assert refused.status_code == 401 and "already used" in refused.get_data(as_text=True)
    assert not signed_in(client)
    # The next step's code works, once.
    good = pyotp.TOTP(secret).generate_otp(user.totp_last_step + 1)
    assert code_step(client, good).headers["Location"] == "/"
    assert signed_in(client)
    client.post("/logout", data={"csrf_token": form_token(client, "/account/two-factor")})
    password_step(client, admin)
    assert code_step(client, good).status_code == 401


def test_a_recovery_code_works_once(client, db, make_user):
    admin = make_user("admin")
    _, codes = enrol(client, admin)
    client.post("/logout", data={"csrf_token": form_token(client, "/account/two-factor")})
    password_step(client, admin)
    first = code_step(client, codes[0].upper().replace("-", " "))  # as typed off paper
    assert first.headers["Location"] == "/"
    assert "9 are left" in client.get("/").get_data(as_text=True)
    assert signed_in(client)
    client.post("/logout", data={"csrf_token": form_token(client, "/account/two-factor")})
    password_step(client, admin)
    used = code_step(client, codes[0])
    assert used.status_code == 401 and not signed_in(client)
    assert code_step(client, codes[1]).headers["Location"] == "/"
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "user.recovery_code_use"))


def test_regenerating_recovery_codes_voids_the_old_ones(client, db, make_user):
    admin = make_user("admin")
    _, old = enrol(client, admin)
    page = client.get("/account/two-factor").get_data(as_text=True)
    assert "10 unused recovery codes" in page
    made = client.post("/account/two-factor", data={"csrf_token": csrf_token_from(page)})
    assert made.headers["Location"] == "/account/recovery-codes"
    new = re.findall(r"<li><code>([a-z0-9-]+)</code></li>", client.get("/account/recovery-codes").get_data(as_text=True))
    assert len(new) == 10 and not set(new) & set(old)
    client.post("/logout", data={"csrf_token": form_token(client, "/account/two-factor")})
    password_step(client, admin)
    assert code_step(client, old[2]).status_code == 401
    assert code_step(client, new[2]).headers["Location"] == "/"


def test_second_step_is_rate_limited_like_login(app, client, make_user):
    from referralnet.extensions import limiter

    admin = make_user("admin")
    enrol(client, admin)
    client.post("/logout", data={"csrf_token": form_token(client, "/account/two-factor")})
    password_step(client, admin)
    limiter.reset()
    app.config["LOGIN_RATE_LIMIT"] = "3 per minute"
    try:
        statuses = [code_step(client, "123456" if i % 2 else "654321").status_code for i in range(5)]
    finally:
        app.config["LOGIN_RATE_LIMIT"] = "1000 per minute"
        limiter.reset()
    assert statuses[:3] == [401, 401, 401] and statuses[3:] == [429, 429]


def test_admin_resets_a_lost_device_audited(client, db, make_user, login):
    partner = make_user("partner")
    other_admin = make_user("admin")
    # The partner turns it on from their account page.
    login(partner)
    page = client.get("/account/two-factor").get_data(as_text=True)
    secret = re.search(r'<code id="totp-secret">([A-Z2-7]+)</code>', page).group(1)
    assert client.post("/account/two-factor", data={"code": totp_code(secret), "csrf_token": csrf_token_from(page)}) \
        .headers["Location"] == "/account/recovery-codes"
    client.post("/logout", data={"csrf_token": form_token(client, "/account/two-factor")})
    # Someone else cannot reset it: not the partner, not a logged-out visitor.
    assert client.post(f"/admin/users/{partner.id}/two-factor/reset").status_code in (302, 400)
    db.session.expire_all()
    assert db.session.get(User, partner.id).two_factor_enabled
    login(other_admin)
    users_page = client.get("/admin/users").get_data(as_text=True)
    assert f"/admin/users/{partner.id}/two-factor/reset" in users_page
    assert f"/admin/users/{other_admin.id}/two-factor/reset" not in users_page  # not one's own
    done = client.post(f"/admin/users/{partner.id}/two-factor/reset", data={"csrf_token": csrf_token_from(users_page)})
    assert done.headers["Location"] == "/admin/users"
    db.session.expire_all()
    assert not db.session.get(User, partner.id).two_factor_enabled
    assert not db.session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == partner.id)).all()
    row = db.session.scalar(select(AuditLog).where(AuditLog.action == "user.two_factor_reset"))
    assert row.user_id == other_admin.id and row.object_id == str(partner.id)


def test_only_another_admin_resets(db, make_user):
    admin, coordinator = make_user("admin"), make_user("coordinator")
    secret = two_factor.new_secret()
    two_factor.enroll(coordinator, secret, pyotp.TOTP(secret).now())
    with pytest.raises(NotPermitted):
        two_factor.reset_two_factor(coordinator, coordinator)
    with pytest.raises(NotPermitted):
        two_factor.reset_two_factor(admin, admin)


def test_partner_cannot_reach_the_reset(client, db, make_user, login):
    target = make_user("coordinator")
    secret = two_factor.new_secret()
    two_factor.enroll(target, secret, pyotp.TOTP(secret).now())
    db.session.commit()
    login(make_user("partner"))
    token = form_token(client, "/account/two-factor")
    assert client.post(f"/admin/users/{target.id}/two-factor/reset", data={"csrf_token": token}).status_code == 403
    db.session.expire_all()
    assert db.session.get(User, target.id).two_factor_enabled


def test_required_for_everyone_with_the_setting(app, client, make_user, monkeypatch):
    coordinator = make_user("coordinator")
    assert password_step(client, coordinator).headers["Location"] == "/"  # not required by default
    client.post("/logout", data={"csrf_token": form_token(client, "/account/two-factor")})
    monkeypatch.setitem(app.config, "REQUIRE_TWO_FACTOR", True)
    assert password_step(client, coordinator).headers["Location"] == "/login/two-factor/setup"
    assert not signed_in(client)


def test_codes_one_step_either_side_and_no_further(db, make_user):
    user = make_user("coordinator")
    secret = two_factor.new_secret()
    now = datetime(2026, 12, 1, 9, 0, 15, tzinfo=timezone.utc)
    totp = pyotp.TOTP(secret)
    two_factor.enroll(user, secret, totp.at(now), now=now)
    later = now + timedelta(minutes=5)
    with pytest.raises(ValidationFailed):
        two_factor.verify_second_factor(user, totp.at(later - timedelta(seconds=90)), now=later)
    assert two_factor.verify_second_factor(user, totp.at(later - timedelta(seconds=30)), now=later) == "totp"
    with pytest.raises(ValidationFailed):  # an older step after a newer one: replay
        two_factor.verify_second_factor(user, totp.at(later - timedelta(seconds=60)), now=later)
    assert two_factor.verify_second_factor(user, totp.at(later + timedelta(seconds=30)), now=later) == "totp"
    with pytest.raises(ValidationFailed):
        two_factor.verify_second_factor(user, "12345", now=later)


def test_wrong_enrolment_code_saves_nothing(client, db, make_user):
    admin = make_user("admin")
    password_step(client, admin)
    page = client.get("/login/two-factor/setup").get_data(as_text=True)
    response = client.post("/login/two-factor/setup", data={"code": "12", "csrf_token": csrf_token_from(page)})
    assert response.status_code == 401 and "the app shows now" in response.get_data(as_text=True)
    db.session.expire_all()
    assert not db.session.get(User, admin.id).two_factor_enabled and not signed_in(client)


def test_signed_in_without_a_required_second_factor_sets_one_up_first(app, client, db, make_user, login,
                                                                        monkeypatch):
    coordinator = make_user("coordinator")
    login(coordinator)
    assert client.get("/clients").status_code == 200
    monkeypatch.setitem(app.config, "REQUIRE_TWO_FACTOR", True)  # turned on while they are signed in
    for path in ("/", "/clients", "/worklist", "/notifications"):
        page = client.get(path)
        assert page.status_code == 302 and page.headers["Location"] == "/account/two-factor", path
    page = client.get("/account/two-factor").get_data(as_text=True)
    secret = re.search(r'<code id="totp-secret">([A-Z2-7]+)</code>', page).group(1)
    client.post("/account/two-factor", data={"code": totp_code(secret), "csrf_token": csrf_token_from(page)})
    assert client.get("/account/recovery-codes").status_code == 200
    assert client.get("/clients").status_code == 200
