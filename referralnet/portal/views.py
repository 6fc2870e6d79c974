"""The partner portal: the referral inbox, and the listing pages where a partner agency keeps
its own services' hours, capacity and "accepting referrals" switch up to date.

The referral page itself (accept, decline, messages...) is shared with the sending
coordinator and lives in `referrals.views`; the inbox lists what the partner may see
through `referrals.worklists`.

Only partner staff use these pages (admins manage the whole directory under
/admin/directory). Each page parses its form, calls one function of
`portal.listings` (which answers 404 for any service that is not the
partner's own), then flashes and redirects, or shows the form again with the
problems and status 400. The request's one commit (or rollback, for a 400)
happens in the app's after_request hook; committing re-indexes the search.
"""
from __future__ import annotations

import re

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from referralnet.accounts.models import Role
from referralnet.accounts.permissions import role_required
from referralnet.portal import listings as own
from referralnet.portal.forms import AcceptingForm, CapacityForm, HoursForm, VerifyForm
from referralnet.errors import ValidationFailed
from referralnet.referrals import worklists
from referralnet.referrals.forms import ListFilterForm
from referralnet.web import attach_errors, page_arg

bp = Blueprint("portal", __name__)

ROW_ERROR_KEY = re.compile(r"^rows-(\d+)-(day|opens|closes)$")


def _render_form(template: str, form, **context):
    return render_template(template, form=form, **context), 400 if form.errors else 200


def _back():
    return redirect(url_for(".listings"))


@bp.get("/inbox")
@role_required(Role.PARTNER)
def inbox():
    """Referrals sent to the partner's agency, newest work first."""
    form = ListFilterForm(request.args)
    result = worklists.listing(current_user, worklists.INBOX, request.args.get("view"), form.filters(current_user),
                               page_arg())
    return render_template("referrals/list.html", form=form, result=result, title=_("Referral inbox"),
                           endpoint=".inbox", attention=worklists.INBOX_ATTENTION_KEYS,
                           finished_views=worklists.FINISHED_VIEWS)


@bp.get("/partner/listings")
@role_required(Role.PARTNER)
def listings():
    """The partner's own services with their switch, capacity and hours."""
    return render_template("portal/listings.html", organization=own.own_directory_organization(current_user),
                           listings=own.list_own_listings(current_user), verify_cutoff=own.verify_cutoff())


@bp.post("/partner/listings/<service_id>/accepting")
@role_required(Role.PARTNER)
def accepting(service_id: str):
    """Switch "accepting referrals" on or off for one of the partner's services."""
    own.get_own_service(current_user, service_id)  # 404 before looking at the input: the service is not theirs
    form = AcceptingForm()
    if not form.validate_on_submit():
        abort(400, "Choose to accept referrals or not.")
    service = own.set_accepting(current_user, service_id, form.accepting.data == "yes")
    if service.accepting_referrals:
        flash(f"“{service.name}” is accepting referrals again.", "success")
    else:
        flash(f"“{service.name}” is no longer accepting referrals. Coordinators see it as not accepting.",
              "success")
    return _back()


@bp.post("/partner/listings/<service_id>/verify")
@role_required(Role.PARTNER)
def verify(service_id: str):
    """The partner checked one of their services and it is current: it shows as verified today."""
    own.get_own_service(current_user, service_id)  # 404 before looking at the input: the service is not theirs
    if not VerifyForm().validate_on_submit():
        abort(400, "The form expired. Please submit it again.")
    service = own.confirm_listing(current_user, service_id)
    flash(f"“{service.name}” is marked as verified today.", "success")
    return redirect(url_for("main.home") if request.form.get("next") == "home" else url_for(".listings"))


@bp.route("/partner/listings/<service_id>/capacity", methods=["GET", "POST"])
@role_required(Role.PARTNER)
def capacity(service_id: str):
    """Edit how much of a service is available now (the figure the search cards show)."""
    service = own.get_own_service(current_user, service_id)
    current = own.get_capacity(current_user, service_id)
    form = CapacityForm.build(current)
    if form.validate_on_submit():
        try:
            own.update_capacity(current_user, service_id, **form.values())
        except ValidationFailed as exc:
            attach_errors(form, exc)
        else:
            flash(f"Capacity of “{service.name}” saved.", "success")
            return _back()
    return _render_form("portal/capacity_form.html", form, service=service, current=current,
                        timezone=own.service_timezone(service))


@bp.route("/partner/listings/<service_id>/hours", methods=["GET", "POST"], defaults={"location_id": None})
@bp.route("/partner/listings/<service_id>/hours/<location_id>", methods=["GET", "POST"])
@role_required(Role.PARTNER)
def hours(service_id: str, location_id: str | None):
    """Edit a service's weekly hours at one of its locations, or service-wide."""
    current = own.get_hours_for_edit(current_user, service_id, location_id)
    form = HoursForm.build(current.rows)
    if request.method == "POST" and "add_row" in request.form:
        # "Add another row": the same rows, typed so far, plus a blank one; nothing is saved yet.
        if form.validate_on_submit():  # the CSRF token (the rows are checked when saved)
            if not form.add_row(own.MAX_HOURS_ROWS):
                flash(_("A schedule has at most %(num)s rows.", num=own.MAX_HOURS_ROWS), "error")
            return render_template("portal/hours_form.html", form=form, current=current,
                                   focus_row=len(form.rows.entries))
    if form.validate_on_submit():
        try:
            own.set_weekly_hours(current_user, service_id, form.values(), location_id=location_id)
        except ValidationFailed as exc:
            _attach_row_errors(form, exc)
        else:
            where = f" at {current.location.name or 'this location'}" if current.location else ""
            flash(f"Opening hours of “{current.service.name}”{where} saved.", "success")
            return _back()
    return _render_form("portal/hours_form.html", form, current=current)


def _attach_row_errors(form: HoursForm, exc: ValidationFailed) -> None:
    """Put "rows-<position>-<field>" errors on that row's field; anything else as attach_errors does."""
    rest = {}
    for key, messages in (exc.errors or {}).items():
        match = ROW_ERROR_KEY.match(key)
        if match and int(match[1]) < len(form.rows.entries):
            subfield = form.rows.entries[int(match[1])].form[match[2]]
            subfield.errors = list(subfield.errors) + list(messages)
        elif key == "rows":
            form.form_errors.extend(messages)
        else:
            rest[key] = messages
    if rest or not exc.errors:
        attach_errors(form, ValidationFailed(exc.message, rest))
    # FieldList collects its entries' errors only while validating: collect them again.
    entry_errors = [entry.errors for entry in form.rows.entries]
    form.rows.errors = entry_errors if any(entry_errors) else []
