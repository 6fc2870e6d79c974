"""Admin pages for API tokens: list, create (the secret is shown once), revoke.

Network admins manage the tokens of every member organization. There is no
"organization admin" role yet (a user has one role), so organizations cannot manage
their own tokens; `api.tokens.may_manage_tokens` is where that would be allowed.
"""
from __future__ import annotations

from datetime import datetime, time, timezone

from flask import Blueprint, flash, make_response, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import DateField, SelectField, StringField, SubmitField
from wtforms.fields import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from referralnet.accounts.forms import ToggleForm
from referralnet.accounts.models import API_SCOPES, NetworkOrganization, Role
from referralnet.accounts.permissions import role_required
from referralnet.api import tokens
from referralnet.errors import ValidationFailed
from referralnet.extensions import db
from referralnet.forms import MultiCheckboxField
from referralnet.web import attach_errors

bp = Blueprint("tokens", __name__)

SCOPE_LABELS = {
    "directory:read": "directory:read — search the directory",
    "referrals:read": "referrals:read — read clients and referrals",
    "referrals:write": "referrals:write — add clients and consent, send and update referrals, update listings",
    "reports:read": "reports:read — read the organization's outcome reports (aggregates, no patient data)",
}


class TokenForm(FlaskForm):
    organization_id = SelectField("Organization", coerce=int)
    name = StringField("Integration name", validators=[DataRequired("Name the integration."), Length(max=100)])
    scopes = MultiCheckboxField("Scopes", choices=[SelectChoice(s, SCOPE_LABELS[s]) for s in API_SCOPES])
    expires_on = DateField("Expires on (optional)", validators=[Optional()])
    submit = SubmitField("Create token")


@bp.get("/admin/tokens")
@role_required(Role.ADMIN)
def token_list():
    """Every organization's tokens with their state; secrets are never shown again."""
    return render_template("tokens/list.html", tokens=tokens.list_api_tokens(), state=tokens.token_state,
                           revoke=ToggleForm())


@bp.route("/admin/tokens/new", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def new_token():
    """Create a token; the page that answers shows its secret, once."""
    form = TokenForm()
    orgs = db.session.scalars(select(NetworkOrganization).where(NetworkOrganization.active.is_(True))
                              .order_by(NetworkOrganization.name)).all()
    form.organization_id.choices = [SelectChoice(o.id, f"{o.name} ({o.kind_label})") for o in orgs]
    if form.validate_on_submit():
        organization = db.session.get(NetworkOrganization, form.organization_id.data)
        expires_at = datetime.combine(form.expires_on.data, time.min, tzinfo=timezone.utc) \
            if form.expires_on.data else None
        try:
            token, secret = tokens.create_api_token(current_user, organization, name=form.name.data,
                                                    scopes=form.scopes.data or [], expires_at=expires_at)
        except ValidationFailed as exc:
            attach_errors(form, exc)
        else:
            response = make_response(render_template("tokens/created.html", token=token, secret=secret))
            response.headers["Cache-Control"] = "no-store"  # the secret must not linger in caches
            return response
    status = 400 if form.errors else 200
    return render_template("tokens/form.html", form=form), status


@bp.post("/admin/tokens/<int:token_id>/revoke")
@role_required(Role.ADMIN)
def revoke_token(token_id: int):
    """Revoke a token at once (CSRF is checked by CSRFProtect before this runs)."""
    token = tokens.get_api_token(token_id)
    tokens.revoke_api_token(current_user, token)
    flash(f"Token {token.prefix}… ({token.name}) revoked.", "success")
    return redirect(url_for("tokens.token_list"))
