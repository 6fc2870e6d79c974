"""Admin pages and CLI for users and member organizations."""
from __future__ import annotations

from sqlalchemy import func, select

from referralnet.accounts.models import NetworkOrganization, User
from tests.conftest import PASSWORD, csrf_token_from, form_token


def count(db, model):
    return db.session.scalar(select(func.count()).select_from(model))


def test_admin_creates_user_who_can_log_in(client, login_as, make_user, db, login, app):
    """The admin sets no password: the new user gets an invitation link and chooses their own."""
    from tests.accounts.test_passwords import emailed_link, set_password_through

    admin = login_as("admin")
    clinic = make_user("coordinator", org_name="Bayside Clinic").organization
    token = form_token(client, "/admin/users/new")
    page = client.get("/admin/users/new").get_data(as_text=True)
    assert 'type="password"' not in page and "invitation link" in page
    response = client.post("/admin/users/new", data={
        "name": "Robin Reyes", "email": "robin@example.org", "role": "coordinator",
        "organization_id": clinic.id, "csrf_token": token})
    assert response.status_code == 302
    user = db.session.scalar(select(User).where(User.email == "robin@example.org"))
    assert user.organization_id == clinic.id
    listing = client.get("/admin/users").get_data(as_text=True)
    assert "robin@example.org" in listing
    other = app.test_client()
    link = emailed_link(db, user, "account.invitation")
    assert set_password_through(other, link, "a-long-password").status_code == 302
    token = csrf_token_from(other.get("/login").get_data(as_text=True))
    assert other.post("/login", data={"email": "robin@example.org", "password": "a-long-password",
                                      "csrf_token": token}).status_code == 302


def test_user_form_errors_name_the_field_and_change_nothing(client, login_as, db):
    admin = login_as("admin")
    before = count(db, User)
    token = form_token(client, "/admin/users/new")
    response = client.post("/admin/users/new", data={
        "name": "", "email": admin.email, "role": "partner", "organization_id": admin.organization_id,
        "csrf_token": token})
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert "Enter the person&#39;s name." in body
    assert count(db, User) == before


def test_duplicate_email_and_wrong_org_kind_are_refused(client, login_as, db):
    admin = login_as("admin")
    token = form_token(client, "/admin/users/new")
    response = client.post("/admin/users/new", data={
        "name": "Dup", "email": admin.email.upper(), "role": "partner", "organization_id": admin.organization_id,
        "password": "long-enough-password", "csrf_token": token})
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert "already exists" in body
    assert "Partner staff must belong to a partner agency." in body


def test_admin_deactivates_and_reactivates_user(client, login_as, make_user, db, app):
    login_as("admin")
    victim = make_user("partner")
    token = form_token(client, "/admin/users")
    assert client.post(f"/admin/users/{victim.id}/active", data={"active": "0", "csrf_token": token}).status_code == 302
    db.session.expire_all()
    assert db.session.get(User, victim.id).active is False
    other = app.test_client()
    token2 = csrf_token_from(other.get("/login").get_data(as_text=True))
    assert other.post("/login", data={"email": victim.email, "password": PASSWORD,
                                      "csrf_token": token2}).status_code == 401
    client.post(f"/admin/users/{victim.id}/active", data={"active": "1", "csrf_token": token})
    db.session.expire_all()
    assert db.session.get(User, victim.id).active is True


def test_admin_cannot_deactivate_self(client, login_as, db):
    admin = login_as("admin")
    token = form_token(client, "/admin/users")
    response = client.post(f"/admin/users/{admin.id}/active", data={"active": "0", "csrf_token": token},
                           follow_redirects=True)
    assert "You cannot deactivate your own account." in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, admin.id).active is True


def test_deactivate_without_csrf_is_rejected(client, login_as, make_user, db):
    login_as("admin")
    victim = make_user("partner")
    response = client.post(f"/admin/users/{victim.id}/active", data={"active": "0"})
    assert response.status_code == 400
    db.session.expire_all()
    assert db.session.get(User, victim.id).active is True


def test_coordinator_cannot_deactivate_users(client, login_as, make_user, db):
    login_as("coordinator")
    victim = make_user("partner")
    token = form_token(client, "/")
    assert client.post(f"/admin/users/{victim.id}/active",
                       data={"active": "0", "csrf_token": token}).status_code == 403
    db.session.expire_all()
    assert db.session.get(User, victim.id).active is True


def test_unknown_user_id_is_404(client, login_as):
    login_as("admin")
    token = form_token(client, "/admin/users")
    assert client.post("/admin/users/999999/active", data={"active": "0", "csrf_token": token}).status_code == 404


def test_admin_creates_and_deactivates_organization(client, login_as, db):
    login_as("admin")
    token = form_token(client, "/admin/organizations/new")
    response = client.post("/admin/organizations/new", data={
        "name": "Food Bank of the Coast", "kind": "partner", "directory_organization_id": "", "csrf_token": token})
    assert response.status_code == 302
    org = db.session.scalar(select(NetworkOrganization).where(NetworkOrganization.name == "Food Bank of the Coast"))
    assert org.kind == "partner" and org.active
    duplicate = client.post("/admin/organizations/new", data={
        "name": "food bank of the coast", "kind": "partner", "csrf_token": token})
    assert duplicate.status_code == 400 and "already exists" in duplicate.get_data(as_text=True)
    client.post(f"/admin/organizations/{org.id}/active", data={"active": "0", "csrf_token": token})
    db.session.expire_all()
    assert db.session.get(NetworkOrganization, org.id).active is False


def test_cli_creates_user(runner, db, make_user):
    org = make_user("coordinator", org_name="Clinic A").organization
    result = runner.invoke(args=["users", "create", "--email", "New@Example.org", "--name", "New Person",
                                 "--role", "coordinator", "--organization", "Clinic A",
                                 "--password", "another-long-one"])
    assert result.exit_code == 0, result.output
    assert "Created coordinator new@example.org in Clinic A." in result.output
    bad = runner.invoke(args=["users", "create", "--email", "x@example.org", "--name", "X", "--role", "partner",
                              "--organization", "Nope", "--password", "another-long-one"])
    assert bad.exit_code != 0 and "No organization named 'Nope'" in bad.output
    short = runner.invoke(args=["users", "create", "--email", "y@example.org", "--name", "Y",
                                "--role", "coordinator", "--organization", "Clinic A", "--password", "short"])
    assert short.exit_code != 0 and "password: The password must be at least 10 characters long." in short.output
