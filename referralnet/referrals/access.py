"""The one place that decides which referrals and clients a user may see.

- coordinators see the referrals their organization sent and its clients;
- partner staff see the referrals sent to their agency (the directory organization their
  network organization is linked to; none while it is unlinked) and the clients of those
  referrals, whose details they need to help them;
- network admins see none: they are not party to any referral and the clients did not
  consent to share with them (reports use aggregates, the audit log holds no patient data);
- deactivated users, and users of deactivated organizations, see none.

Every page or API that lists or fetches referrals or clients starts from these queries.
Anything outside them is NotFound (404), never NotPermitted: a user must not learn that
a referral or client they may not see exists.
"""
from __future__ import annotations

from sqlalchemy import Select, false, select

from referralnet.accounts.models import Role, User
from referralnet.errors import NotFound
from referralnet.extensions import db
from referralnet.referrals.models import Client, Referral


def _receiving_directory_org(user: User) -> str | None:
    """The directory organization a partner user receives referrals for, if any."""
    return user.organization.directory_organization_id if user.role == Role.PARTNER.value else None


def _can_see_anything(user: User | None) -> bool:
    return user is not None and bool(user.active) and user.organization.active


def visible_referrals(user: User) -> Select[tuple[Referral]]:
    """A `select(Referral)` of the referrals `user` may see; add filters and ordering to it."""
    query = select(Referral)
    if not _can_see_anything(user):
        return query.where(false())
    if user.role == Role.COORDINATOR.value:
        return query.where(Referral.sending_organization_id == user.organization_id)
    receiving = _receiving_directory_org(user)
    if receiving is not None:
        return query.where(Referral.receiving_organization_id == receiving)
    return query.where(false())


def visible_clients(user: User) -> Select[tuple[Client]]:
    """A `select(Client)` of the clients `user` may see; add filters and ordering to it."""
    query = select(Client)
    if not _can_see_anything(user):
        return query.where(false())
    if user.role == Role.COORDINATOR.value:
        return query.where(Client.organization_id == user.organization_id)
    receiving = _receiving_directory_org(user)
    if receiving is not None:
        sent_here = select(Referral.client_id).where(Referral.receiving_organization_id == receiving)
        return query.where(Client.id.in_(sent_here))
    return query.where(false())


def get_visible_referral_or_404(user: User, referral_id) -> Referral:
    """The referral with this id if `user` may see it; NotFound otherwise (also for a malformed id)."""
    referral = db.session.scalar(visible_referrals(user).where(Referral.id == _int_id(referral_id)))
    if referral is None:
        raise NotFound("No such referral.")
    return referral


def get_visible_client_or_404(user: User, client_id) -> Client:
    """The client with this id if `user` may see them; NotFound otherwise (also for a malformed id)."""
    client = db.session.scalar(visible_clients(user).where(Client.id == _int_id(client_id)))
    if client is None:
        raise NotFound("No such client.")
    return client


_MAX_ID = 2**31 - 1


def _int_id(value) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = -1
    # -1 matches nothing, so the caller answers 404 as for any unknown id. Out-of-range numbers
    # too: PostgreSQL would reject them as an INTEGER and turn a 404 into a 500.
    return number if 0 < number <= _MAX_ID else -1
