"""The agency's secure link: how an agency outside the network works a referral without an account.

When a referral travels by secure link (accounts.routes.DeliveryRoute.LINK), sending it
issues an `AgencyLink` and the outbox emails the agency its address (the body holds
`AGENCY_LINK`, replaced at delivery by the current link, so a link revoked meanwhile is
never sent). The token is built like the patient's (referrals.link_tokens: stored as a salt
and a hash only) and also expires after AGENCY_LINK_DAYS days (default 30). The sending
coordinator can reissue it (to the same or another address: the old link stops working and
the agency is emailed the new one) or revoke it.

Whoever holds an open link acts as the receiving agency (`actors.AgencyLinkActor`); an
unknown, malformed, expired, revoked or reissued token opens nothing (`find_link` -> None),
and the page answers all of them the same way.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Optional

from flask import current_app, has_app_context
from sqlalchemy import select, update

from referralnet.accounts.models import User
from referralnet.accounts.routes import DeliveryRoute, usable_email
from referralnet.audit.services import audit
from referralnet.db import utcnow
from referralnet.errors import NotPermitted, ValidationFailed
from referralnet.extensions import db
from referralnet.referrals.events import record_event
from referralnet.referrals.link_tokens import derive_token, hash_token, new_salt, plausible, public_url, same_token
from referralnet.referrals.models import AgencyLink, Referral, Status
from referralnet.referrals.states import TERMINAL, Party, parties_of

PURPOSE = "agency-link"
DEFAULT_DAYS = 30


def link_days() -> int:
    """How long a link opens its page (setting AGENCY_LINK_DAYS, default 30)."""
    if not has_app_context():
        return DEFAULT_DAYS
    return int(current_app.config.get("AGENCY_LINK_DAYS", DEFAULT_DAYS))


def issue_link(actor: User, referral: Referral, email: str, *, now: Optional[datetime] = None) -> AgencyLink:
    """A new open link for the referral's agency (used when sending; flushes). Any open one is revoked."""
    now = now or utcnow()
    _close_open_links(referral, now)
    link = AgencyLink(referral_id=referral.id, email=email, issued_at=now, expires_at=now + timedelta(days=link_days()),
                      issued_by_id=actor.id, token_salt=new_salt())
    db.session.add(link)
    db.session.flush()  # the token derives from the row's id
    link.token_hash = hash_token(token_for(link))
    db.session.flush()
    audit(actor, "referral.agency_link.issue", "referral", referral.id, agency_link_id=link.id, now=now)
    return link


def reissue_link(actor: User, referral: Referral, email: Optional[str] = None, *,
                 now: Optional[datetime] = None) -> AgencyLink:
    """Email the agency a new link (the old one stops working), to `email` or the address used so far.

    A referral the coordinator was tracking moves to the secure-link route once they have an
    address for the agency. Sending coordinators only; not for referrals in the network or
    finished ones. Raises NotPermitted, ValidationFailed (no usable address, wrong route or status).
    """
    _require_sender(actor, referral)
    if referral.delivery_route == DeliveryRoute.NETWORK.value:
        raise ValidationFailed("This agency is in the network: it works the referral in its own inbox.",
                               {"agency_email": ["The agency is a member of the network."]})
    if Status(referral.status) in TERMINAL:
        raise ValidationFailed("This referral is finished: there is nothing more for the agency to do.",
                               {"agency_email": ["The referral is finished."]})
    raw = email if email not in (None, "") else referral.agency_email
    address = usable_email(raw)
    if address is None:
        message = "Enter the agency's email address, like intake@agency.org."
        raise ValidationFailed(message, {"agency_email": [message]})
    now = now or utcnow()
    if referral.agency_email != address or referral.delivery_route != DeliveryRoute.LINK.value:
        referral.agency_email = address
        referral.delivery_route = DeliveryRoute.LINK.value
    link = issue_link(actor, referral, address, now=now)
    # The outbox emails the agency the new link when it hears of this event.
    record_event(referral, "agency-link", actor=actor, actor_kind="coordinator", at=now)
    return link


def revoke_link(actor: User, referral: Referral, *, now: Optional[datetime] = None) -> int:
    """No link opens this referral's agency page until a new one is issued; returns how many were open."""
    _require_sender(actor, referral)
    now = now or utcnow()
    closed = _close_open_links(referral, now)
    audit(actor, "referral.agency_link.revoke", "referral", referral.id, closed=closed, now=now)
    return closed


def current_link(referral: Referral, now: Optional[datetime] = None) -> Optional[AgencyLink]:
    """The referral's open link (not revoked, not expired), if any."""
    return db.session.scalar(
        select(AgencyLink).where(AgencyLink.referral_id == referral.id, AgencyLink.revoked_at.is_(None),
                                 AgencyLink.token_salt.is_not(None), AgencyLink.expires_at > (now or utcnow()))
        .order_by(AgencyLink.id.desc()).limit(1))


def latest_link(referral: Referral) -> Optional[AgencyLink]:
    """The referral's most recent link, open or not (to say when it expired or was revoked)."""
    return db.session.scalar(select(AgencyLink).where(AgencyLink.referral_id == referral.id)
                             .order_by(AgencyLink.id.desc()).limit(1))


def token_for(link: AgencyLink) -> Optional[str]:
    return None if link.token_salt is None else derive_token(PURPOSE, link.id, link.token_salt)


def link_url(link: AgencyLink) -> Optional[str]:
    """The agency page's absolute address (on PUBLIC_BASE_URL when set), or None for a closed link."""
    token = token_for(link)
    return None if token is None else public_url("agency.page", token)


def find_link(token: str, *, now: Optional[datetime] = None) -> Optional[AgencyLink]:
    """The open link this token is, or None: unknown, malformed, revoked, reissued or expired alike."""
    if not plausible(token):
        return None
    link = db.session.scalar(select(AgencyLink).where(AgencyLink.token_hash == hash_token(token)))
    if link is None or not link.is_open(now or utcnow()):
        return None
    return link if same_token(token_for(link), token) else None


def touch(link: AgencyLink, now: Optional[datetime] = None) -> None:
    """Remember when the link was last used (shown to the coordinator)."""
    link.last_used_at = now or utcnow()
    db.session.flush()


def _close_open_links(referral: Referral, now: datetime) -> int:
    result = db.session.execute(
        update(AgencyLink).where(AgencyLink.referral_id == referral.id, AgencyLink.revoked_at.is_(None))
        .values(revoked_at=now, token_salt=None, token_hash=None).execution_options(synchronize_session="fetch"))
    return result.rowcount or 0


def _require_sender(actor: User, referral: Referral) -> None:
    if Party.SENDING_COORDINATOR not in parties_of(actor, referral):
        raise NotPermitted("Only a coordinator of the sending organization can manage the agency's link.")
