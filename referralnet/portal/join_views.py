"""Network admins decide the agencies' requests to join the network (`/admin/join-requests`)."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from referralnet.accounts.models import Role
from referralnet.accounts.permissions import role_required
from referralnet.errors import Conflict, ValidationFailed
from referralnet.portal import join
from referralnet.portal.forms import DecideJoinForm
from referralnet.web import attach_errors

bp = Blueprint("join", __name__)
STATES = ("pending", "approved", "declined")


@bp.get("/admin/join-requests")
@role_required(Role.ADMIN)
def requests():
    state = request.args.get("state", "pending")
    state = state if state in STATES else "pending"
    return render_template("portal/join_requests.html", rows=join.list_requests(current_user, state), state=state,
                           states=STATES, form=DecideJoinForm(formdata=None))


@bp.post("/admin/join-requests/<request_id>/approve")
@role_required(Role.ADMIN)
def approve(request_id):
    """Create the member organization and its first user; the one-time password is shown once."""
    row = join.get_request(current_user, request_id)
    form = DecideJoinForm()
    if form.validate_on_submit():
        try:
            org, user, password = join.approve_request(
                current_user, row, organization_name=form.organization_name.data, user_name=form.user_name.data,
                user_email=form.user_email.data)
        except ValidationFailed as exc:
            attach_errors(form, exc)
        except Conflict as exc:
            flash(exc.message, "error")
        else:
            return render_template("portal/join_approved.html", org=org, user=user, password=password)
    return render_template("portal/join_requests.html", rows=join.list_requests(current_user, "pending"),
                           state="pending", states=STATES, form=form, failed_id=row.id), 400


@bp.post("/admin/join-requests/<request_id>/decline")
@role_required(Role.ADMIN)
def decline(request_id):
    row = join.get_request(current_user, request_id)
    if not DecideJoinForm().validate_on_submit():
        return redirect(url_for(".requests"))
    try:
        join.decline_request(current_user, row)
    except Conflict as exc:
        flash(exc.message, "error")
        return redirect(url_for(".requests"))
    flash(_("The request was declined."), "success")
    return redirect(url_for(".requests"))
