"""Login, logout and the admin pages for users and member organizations."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select
from wtforms.fields import SelectChoice

from referralnet.accounts import services
from referralnet.accounts.forms import LoginForm, OrganizationForm, ToggleForm, UserForm
from referralnet.accounts.models import NetworkOrganization, Role, User
from referralnet.accounts.permissions import role_required
from referralnet.directory.models import Organization
from referralnet.errors import ValidationFailed
from referralnet.extensions import db, limiter
from referralnet.web import attach_errors

bp = Blueprint("accounts", __name__)


def _safe_next(target: str | None) -> str | None:
    """Only same-site relative paths are followed after login (no open redirect)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = LoginForm()
    if form.validate_on_submit():
        user = services.authenticate(form.email.data, form.password.data)
        if user is not None:
            # A fresh session (and CSRF token) on sign-in: nothing from before it carries over.
            next_page = _safe_next(request.args.get("next"))
            session.clear()
            login_user(user, remember=form.remember.data)
            return redirect(next_page or url_for("main.home"))
        form.password.errors.append("The email or password is not right, or the account is deactivated.")
        return render_template("accounts/login.html", form=form), 401
    status = 400 if form.errors else 200
    return render_template("accounts/login.html", form=form), status


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    flash("You are signed out.", "info")
    return redirect(url_for("accounts.login"))


# --- admin: users -----------------------------------------------------------------------------

def _organization_choices() -> list[SelectChoice]:
    orgs = db.session.scalars(select(NetworkOrganization).order_by(NetworkOrganization.name))
    return [SelectChoice(o.id, f"{o.name} ({o.kind_label})") for o in orgs]


@bp.get("/admin/users")
@role_required(Role.ADMIN)
def users():
    rows = db.session.scalars(select(User).order_by(User.active.desc(), User.email)).all()
    return render_template("accounts/users.html", users=rows, toggle=ToggleForm())


@bp.route("/admin/users/new", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def new_user():
    form = UserForm()
    form.organization_id.choices = _organization_choices()
    if form.validate_on_submit():
        try:
            user = services.create_user(email=form.email.data, name=form.name.data, password=form.password.data,
                                        role=form.role.data, organization_id=form.organization_id.data,
                                        actor=current_user)
        except ValidationFailed as exc:
            attach_errors(form, exc)
        else:
            flash(f"User {user.email} created.", "success")
            return redirect(url_for("accounts.users"))
    status = 400 if form.errors else 200
    return render_template("accounts/user_form.html", form=form), status


@bp.post("/admin/users/<int:user_id>/active")
@role_required(Role.ADMIN)
def toggle_user(user_id: int):
    user = services.get_user(user_id)
    return _set_active(user, user.email, services.set_user_active, "accounts.users")


def _set_active(record, label: str, setter, back: str):
    """Shared by the activate/deactivate buttons (CSRF is checked by CSRFProtect before this runs)."""
    activate = request.form.get("active") == "1"
    try:
        setter(record, activate, actor=current_user)
    except ValidationFailed as exc:
        flash(exc.message, "error")
    else:
        flash(f"{label} {'reactivated' if activate else 'deactivated'}.", "success")
    return redirect(url_for(back))


# --- admin: member organizations --------------------------------------------------------------

@bp.get("/admin/organizations")
@role_required(Role.ADMIN)
def organizations():
    rows = db.session.scalars(select(NetworkOrganization).order_by(NetworkOrganization.name)).all()
    return render_template("accounts/organizations.html", organizations=rows, toggle=ToggleForm())


@bp.route("/admin/organizations/new", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def new_organization():
    form = OrganizationForm()
    listings = db.session.execute(select(Organization.id, Organization.name).order_by(Organization.name)).all()
    form.directory_organization_id.choices = [SelectChoice("", "— none —")] + [SelectChoice(i, n)
                                                                                  for i, n in listings]
    if form.validate_on_submit():
        try:
            org = services.create_organization(name=form.name.data, kind=form.kind.data,
                                               directory_organization_id=form.directory_organization_id.data or None,
                                               actor=current_user)
        except ValidationFailed as exc:
            attach_errors(form, exc)
        else:
            flash(f"Organization {org.name} created.", "success")
            return redirect(url_for("accounts.organizations"))
    status = 400 if form.errors else 200
    return render_template("accounts/organization_form.html", form=form), status


@bp.post("/admin/organizations/<int:org_id>/active")
@role_required(Role.ADMIN)
def toggle_organization(org_id: int):
    org = services.get_organization(org_id)
    return _set_active(org, org.name, services.set_organization_active, "accounts.organizations")
