"""The /fhir routes. Thin: parse -> authorize (scope, then what the organization may see) -> one
service call -> a resource. See the package docstring and README "FHIR"."""
from __future__ import annotations

import re
from datetime import timezone
from email.utils import format_datetime

from flask import Blueprint, current_app, request
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from referralnet.accounts.models import NetworkOrganization
from referralnet.api.auth import token_rate_key
from referralnet.api.fhir import resources as build
from referralnet.api.fhir.common import (FhirError, actor, authenticate, check_format, fhir_response, finish,
                                         register_error_handlers, scoped)
from referralnet.api.fhir.ids import hsds_id, network_id
from referralnet.api.fhir.search import (SERVICE_REQUEST_PARAMS, TASK_PARAMS, bundle, normalized, page_of, run,
                                         service_request_query, task_query)
from referralnet.api.fhir.updates import check_unchanged, read_task, unprocessable
from referralnet.directory import models as m
from referralnet.directory.public import get_service_view
from referralnet.errors import NotFound
from referralnet.extensions import db, limiter
from referralnet.referrals import services
from referralnet.referrals.access import client_details_shared, get_visible_client_or_404, get_visible_referral_or_404
from referralnet.referrals.models import Referral, Status
from referralnet.referrals.states import SETTABLE, details_for

bp = Blueprint("fhir", __name__, url_prefix="/fhir")
register_error_handlers(bp)
PUBLIC = {"fhir.metadata", "fhir.code_system", "fhir.unknown"}

RESOURCE_PATH = re.compile(r"^(Task|ServiceRequest|Patient|Organization|HealthcareService|Location|CodeSystem)"
                           r"(/[^/]+)?$")


# Per token, counted apart from /api/v1 (a partner polling FHIR does not starve its REST calls).
limiter.shared_limit(lambda: current_app.config["API_RATE_LIMIT"], scope="fhir", key_func=token_rate_key)(bp)


@bp.before_request
def _before():
    check_format()
    if request.endpoint not in PUBLIC:
        authenticate()


bp.after_request(finish)


def _versioned(referral: Referral) -> dict:
    return {"ETag": f'W/"{referral.version}"', "Last-Modified": format_datetime(referral.updated_at.astimezone(timezone.utc), usegmt=True)}


# --- conformance ----------------------------------------------------------------------------------

@bp.get("/metadata")
def metadata():
    """The CapabilityStatement (no token needed)."""
    return fhir_response(build.capability_statement())


@bp.get("/CodeSystem/<code_system_id>")
def code_system(code_system_id: str):
    """This server's CodeSystems (no token needed: they hold labels, not data)."""
    if code_system_id not in build.CODE_SYSTEMS:
        raise NotFound("No such CodeSystem.")
    return fhir_response(build.code_system(code_system_id))


# --- referrals -----------------------------------------------------------------------------------

# What a Task names beside the referral (requester, owner): loaded with it, not one query per Task of a
# bundle (a page of 20 Tasks was 25 queries). selectinload: the page's count query wraps the same select.
TASK_LOADS = (selectinload(Referral.sending_organization), selectinload(Referral.receiving_organization))


@bp.get("/Task/<task_id>")
@scoped("referrals:read")
def read_task_resource(task_id: str):
    """One referral Task. The receiving agency's first read records "first viewed", as its page does."""
    referral = get_visible_referral_or_404(actor(), task_id, joinedload(Referral.sending_organization),
                                           joinedload(Referral.receiving_organization))
    services.mark_viewed(actor(), referral)
    resource = build.task(referral)
    return fhir_response(resource, headers=_versioned(referral))


@bp.get("/Task")
@scoped("referrals:read")
def search_tasks():
    args = normalized(request.args, TASK_PARAMS)
    page = page_of(args)
    found = run(task_query(actor(), args).options(*TASK_LOADS), page)
    if "Task:focus" in args.getlist("_include"):
        found.includes = [build.service_request(r, share_client_details=client_details_shared(actor(), r))
                          for r in found.rows]
    return fhir_response(bundle("Task", args, page, found, build.task))


@bp.put("/Task/<task_id>")
@scoped("referrals:write")
def update_task(task_id: str):
    """Change a Task's status (with statusReason / output as the status needs) through the services.

    If-Match: W/"<versionId>" is required (428 without it, 412 when stale: nothing changes). Only
    status, statusReason and output may differ from the current Task (422 otherwise). The move
    obeys the same rules as the pages: 403 not your side's move, 422 not allowed from the current
    status or a missing/unknown reason or outcome, 409 when someone else changed it meanwhile.
    """
    referral = get_visible_referral_or_404(actor(), task_id)
    body = _json_body()
    expected = _if_match()
    if expected != referral.version:
        status = Status(referral.status)
        raise FhirError(412, f"The Task changed since you read it: it is now {status.value}, version "
                             f"{referral.version}. Read it again and retry.",
                        errors={"version": [f"current versionId is {referral.version}"]},
                        headers={"ETag": f'W/"{referral.version}"'})
    wanted = read_task(body, referral.id)
    current = build.task(referral)
    check_unchanged(current, body)
    if wanted.status == referral.status:
        same = (wanted.reason, wanted.reason_text, wanted.outcome) == \
            (referral.status_reason_code, referral.status_reason_text, referral.outcome)
        if not same:
            raise unprocessable("statusReason and output change only together with the status.", "status")
        return fhir_response(current, headers=_versioned(referral))
    to = Status(wanted.status)
    if to not in SETTABLE:
        raise FhirError(422, f"A Task cannot be moved to {wanted.status}.", issue_code="business-rule",
                        errors={"status": [f"Choose one of: {', '.join(s.value for s in SETTABLE)}."]})
    accepted = details_for(to)
    details = {"reason": wanted.reason, "reason_text": wanted.reason_text, "outcome": wanted.outcome}
    unexpected = {k: [f"Not used when the status is {wanted.status}."] for k, v in details.items()
                  if v is not None and k not in accepted}
    if unexpected:
        raise FhirError(422, f"A Task moved to {wanted.status} takes no "
                             + (" or ".join(sorted({"statusReason" if k != "outcome" else "output"
                                                    for k in unexpected}))) + ".",
                        issue_code="business-rule", errors=unexpected)
    services.change_status(referral, to, actor(), expected_version=expected,
                           **{k: v for k, v in details.items() if k in accepted})
    resource = build.task(referral)
    return fhir_response(resource, headers=_versioned(referral))


def _json_body():
    mimetype = (request.mimetype or "").lower()
    if mimetype not in ("application/fhir+json", "application/json", "application/json+fhir"):
        raise FhirError(415, "Send the resource as application/fhir+json.")
    body = request.get_json(force=True, silent=True)
    if body is None:
        raise FhirError(400, "The body is not valid JSON.", issue_code="structure")
    return body


_ETAG = re.compile(r'^(W/)?"?(\d{1,10})"?$')


def _if_match() -> int:
    header = (request.headers.get("If-Match") or "").strip()
    if not header:
        raise FhirError(428, 'Send If-Match: W/"<versionId>" with the Task version you read.', issue_code="required")
    match = _ETAG.match(header)
    if not match:
        raise FhirError(400, 'If-Match must be W/"<versionId>" (the ETag of your read).', issue_code="invalid")
    return int(match.group(2))


@bp.get("/ServiceRequest/<request_id>")
@scoped("referrals:read")
def read_service_request(request_id: str):
    referral = get_visible_referral_or_404(actor(), request_id)
    services.mark_viewed(actor(), referral)
    resource = build.service_request(referral, share_client_details=client_details_shared(actor(), referral))
    return fhir_response(resource, headers=_versioned(referral))


@bp.get("/ServiceRequest")
@scoped("referrals:read")
def search_service_requests():
    args = normalized(request.args, SERVICE_REQUEST_PARAMS)
    page = page_of(args)
    found = run(service_request_query(actor(), args), page)
    return fhir_response(bundle("ServiceRequest", args, page, found, build.service_request))


@bp.get("/Patient/<patient_id>")
@scoped("referrals:read")
def read_patient(patient_id: str):
    """A client the organization may see (its own, or one it received a referral for). Audited."""
    client = get_visible_client_or_404(actor(), patient_id)
    services.record_client_view(actor(), client)
    return fhir_response(build.patient(client))


# --- directory -------------------------------------------------------------------------------------

@bp.get("/Organization/<organization_id>")
@scoped("directory:read")
def read_organization(organization_id: str):
    member = network_id(organization_id)
    if member is not None:
        org = db.session.get(NetworkOrganization, member)
        if org is None:
            raise NotFound("No such organization.")
        return fhir_response(build.member_organization(org))
    directory_id = hsds_id(m.Organization, organization_id)
    if directory_id is None:
        raise NotFound("No such organization.")
    org = db.session.get(m.Organization, directory_id)
    phones = db.session.scalars(select(m.Phone).where(m.Phone.organization_id == org.id, m.Phone.service_id.is_(None),
                                                      m.Phone.location_id.is_(None))).all()
    return fhir_response(build.directory_organization(org, list(phones)))


@bp.get("/HealthcareService/<service_id>")
@scoped("directory:read")
def read_healthcare_service(service_id: str):
    """A directory service. Closed ones stay readable (active=false): referrals point at them."""
    directory_id = hsds_id(m.Service, service_id)
    if directory_id is None:
        raise NotFound("No such service.")
    service = db.session.get(m.Service, directory_id)
    if service.status == "active":
        view = get_service_view(service.id)
        locations = [p.location.id for p in view.places if p.location is not None]
        return fhir_response(build.healthcare_service(service, locations=locations, phones=view.phones,
                                                      domains=view.domains))
    return fhir_response(build.healthcare_service(service, locations=[], phones=[], domains=[]))


@bp.get("/Location/<location_id>")
@scoped("directory:read")
def read_location(location_id: str):
    directory_id = hsds_id(m.Location, location_id)
    if directory_id is None:
        raise NotFound("No such location.")
    loc = db.session.get(m.Location, directory_id)
    address = None
    if not loc.address_confidential:
        address = db.session.scalar(select(m.Address).where(m.Address.location_id == loc.id)
                                    .order_by(m.Address.address_type != "physical").limit(1))
    phones = db.session.scalars(select(m.Phone).where(m.Phone.location_id == loc.id,
                                                      m.Phone.service_id.is_(None))).all()
    return fhir_response(build.location(loc, address, list(phones)))


@bp.route("/", defaults={"rest": ""}, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
@bp.route("/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def unknown(rest: str):
    """Anything else: 405 for an interaction we do not support on a resource type we serve, else 404."""
    if RESOURCE_PATH.match(rest):
        raise FhirError(405, f"{request.method} is not supported on {rest.split('/')[0]} (see /fhir/metadata).")
    raise NotFound("No such resource type or interaction on this FHIR server (see /fhir/metadata).")
