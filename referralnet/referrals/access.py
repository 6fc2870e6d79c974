"""The one place that decides which referrals and clients a user may see.

- coordinators see the referrals their organization sent and its clients;
- partner staff see the referrals sent to their agency (the directory organization their
  network organization is linked to; none while it is unlinked) and the clients of those
  referrals, whose details they need to help them — as long as the client consents to share
  with the agency (see "Withdrawn consent" below);
- network admins see none: they are not party to any referral and the clients did not
  consent to share with them (reports use aggregates, the audit log holds no patient data);
- deactivated users, and users of deactivated organizations, see none.

Every page or API that lists or fetches referrals or clients starts from these queries.
Anything outside them is NotFound (404), never NotPermitted: a user must not learn that
a referral or client they may not see exists.

Withdrawn consent. When the client has no consent left to share with the receiving agency,
the agency still sees the referral (that it was cancelled, what happened) but sees the
client's details (date of birth, contact details, address, availability; the name stays, so
the agency can match its own records) only on a referral it accepted, and only while it is
open or finished less than WITHDRAWN_CONSENT_ACCESS_DAYS ago (default 30): it keeps what it
needs to finish serving the client, and no more. The client record itself (REST `/clients`,
FHIR `Patient`) is visible to it only through such a referral. `client_details_shared()`
decides for one referral, `details_shared_clause()` in SQL; the coordinator side is unaffected.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Optional

from flask import current_app, has_app_context
from sqlalchemy import ColumnElement, Select, and_, exists, false, func, literal, or_, select
from sqlalchemy.orm import aliased

from referralnet.accounts.models import Role, User
from referralnet.db import utcnow
from referralnet.errors import NotFound
from referralnet.extensions import db
from referralnet.referrals.models import Client, Consent, Referral, ReferralEvent, Status

DEFAULT_WITHDRAWN_CONSENT_ACCESS_DAYS = 30
_FINISHED = tuple(s.value for s in (Status.REJECTED, Status.COMPLETED, Status.FAILED, Status.CANCELLED,
                                    Status.ENTERED_IN_ERROR))


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
        sent_here = select(Referral.client_id).where(Referral.receiving_organization_id == receiving,
                                                     details_shared_clause())
        return query.where(Client.id.in_(sent_here))
    return query.where(false())


def withdrawn_consent_access_days() -> int:
    """Days an agency still sees the details of a client who withdrew consent, after finishing a referral
    it accepted (setting WITHDRAWN_CONSENT_ACCESS_DAYS, default 30)."""
    if not has_app_context():
        return DEFAULT_WITHDRAWN_CONSENT_ACCESS_DAYS
    return int(current_app.config.get("WITHDRAWN_CONSENT_ACCESS_DAYS", DEFAULT_WITHDRAWN_CONSENT_ACCESS_DAYS))


def details_shared_clause(now: Optional[datetime] = None) -> ColumnElement[bool]:
    """SQL: the receiving agency may see the client's details on this referral (module docstring)."""
    consented = exists().where(Consent.client_id == Referral.client_id,
                               Consent.receiving_organization_id == Referral.receiving_organization_id,
                               Consent.revoked_at.is_(None))
    # Accepted at some point: a response that was not a rejection (responded_at is set on accept or reject).
    accepted = and_(Referral.responded_at.is_not(None), Referral.status != Status.REJECTED.value)
    finished_at = (select(func.max(ReferralEvent.at))
                   .where(ReferralEvent.referral_id == Referral.id, ReferralEvent.kind == "status",
                          ReferralEvent.to_status.in_(_FINISHED))
                   .correlate(Referral).scalar_subquery())
    cutoff = (now or utcnow()) - timedelta(days=withdrawn_consent_access_days())
    still_serving = or_(Referral.status.not_in(_FINISHED),
                        func.coalesce(finished_at, Referral.updated_at) > literal(cutoff, Referral.updated_at.type))
    return or_(consented, and_(accepted, still_serving))


def client_details_shared(user: User, referral: Referral, *, now: Optional[datetime] = None) -> bool:
    """Whether `user` may see the client's details on this referral they can see: always for the sending
    organization, for the receiving agency as details_shared_clause() says."""
    if user.role != Role.PARTNER.value:
        return True
    return agency_sees_client_details(referral, now=now)


def agency_sees_client_details(referral: Referral, *, now: Optional[datetime] = None) -> bool:
    """Whether the receiving agency (its staff, or whoever holds its secure link) may see the client's
    details on this referral, as details_shared_clause() says."""
    return bool(db.session.scalar(select(Referral.id).where(Referral.id == referral.id,
                                                            details_shared_clause(now))))


def get_visible_referral_or_404(user: User, referral_id, *options) -> Referral:
    """The referral with this id if `user` may see it; NotFound otherwise (also for a malformed id).
    `options` are loader options for the query (what the page shows, loaded with the referral)."""
    referral = db.session.scalar(visible_referrals(user).where(Referral.id == _int_id(referral_id)).options(*options))
    if referral is None:
        raise NotFound("No such referral.")
    return referral


def get_visible_referral_page_or_404(user: User, referral_id, *options) -> tuple[Referral, bool, bool]:
    """As get_visible_referral_or_404, with what the referral page asks beside it, in the same query:
    (the referral, whether any referral names it as the one it followed up (the client referred
    elsewhere after it; whether `user` may see those is for services.list_followups), and whether `user`
    may see the client's details on it (client_details_shared)). Each was one more round trip on the
    most requested page."""
    later = aliased(Referral)
    followed_up = exists().where(later.previous_referral_id == Referral.id)
    shared = details_shared_clause() if user.role == Role.PARTNER.value else literal(True)
    row = db.session.execute(visible_referrals(user).add_columns(followed_up, shared)
                             .where(Referral.id == _int_id(referral_id)).options(*options)).one_or_none()
    if row is None:
        raise NotFound("No such referral.")
    return row[0], bool(row[1]), bool(row[2])


def get_visible_client_or_404(user: User, client_id, *options) -> Client:
    """The client with this id if `user` may see them; NotFound otherwise (also for a malformed id).
    `options` are loader options for the query (what the page shows, loaded with the client)."""
    client = db.session.scalar(visible_clients(user).where(Client.id == _int_id(client_id)).options(*options))
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
