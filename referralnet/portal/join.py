"""Joining the network: an agency outside it asks from its secure-link page; a network admin decides.

Approving creates the member organization (a partner agency linked to the directory
organization, so that its referrals, past and future, reach its inbox) and its first user,
with a one-time password the admin hands over. Every step is audited (ids and codes only).
"""
from __future__ import annotations

import secrets
from datetime import datetime
from typing import Optional

from sqlalchemy import func, select

from referralnet.accounts import services as accounts
from referralnet.accounts.models import NetworkOrganization, OrgKind, Role, User
from referralnet.accounts.routes import is_network_member, usable_email
from referralnet.audit.services import audit
from referralnet.db import utcnow
from referralnet.directory.services import clean_text
from referralnet.errors import Conflict, NotFound, NotPermitted, ValidationFailed
from referralnet.extensions import db
from referralnet.portal.models import JoinRequest
from referralnet.referrals.actors import AgencyLinkActor, audit_as
from referralnet.referrals.models import MAX_TEXT

MAX_NAME = 200


def pending_request(directory_organization_id: str) -> Optional[JoinRequest]:
    """The organization's request still waiting for an admin, if any."""
    return db.session.scalar(select(JoinRequest).where(
        JoinRequest.directory_organization_id == directory_organization_id, JoinRequest.state == "pending")
        .order_by(JoinRequest.id.desc()).limit(1))


def request_to_join(actor: AgencyLinkActor, contact_name: str, contact_email: str, message: Optional[str] = None, *,
                    now: Optional[datetime] = None) -> JoinRequest:
    """The agency (through its link) asks to join the network; a network admin decides.

    Raises ValidationFailed (missing or bad name or email, message too long), Conflict (the
    organization is already a member, or already asked and is waiting for an answer).
    """
    org_id = actor.link.referral.receiving_organization_id
    errors: dict[str, list[str]] = {}
    name, email, message = clean_text(contact_name), clean_text(contact_email), clean_text(message)
    if name is None:
        errors["contact_name"] = ["Enter your name."]
    elif len(name) > MAX_NAME:
        errors["contact_name"] = [f"Keep your name under {MAX_NAME} characters."]
    if usable_email(email) is None:
        errors["contact_email"] = ["Enter your work email address, like name@agency.org."]
    if message is not None and len(message) > MAX_TEXT:
        errors["message"] = [f"Keep the message under {MAX_TEXT} characters."]
    if errors:
        raise ValidationFailed("Your request was not sent: " + " ".join(m for ms in errors.values() for m in ms),
                               errors)
    if is_network_member(org_id):
        raise Conflict("Your agency is already a member of the network: sign in to see its referrals.")
    if pending_request(org_id) is not None:
        raise Conflict("Your agency already asked to join; the network's administrators will answer by email.")
    row = JoinRequest(directory_organization_id=org_id, agency_link_id=actor.link.id, contact_name=name,
                      contact_email=usable_email(email), message=message, state="pending", created_at=now or utcnow())
    db.session.add(row)
    db.session.flush()
    audit_as(actor, "join_request.create", "join_request", row.id, directory_organization_id=org_id, now=now)
    return row


def list_requests(actor: User, state: str = "pending") -> list[JoinRequest]:
    """Requests in a state, oldest first (network admins only)."""
    _require_admin(actor)
    return list(db.session.scalars(select(JoinRequest).where(JoinRequest.state == state)
                                   .order_by(JoinRequest.created_at, JoinRequest.id)))


def get_request(actor: User, request_id) -> JoinRequest:
    _require_admin(actor)
    try:
        row = db.session.get(JoinRequest, int(request_id))
    except (TypeError, ValueError, OverflowError):
        row = None
    if row is None:
        raise NotFound("No such request.")
    return row


def approve_request(actor: User, row: JoinRequest, *, organization_name: Optional[str] = None,
                    user_name: Optional[str] = None, user_email: Optional[str] = None,
                    now: Optional[datetime] = None) -> tuple[NetworkOrganization, User, str]:
    """Make the agency a member: a partner organization linked to its directory organization, and its
    first user (partner staff). Returns them and the user's one-time password (shown once to the admin).

    Names and email default to the request's. Raises NotPermitted (not an admin), Conflict (already
    decided, or the organization became a member meanwhile), ValidationFailed (what
    accounts.create_organization / create_user refuse: a taken name or email...).
    """
    _require_admin(actor)
    if row.state != "pending":
        raise Conflict(f"This request was already {row.state}.")
    if is_network_member(row.directory_organization_id):
        raise Conflict("This organization is already a member of the network; decline the request.")
    name = clean_text(organization_name) or row.directory_organization.name
    taken = db.session.scalar(select(NetworkOrganization.id).where(
        func.lower(NetworkOrganization.name) == name.lower()))
    if taken is not None and not organization_name:
        name = f"{name} ({row.directory_organization_id})"[:200]
    org = accounts.create_organization(name=name, kind=OrgKind.PARTNER.value,
                                       directory_organization_id=row.directory_organization_id, actor=actor)
    password = secrets.token_urlsafe(12)
    user = accounts.create_user(email=user_email or row.contact_email, name=user_name or row.contact_name,
                                password=password, role=Role.PARTNER.value, organization_id=org.id, actor=actor)
    row.state, row.decided_at, row.decided_by_id = "approved", now or utcnow(), actor.id
    row.network_organization_id, row.user_id = org.id, user.id
    db.session.flush()
    audit(actor, "join_request.approve", "join_request", row.id, network_organization_id=org.id, user_id=user.id,
          now=now)
    return org, user, password


def decline_request(actor: User, row: JoinRequest, *, now: Optional[datetime] = None) -> JoinRequest:
    """Decline a pending request. Raises NotPermitted (not an admin), Conflict (already decided)."""
    _require_admin(actor)
    if row.state != "pending":
        raise Conflict(f"This request was already {row.state}.")
    row.state, row.decided_at, row.decided_by_id = "declined", now or utcnow(), actor.id
    db.session.flush()
    audit(actor, "join_request.decline", "join_request", row.id, now=now)
    return row


def _require_admin(actor: User) -> None:
    if actor is None or actor.role != Role.ADMIN.value or not actor.is_active:
        raise NotPermitted("Only network administrators can decide requests to join the network.")
