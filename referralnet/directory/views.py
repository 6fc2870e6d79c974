"""Admin pages for the HSDS directory: list, view, create and edit organizations, services and locations.

Each page parses its form, calls one function of `directory.services` and
either flashes and redirects, or shows the form again with the problems and
status 400. The request's one commit (or rollback, for a 400) happens in the
app's after_request hook.
"""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from referralnet.accounts.models import Role
from referralnet.accounts.permissions import role_required
from referralnet.directory import services as listings
from referralnet.directory.forms import LocationForm, OrganizationListingForm, ServiceForm
from referralnet.errors import ValidationFailed
from referralnet.web import attach_errors

bp = Blueprint("directory", __name__, url_prefix="/admin/directory")


@bp.context_processor
def template_helpers():
    return {"physical_address": listings.physical_address}


def _save(form, action, *args):
    """Call the service `action` with the form's values; returns the saved (flushed) record.

    When the service refuses the values, puts its errors on the form and returns None; the
    view then answers 400 and the request's rollback discards anything half-changed.
    """
    try:
        return action(*args, **form.values(), actor=current_user)
    except ValidationFailed as exc:
        attach_errors(form, exc)
        return None


def _render_form(template: str, form, **context):
    return render_template(template, form=form, **context), 400 if form.errors else 200


def _q() -> str:
    return request.args.get("q", "").strip()


# --- organizations ------------------------------------------------------------------------------

@bp.get("/organizations")
@role_required(Role.ADMIN)
def organizations():
    page = listings.list_organization_listings(_q(), request.args.get("page"))
    return render_template("directory/organizations.html", page=page, q=_q())


@bp.route("/organizations/new", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def new_organization():
    form = OrganizationListingForm.build()
    if form.validate_on_submit() and (org := _save(form, listings.create_organization_listing)):
        flash(f"Organization “{org.name}” created.", "success")
        return redirect(url_for(".organization", org_id=org.id))
    return _render_form("directory/organization_form.html", form, org=None)


@bp.get("/organizations/<org_id>")
@role_required(Role.ADMIN)
def organization(org_id: str):
    details = listings.get_organization_details(listings.get_organization_listing(org_id))
    return render_template("directory/organization.html", details=details, org=details.organization)


@bp.route("/organizations/<org_id>/edit", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def edit_organization(org_id: str):
    org = listings.get_organization_listing(org_id)
    form = OrganizationListingForm.build(org)
    if form.validate_on_submit() and _save(form, listings.update_organization_listing, org):
        flash(f"Organization “{org.name}” saved.", "success")
        return redirect(url_for(".organization", org_id=org.id))
    return _render_form("directory/organization_form.html", form, org=org)


# --- services -----------------------------------------------------------------------------------

@bp.get("/services")
@role_required(Role.ADMIN)
def services():
    page = listings.list_services(_q(), request.args.get("page"))
    return render_template("directory/services.html", page=page, q=_q())


@bp.route("/services/new", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def new_service():
    form = ServiceForm.build(organization_id=request.args.get("organization_id"))
    if form.validate_on_submit() and (service := _save(form, listings.create_service)):
        flash(f"Service “{service.name}” created.", "success")
        return redirect(url_for(".service", service_id=service.id))
    return _render_form("directory/service_form.html", form, service=None)


@bp.get("/services/<service_id>")
@role_required(Role.ADMIN)
def service(service_id: str):
    details = listings.get_service_details(listings.get_service(service_id))
    return render_template("directory/service.html", details=details, service=details.service)


@bp.route("/services/<service_id>/edit", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def edit_service(service_id: str):
    record = listings.get_service(service_id)
    form = ServiceForm.build(record)
    if form.validate_on_submit() and _save(form, listings.update_service, record):
        flash(f"Service “{record.name}” saved.", "success")
        return redirect(url_for(".service", service_id=record.id))
    return _render_form("directory/service_form.html", form, service=record)


# --- locations ----------------------------------------------------------------------------------

@bp.get("/locations")
@role_required(Role.ADMIN)
def locations():
    page = listings.list_locations(_q(), request.args.get("page"))
    return render_template("directory/locations.html", page=page, q=_q())


@bp.route("/locations/new", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def new_location():
    form = LocationForm.build(organization_id=request.args.get("organization_id"))
    if form.validate_on_submit() and (record := _save(form, listings.create_location)):
        flash(f"Location “{record.name}” created.", "success")
        return redirect(url_for(".location", location_id=record.id))
    return _render_form("directory/location_form.html", form, location=None)


@bp.get("/locations/<location_id>")
@role_required(Role.ADMIN)
def location(location_id: str):
    details = listings.get_location_details(listings.get_location(location_id))
    return render_template("directory/location.html", details=details, location=details.location)


@bp.route("/locations/<location_id>/edit", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def edit_location(location_id: str):
    record = listings.get_location(location_id)
    form = LocationForm.build(record)
    if form.validate_on_submit() and _save(form, listings.update_location, record):
        flash(f"Location “{record.name}” saved.", "success")
        return redirect(url_for(".location", location_id=record.id))
    return _render_form("directory/location_form.html", form, location=record)
