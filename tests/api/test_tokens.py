"""API tokens: created by network admins and shown once, stored hashed, listed without the secret,
revoked; what a missing, wrong, revoked or expired token gets; scopes; use audited; rate limit."""
from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from referralnet.accounts.models import ApiToken, User
from referralnet.api import tokens
from referralnet.db import utcnow
from referralnet.extensions import limiter
from referralnet.audit.models import AuditLog
from tests.api.test_v1_flow import api  # noqa: F401  (fixture)
from tests.conftest import csrf_token_from
from tests.referrals.conftest import consent_for, make_client, world  # noqa: F401  (fixtures)


@pytest.fixture(autouse=True)
def _generous_rate_limit(app, monkeypatch):
    monkeypatch.setitem(app.config, "API_RATE_LIMIT", "100000 per minute")


def audit_actions(db, action: str) -> list[AuditLog]:
    return list(db.session.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)))


def test_admin_creates_lists_and_revokes_a_token(app, db, login_as, make_user, client):
    member = make_user("coordinator", org_name="Mission Clinic")
    login_as("admin")
    page = client.get("/admin/tokens/new")
    assert page.status_code == 200
    created = client.post("/admin/tokens/new", data={
        "csrf_token": csrf_token_from(page.get_data(as_text=True)), "organization_id": member.organization_id,
        "name": "Epic at Mission", "scopes": ["directory:read", "referrals:read"]})
    html = created.get_data(as_text=True)
    assert created.status_code == 200 and created.headers["Cache-Control"] == "no-store"
    secret = re.search(r'value="(rn_[A-Za-z0-9_-]+)"', html).group(1)
    assert len(secret) >= 40

    token = db.session.scalar(select(ApiToken))
    assert token.token_hash == hashlib.sha256(secret.encode()).hexdigest() and secret not in token.token_hash
    assert token.prefix == secret[:11] and token.scopes == ["directory:read", "referrals:read"]
    assert token.organization_id == member.organization_id
    # The organization's integration account exists, and nobody can sign in as it.
    account = db.session.scalar(select(User).where(User.email == f"api+{member.organization_id}@"
                                                                   "integrations.referralnet.invalid"))
    assert account.role == "coordinator" and not account.check_password("") and not account.check_password(secret)

    listing = client.get("/admin/tokens").get_data(as_text=True)
    assert "Epic at Mission" in listing and token.prefix in listing and secret not in listing

    assert client.get("/api/v1/clients", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    revoke = client.post(f"/admin/tokens/{token.id}/revoke",
                         data={"csrf_token": csrf_token_from(listing)})
    assert revoke.status_code == 302
    response = client.get("/api/v1/clients", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 401 and response.get_json()["message"] == "This API token is revoked."
    assert [r.details["organization_id"] for r in audit_actions(db, "api_token.create")] == [member.organization_id]
    assert len(audit_actions(db, "api_token.revoke")) == 1
    assert "Revoked" in client.get("/admin/tokens").get_data(as_text=True)


def test_token_form_errors_and_only_admins(db, login_as, client):
    login_as("coordinator")
    assert client.get("/admin/tokens").status_code == 403
    assert client.get("/admin/tokens/new").status_code == 403


def test_token_form_refuses_bad_input(db, login_as, make_user, client):
    member = make_user("partner")
    login_as("admin")
    page = client.get("/admin/tokens/new").get_data(as_text=True)
    response = client.post("/admin/tokens/new", data={"csrf_token": csrf_token_from(page),
                                                      "organization_id": member.organization_id, "name": "X",
                                                      "expires_on": "2001-01-01"})
    assert response.status_code == 400
    assert "Choose at least one scope." in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(ApiToken)) == 0


@pytest.mark.parametrize("header", [None, "Bearer", "Basic abc", "Bearer rn_not-a-real-token", "Bearer x y"])
def test_missing_or_unknown_token_is_401(api, header):
    headers = {"Authorization": header} if header else {}
    response = api.call(None, "GET", "/api/v1/services", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert set(response.get_json()) == {"code", "status", "message", "errors"}


def test_expired_token_is_401(api, db):
    token = db.session.scalar(select(ApiToken).where(ApiToken.name == "clinic system"))
    token.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    response = api.call("clinic", "GET", "/api/v1/services")
    assert response.status_code == 401 and response.get_json()["message"] == "This API token is expired."


def test_session_cookies_do_not_authenticate_the_api(app, db, login_as, client):
    login_as("coordinator")
    assert client.get("/api/v1/clients").status_code == 401
    assert client.post("/api/v1/clients", json={}).status_code == 401  # and no CSRF error either


def test_scopes(api, db):
    assert api.call("read_only", "GET", "/api/v1/clients").status_code == 200
    refused = api.call("read_only", "POST", "/api/v1/clients", json={"given_name": "A"})
    assert refused.status_code == 403 and "referrals:write" in refused.get_json()["message"]
    _, secret = tokens.create_api_token(api.world.admin, api.world.clinic, name="directory only",
                                        scopes=["directory:read"])
    db.session.commit()
    headers = {"Authorization": f"Bearer {secret}"}
    assert api.call(None, "GET", "/api/v1/services", headers=headers).status_code == 200
    assert api.call(None, "GET", "/api/v1/referrals", headers=headers).status_code == 403


def test_use_is_audited_at_most_once_a_minute(api, db):
    for _ in range(3):
        assert api.call("clinic", "GET", "/api/v1/services").status_code == 200
    token = db.session.scalar(select(ApiToken).where(ApiToken.name == "clinic system"))
    uses = audit_actions(db, "api_token.use")
    assert len(uses) == 1 and uses[0].object_id == str(token.id) and uses[0].user_id is None
    assert token.last_used_at is not None
    token.last_used_at = utcnow() - timedelta(minutes=2)
    db.session.commit()
    assert api.call("clinic", "GET", "/api/v1/services").status_code == 200
    assert len(audit_actions(db, "api_token.use")) == 2


def test_rate_limited_per_token(app, api, monkeypatch):
    monkeypatch.setitem(app.config, "API_RATE_LIMIT", "3 per minute")
    limiter.reset()
    try:
        statuses = [api.call("clinic", "GET", "/api/v1/services").status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        limited = api.call("clinic", "GET", "/api/v1/services")
        assert limited.get_json()["status"] == 429
        assert api.call("partner", "GET", "/api/v1/services").status_code == 200  # another token, its own limit
    finally:
        limiter.reset()


def test_openapi_document_is_public(api):
    spec = api.call(None, "GET", "/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {"type": "http", "scheme": "bearer"}
    assert "/api/v1/referrals/{referral_id}/transitions" in spec["paths"]
