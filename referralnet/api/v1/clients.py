"""Clients and their consent (scopes referrals:read / referrals:write).

A coordinator organization's token sees its own clients; a partner agency's sees the
clients of referrals sent to it (referrals.access); anything else is 404. Every response
that shows a client's details is audited as a view, as on the pages.
"""
from __future__ import annotations

from sqlalchemy import func, select

from referralnet.api.v1.common import ErrorSchema, PageArgs, actor, make_blueprint, page_schema, paged, scoped
from referralnet.api.v1.schemas import (ClientCreateSchema, ClientListArgs, ClientSchema, ClientUpdateSchema,
                                        ConsentCreateSchema, ConsentSchema, DuplicateArgs)
from referralnet.errors import Conflict, NotFound
from referralnet.referrals import services
from referralnet.referrals.access import get_visible_client_or_404, visible_clients
from referralnet.referrals.models import Client, Consent

bp = make_blueprint("api_v1_clients", "Clients of the organization, and their consent to share.")

ClientPage = page_schema(ClientSchema, "ClientPage")
ConsentPage = page_schema(ConsentSchema, "ConsentPage")


@bp.route("/clients", methods=["GET"])
@scoped("referrals:read")
@bp.arguments(ClientListArgs, location="query", as_kwargs=True)
@bp.response(200, ClientPage)
def list_clients(page: int, per_page: int, name: str | None = None):
    """The clients this organization may see, by family then given name; `name` matches words of either."""
    query = visible_clients(actor())
    for word in (name or "").split()[:4]:
        pattern = f"%{word.lower()}%"
        query = query.where(func.lower(Client.given_name).like(pattern) | func.lower(Client.family_name).like(pattern))
    result = paged(query.order_by(Client.family_name, Client.given_name, Client.id), page, per_page)
    for person in result["items"]:
        services.record_client_view(actor(), person)
    return result


@bp.route("/clients", methods=["POST"])
@scoped("referrals:write")
@bp.arguments(DuplicateArgs, location="query", as_kwargs=True)
@bp.arguments(ClientCreateSchema)
@bp.response(201, ClientSchema)
@bp.alt_response(409, schema=ErrorSchema, description=(
    "Possible duplicate: `errors.client_ids` lists the existing clients with the same names and date of birth; "
    "repeat with `?allow_duplicate=true` to create anyway."))
def create_client(body: dict, allow_duplicate: bool):
    """Add a client of this (referring) organization. Same rules as the page, duplicate check included."""
    if not allow_duplicate:
        duplicates = services.find_possible_duplicates(actor(), body.get("given_name"), body.get("family_name"),
                                                       body.get("date_of_birth"))
        if duplicates:
            raise Conflict("A client with the same names and date of birth already exists.",
                           {"client_ids": [c.id for c in duplicates]})
    return services.create_client(actor(), **body)


@bp.route("/clients/<int:client_id>", methods=["GET"])
@scoped("referrals:read")
@bp.response(200, ClientSchema)
def get_client(client_id: int):
    """One client's details (audited as a view)."""
    person = get_visible_client_or_404(actor(), client_id)
    services.record_client_view(actor(), person)
    return person


@bp.route("/clients/<int:client_id>", methods=["PATCH"])
@scoped("referrals:write")
@bp.arguments(ClientUpdateSchema)
@bp.response(200, ClientSchema)
def update_client(body: dict, client_id: int):
    """Change some of a client's details; fields not sent are kept, null clears an optional one."""
    return services.update_client(actor(), get_visible_client_or_404(actor(), client_id), **body)


@bp.route("/clients/<int:client_id>/consents", methods=["GET"])
@scoped("referrals:read")
@bp.arguments(PageArgs, location="query", as_kwargs=True)
@bp.response(200, ConsentPage)
def list_consents(client_id: int, page: int, per_page: int):
    """The client's consents to share, newest first, revoked ones included."""
    person = get_visible_client_or_404(actor(), client_id)
    query = select(Consent).where(Consent.client_id == person.id).order_by(Consent.recorded_at.desc(),
                                                                               Consent.id.desc())
    return paged(query, page, per_page)


@bp.route("/clients/<int:client_id>/consents", methods=["POST"])
@scoped("referrals:write")
@bp.arguments(ConsentCreateSchema)
@bp.response(201, ConsentSchema)
def record_consent(body: dict, client_id: int):
    """Record the client's consent to share with a directory organization (needed before a referral)."""
    person = get_visible_client_or_404(actor(), client_id)
    return services.record_consent(actor(), person, body["receiving_organization_id"], body["method"],
                                   body.get("note"))


@bp.route("/clients/<int:client_id>/consents/<int:consent_id>/revoke", methods=["POST"])
@scoped("referrals:write")
@bp.response(200, ConsentSchema)
def revoke_consent(client_id: int, consent_id: int):
    """Record that the client withdrew this consent. Their referrals to that organization that it has not
    accepted yet are cancelled (reason `consent-withdrawn`); accepted ones go on (see the README's consent policy)."""
    person = get_visible_client_or_404(actor(), client_id)
    consent = next((c for c in person.consents if c.id == consent_id), None)
    if consent is None:
        raise NotFound("No such consent.")
    return services.revoke_consent(actor(), consent).consent
