"""How a referral to a directory service travels: the three delivery routes.

Most agencies in a 211 directory are not members of the network. A referral still reaches
them, by one of three routes, decided when it is sent (and shown on search cards and the
service page before anyone types anything):

- **network**: an active partner agency of the network receives for the service's
  organization; the referral lands in its inbox;
- **link**: no member receives for it, but there is an email address (the service's, else
  the organization's, or one the coordinator enters); the agency is emailed a secure link
  to a page where its staff work the referral without an account;
- **tracked**: no electronic contact; the coordinator hands the client the printed summary
  and records what the agency and the client tell them.

This lives with accounts because it is a question about network membership (which
organizations are members) over directory data (their email addresses); search and
referrals both ask it.
"""
from __future__ import annotations

import enum
import re
from typing import Iterable, Optional

from sqlalchemy import select

from referralnet.accounts.models import NetworkOrganization, OrgKind
from referralnet.directory.models import Organization, Service
from referralnet.extensions import db

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_EMAIL = 254


class DeliveryRoute(str, enum.Enum):
    NETWORK = "network"
    LINK = "link"
    TRACKED = "tracked"

    @property
    def label(self) -> str:
        return {"network": "In the network", "link": "By secure link",
                "tracked": "Tracked by the coordinator"}[self.value]


def usable_email(value: Optional[str]) -> Optional[str]:
    """The address, trimmed and lower-cased, if it looks like one; else None."""
    if value is None:
        return None
    value = value.strip().lower()
    return value if value and len(value) <= MAX_EMAIL and EMAIL.match(value) else None


def directory_email(service: Service, organization: Optional[Organization] = None) -> Optional[str]:
    """The address a secure link goes to by default: the service's, else its organization's."""
    organization = organization if organization is not None else service.organization
    return usable_email(service.email) or usable_email(organization.email if organization is not None else None)


def member_receivers(directory_organization_ids: Iterable[str]) -> set[str]:
    """Those of these directory organizations for which an active partner agency of the network receives."""
    ids = {i for i in directory_organization_ids if i}
    if not ids:
        return set()
    return set(db.session.scalars(
        select(NetworkOrganization.directory_organization_id).where(
            NetworkOrganization.directory_organization_id.in_(ids),
            NetworkOrganization.kind == OrgKind.PARTNER.value, NetworkOrganization.active.is_(True))))


def is_network_member(directory_organization_id: str) -> bool:
    """Whether an active partner agency of the network receives for this directory organization."""
    return bool(member_receivers([directory_organization_id]))


def expected_routes(service_ids: Iterable[str]) -> dict[str, DeliveryRoute]:
    """How a referral to each of these services would travel if sent now (unknown ids are left out).

    Two queries for any number of services: the services with their organizations' emails, and
    which of those organizations are members.
    """
    ids = list(dict.fromkeys(i for i in service_ids if i))
    if not ids:
        return {}
    rows = db.session.execute(
        select(Service.id, Service.organization_id, Service.email, Organization.email)
        .join(Organization, Organization.id == Service.organization_id).where(Service.id.in_(ids))).all()
    members = member_receivers(org_id for _, org_id, _, _ in rows)
    routes = {}
    for service_id, org_id, service_email, org_email in rows:
        if org_id in members:
            routes[service_id] = DeliveryRoute.NETWORK
        elif usable_email(service_email) or usable_email(org_email):
            routes[service_id] = DeliveryRoute.LINK
        else:
            routes[service_id] = DeliveryRoute.TRACKED
    return routes
