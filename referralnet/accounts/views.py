"""Login, logout and the admin pages for users and member organizations."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import (Blueprint, current_app, flash, make_response, redirect, render_template, request, session,
                   url_for)
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.security import generate_password_hash
from sqlalchemy import select
from wtforms.fields import SelectChoice

from referralnet.accounts import passwords, services, two_factor
from referralnet.accounts.forms import (ChangePasswordForm, CodeForm, EditUserForm, ForgotPasswordForm, LoginForm,
                                        OrganizationForm, SetPasswordForm, ToggleForm, UserForm)
from referralnet.accounts.models import NetworkOrganization, Role, User
from referralnet.accounts.permissions import role_required
from referralnet.directory.models import Organization
from referralnet.errors import DomainError, NotFound, ValidationFailed
from referralnet.extensions import db, limiter
from referralnet.logs import register_token_path
from referralnet.web import attach_errors

bp = Blueprint("accounts", __name__)
# The one-time password links hold their token in the path: never in a log line.
register_token_path("/account/set-password/")


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
            if user.two_factor_enabled or two_factor.two_factor_required(user):
                # Not signed in yet: the password alone only opens the second step.
                session[PENDING] = {"user_id": user.id, "remember": bool(form.remember.data), "next": next_page}
                return redirect(url_for("accounts.second_factor" if user.two_factor_enabled
                                        else "accounts.second_factor_setup"))
            login_user(user, remember=form.remember.data)
            return redirect(next_page or url_for("main.home"))
        form.password.errors.append("The email or password is not right, or the account is deactivated.")
        return render_template("accounts/login.html", form=form), 401
    status = 400 if form.errors else 200
    return render_template("accounts/login.html", form=form), status


# --- two-factor sign-in (accounts.two_factor) ---------------------------------------------------

PENDING = "two_factor_pending"  # session key: who passed the password step, not yet signed in


def _pending_user() -> User | None:
    pending = session.get(PENDING)
    user = db.session.get(User, pending["user_id"]) if pending else None
    return user if user is not None and user.is_active else None


_WITHOUT_SECOND_FACTOR = {"accounts.account_two_factor", "accounts.recovery_codes", "accounts.logout", "static"}


@bp.before_app_request
def _second_factor_on_file():
    """Someone signed in who must use a second factor and has none (signed in before it was required,
    or reset by an admin since) sets one up before any other page."""
    if request.path.startswith(("/api/", "/hsds", "/fhir", "/s/", "/static/")) or \
            request.endpoint in _WITHOUT_SECOND_FACTOR:
        return None
    if current_user.is_authenticated and not current_user.two_factor_enabled \
            and two_factor.two_factor_required(current_user):
        flash("Set up two-factor sign-in to continue.", "info")
        return redirect(url_for("accounts.account_two_factor"))
    return None


def _finish_sign_in(user: User):
    pending = session.pop(PENDING)
    session.pop("two_factor_secret", None)
    login_user(user, remember=pending["remember"])
    return pending["next"] or url_for("main.home")


@bp.route("/login/two-factor", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def second_factor():
    """The second step of signing in: a code from the authenticator app, or a recovery code."""
    user = _pending_user()
    if user is None or not user.two_factor_enabled:
        return redirect(url_for("accounts.login"))
    form = CodeForm()
    if form.validate_on_submit():
        try:
            used = two_factor.verify_second_factor(user, form.code.data)
        except ValidationFailed as exc:
            attach_errors(form, exc)
            return render_template("accounts/two_factor.html", form=form), 401
        target = _finish_sign_in(user)
        if used == "recovery":
            flash(f"You signed in with a recovery code; {two_factor.remaining_recovery_codes(user)} are left. "
                  "Make new ones from your account page if you are running low.", "info")
        return redirect(target)
    return render_template("accounts/two_factor.html", form=form), 400 if form.errors else 200


def _enrolment_page(user: User, form: CodeForm, action: str, status: int = 200):
    secret = session.setdefault("two_factor_secret", two_factor.new_secret())
    uri = two_factor.provisioning_uri(user, secret)
    return render_template("accounts/two_factor_setup.html", form=form, secret=secret, qr=two_factor.qr_svg(uri),
                           action=action, required=two_factor.two_factor_required(user)), status


def _enroll(user: User, form: CodeForm) -> list[str] | None:
    try:
        return two_factor.enroll(user, session["two_factor_secret"], form.code.data)
    except ValidationFailed as exc:
        attach_errors(form, exc)
        return None


def _show_codes_once(codes: list[str], then: str):
    """Redirect to the page that shows new recovery codes (after a POST, so a reload does not post again)."""
    session["new_recovery_codes"] = {"codes": codes, "next": then}
    return redirect(url_for("accounts.recovery_codes"))


@bp.get("/account/recovery-codes")
@login_required
def recovery_codes():
    """New recovery codes, shown once: the page takes them out of the session."""
    shown = session.pop("new_recovery_codes", None)
    if not shown:
        flash("Recovery codes are shown only once. Make new ones here if you need them.", "info")
        return redirect(url_for("accounts.account_two_factor"))
    response = make_response(render_template("accounts/recovery_codes.html", codes=shown["codes"],
                                             next=shown["next"]))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/login/two-factor/setup", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def second_factor_setup():
    """Sign-in of someone who must use a second factor and has none yet: enrol, then in."""
    user = _pending_user()
    if user is None or user.two_factor_enabled:
        return redirect(url_for("accounts.login"))
    form = CodeForm()
    if form.validate_on_submit() and "two_factor_secret" in session:
        codes = _enroll(user, form)
        if codes is not None:
            return _show_codes_once(codes, _finish_sign_in(user))
        return _enrolment_page(user, form, url_for("accounts.second_factor_setup"), 401)
    return _enrolment_page(user, form, url_for("accounts.second_factor_setup"), 400 if form.errors else 200)


@bp.route("/account/two-factor", methods=["GET", "POST"])
@login_required
@limiter.limit(_login_limit, methods=["POST"])
def account_two_factor():
    """Your own second factor: set it up, or see how many recovery codes are left and make new ones."""
    form = CodeForm()
    if current_user.two_factor_enabled:
        if request.method == "POST" and ToggleForm().validate_on_submit():
            return _show_codes_once(two_factor.regenerate_recovery_codes(current_user), url_for("main.home"))
        return render_template("accounts/two_factor_account.html", toggle=ToggleForm(),
                               left=two_factor.remaining_recovery_codes(current_user))
    if form.validate_on_submit() and "two_factor_secret" in session:
        codes = _enroll(current_user, form)
        if codes is not None:
            session.pop("two_factor_secret", None)
            return _show_codes_once(codes, url_for("main.home"))
        return _enrolment_page(current_user, form, url_for("accounts.account_two_factor"), 400)
    return _enrolment_page(current_user, form, url_for("accounts.account_two_factor"), 400 if form.errors else 200)


@bp.post("/admin/users/<int:user_id>/two-factor/reset")
@role_required(Role.ADMIN)
def reset_two_factor(user_id: int):
    """A lost device: turn the user's second factor off; they enrol again at their next sign-in."""
    user = services.get_user(user_id)
    if not ToggleForm().validate_on_submit():
        flash("The form expired; try again.", "error")
    else:
        try:
            two_factor.reset_two_factor(current_user, user)
        except DomainError as exc:
            flash(exc.message, "error")
        else:
            flash(f"Two-factor sign-in reset for {user.email}: they set it up again at their next sign-in.",
                  "success")
    return redirect(url_for("accounts.users"))


# --- passwords: your own, forgotten, and the one-time links (accounts.passwords) ------------------

@bp.route("/account/password", methods=["GET", "POST"])
@login_required
@limiter.limit(_login_limit, methods=["POST"])
def change_password():
    """Change your own password (the current one is required)."""
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            passwords.change_password(current_user, form.current_password.data, form.new_password.data,
                                      form.confirm_password.data)
        except ValidationFailed as exc:
            attach_errors(form, exc)
            return render_template("accounts/change_password.html", form=form), 400
        flash("Your password is changed.", "success")
        return redirect(url_for("main.home"))
    return render_template("accounts/change_password.html", form=form), 400 if form.errors else 200


def _reset_limit() -> str:
    return current_app.config.get("PASSWORD_RESET_RATE_LIMIT", "5 per hour")


def _asked_email_key() -> str:
    """The per-address budget of "forgot password": keyed by a hash of the address asked about, never the
    address itself, and the same whether or not an account uses it."""
    email = (request.form.get("email") or "").strip().lower()
    return "reset:" + passwords.hash_token(email)[:32]


@bp.route("/login/forgot", methods=["GET", "POST"])
@limiter.limit(_reset_limit, methods=["POST"])
@limiter.limit(_reset_limit, methods=["POST"], key_func=_asked_email_key, scope="password-reset-email")
def forgot_password():
    """Ask for a link to set a new password. The answer is the same whether or not the address has an
    account (and the time spent too: the email is written by the outbox, not sent here)."""
    if current_user.is_authenticated:
        return redirect(url_for("accounts.change_password"))
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        if passwords.request_password_reset(form.email.data) is None:
            generate_password_hash("not-a-real-password")  # about the time a real request's bookkeeping takes
        return render_template("accounts/forgot_password.html", form=None, sent=True)
    return render_template("accounts/forgot_password.html", form=form, sent=False), 400 if form.errors else 200


@bp.route("/account/set-password/<token>", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def set_password(token: str):
    """The page a one-time link opens (forgot password, an admin's reset link, an invitation)."""
    if passwords.find_account_token(token) is None:
        return render_template("accounts/set_password_gone.html"), 404
    form = SetPasswordForm()
    if form.validate_on_submit():
        try:
            user = passwords.set_password_with_token(token, form.new_password.data, form.confirm_password.data)
        except NotFound:
            return render_template("accounts/set_password_gone.html"), 404
        except ValidationFailed as exc:
            attach_errors(form, exc)
            return render_template("accounts/set_password.html", form=form), 400
        logout_user()
        session.clear()
        flash(f"Your password is set. Sign in with {user.email} and your new password.", "success")
        return redirect(url_for("accounts.login"))
    response = make_response(render_template("accounts/set_password.html", form=form), 400 if form.errors else 200)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # the token never leaves in a Referer
    return response


# --- idle staff sessions end (IDLE_TIMEOUT_MINUTES) ------------------------------------------------

LAST_SEEN = "last_seen"  # session key: when this signed-in session last made a request (epoch seconds)
# Requests that are not the person at work: they neither keep the session alive nor count as activity.
_NOT_ACTIVITY = {"notifications.unread_json", "static"}


def idle_timeout_seconds() -> float:
    return float(current_app.config.get("IDLE_TIMEOUT_MINUTES", 15)) * 60


@bp.before_app_request
def _end_idle_sessions():
    """A staff session that made no request for IDLE_TIMEOUT_MINUTES is signed out, whatever the page's
    script did or did not do; the next request goes to the sign-in page (and back after it)."""
    if not current_user.is_authenticated or request.path.startswith(("/api/", "/hsds", "/fhir", "/s/", "/a/")):
        return None
    import time

    now = time.time()
    last = session.get(LAST_SEEN)
    if last is not None and now - float(last) > idle_timeout_seconds():
        user = current_user._get_current_object()
        logout_user()
        session.clear()
        passwords.record_session_timeout(user)
        flash("You were signed out after a while without activity. Sign in again to continue.", "info")
        if request.method == "GET" and request.endpoint not in _NOT_ACTIVITY:
            return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))
        if request.accept_mimetypes.best == "application/json" or request.endpoint in _NOT_ACTIVITY:
            return {"signed_out": True}, 401
        return redirect(url_for("accounts.login"))
    if request.endpoint not in _NOT_ACTIVITY:
        session[LAST_SEEN] = now
    return None


@bp.post("/account/keepalive")
@login_required
def keepalive():
    """"Stay signed in" from the idle warning: the request itself renews the session (see above)."""
    return {"idle_timeout_seconds": idle_timeout_seconds()}


@bp.app_context_processor
def _idle_settings():
    return {"idle_timeout_seconds": idle_timeout_seconds}


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
            user = passwords.invite_user(email=form.email.data, name=form.name.data, role=form.role.data,
                                         organization_id=form.organization_id.data, actor=current_user,
                                         phone=form.phone.data)
        except ValidationFailed as exc:
            attach_errors(form, exc)
        else:
            flash(f"User {user.email} created. They were emailed an invitation link to choose their password.",
                  "success")
            return redirect(url_for("accounts.users"))
    status = 400 if form.errors else 200
    return render_template("accounts/user_form.html", form=form), status


@bp.route("/admin/users/<int:user_id>/edit", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def edit_user(user_id: int):
    """Correct a user's name, role and organization; their password is theirs (send a reset link)."""
    user = services.get_user(user_id)
    form = EditUserForm(obj=user) if request.method == "GET" else EditUserForm()
    form.organization_id.choices = _organization_choices()
    if form.validate_on_submit():
        try:
            passwords.update_user(current_user, user, name=form.name.data, role=form.role.data,
                                  organization_id=form.organization_id.data)
        except ValidationFailed as exc:
            attach_errors(form, exc)
        else:
            flash(f"{user.email} saved.", "success")
            return redirect(url_for("accounts.users"))
    return render_template("accounts/user_edit.html", form=form, user=user, toggle=ToggleForm()), \
        400 if form.errors else 200


@bp.post("/admin/users/<int:user_id>/reset-link")
@role_required(Role.ADMIN)
def send_reset_link(user_id: int):
    """Email the user a one-time link to set a new password (admins never set one for them)."""
    user = services.get_user(user_id)
    try:
        passwords.send_reset_link(current_user, user)
    except ValidationFailed as exc:
        flash(exc.message, "error")
    else:
        flash(f"A link to set a new password was emailed to {user.email}.", "success")
    return redirect(url_for("accounts.edit_user", user_id=user.id))


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
                                               phone=form.phone.data, actor=current_user)
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
