"""The network admin's home page: the health of the whole network at a glance.

Only counts, never a referral or a client: admins are not party to any referral (see
`referrals/access.py`), so, like the reports, they see aggregates. Each number is what
an admin acts on: members to look after, join requests to decide, referrals waiting
past their response time, messages the outbox gave up on, directory imports that
failed (the import command records them in the audit log), listings nobody has
verified for a long time.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Optional

from sqlalchemy import func, or_, select

from referralnet.accounts.models import NetworkOrganization, OrgKind, Role, User
from referralnet.audit.models import AuditLog
from referralnet.db import utcnow
from referralnet.directory.models import Service
from referralnet.errors import NotPermitted
from referralnet.extensions import db
from referralnet.notifications.models import Notification
from referralnet.portal.listings import verify_cutoff
from referralnet.portal.models import JoinRequest
from referralnet.referrals.models import Referral
from referralnet.referrals.services import overdue_clause
from referralnet.referrals.states import TERMINAL

# Failed deliveries and imports are counted over this many days: older ones were dealt with or are moot.
RECENT_DAYS = 30
IMPORT_ACTION = "directory.import"
IMPORT_FAILED_ACTION = "directory.import.failed"


@dataclass
class NetworkHealth:
    """The network's numbers for its admin's home page."""

    members: dict[str, int]  # active member organizations by OrgKind value
    users: int  # active user accounts in active organizations
    join_requests: int  # pending
    open_referrals: int  # not finished
    overdue_referrals: int  # waiting for the agency's response past the response time
    failed_deliveries: int  # emails and text messages given up on in the last RECENT_DAYS days
    retrying_deliveries: int  # failed at least once and waiting for another attempt
    failed_imports: int  # directory imports refused in the last RECENT_DAYS days
    last_import_at: Optional[datetime]
    last_failed_import_at: Optional[datetime]
    listings_to_verify: int  # active services never verified or not for LISTING_VERIFY_DAYS days
    active_services: int
    recent_days: int = RECENT_DAYS


def _count(query) -> int:
    return db.session.scalar(query) or 0


def network_health(actor: User, now: Optional[datetime] = None, today: Optional[date] = None) -> NetworkHealth:
    """The network's health as its admin sees it (counts only). Raises NotPermitted for anyone but a network
    admin: the numbers span every organization."""
    if actor is None or actor.role != Role.ADMIN.value or not actor.active:
        raise NotPermitted("Only network admins see the network's health.")
    now = now or utcnow()
    since = now - timedelta(days=RECENT_DAYS)
    members = dict(db.session.execute(select(NetworkOrganization.kind, func.count())
                                      .where(NetworkOrganization.active.is_(True))
                                      .group_by(NetworkOrganization.kind)).all())
    users = _count(select(func.count()).select_from(User).join(User.organization)
                   .where(User.active.is_(True), NetworkOrganization.active.is_(True)))
    join_requests = _count(select(func.count()).select_from(JoinRequest).where(JoinRequest.state == "pending"))
    open_referrals = _count(select(func.count()).select_from(Referral)
                            .where(Referral.status.not_in([s.value for s in TERMINAL])))
    overdue = _count(select(func.count()).select_from(Referral).where(overdue_clause(now)))
    failed = _count(select(func.count()).select_from(Notification)
                    .where(Notification.state == "failed", Notification.created_at >= since))
    retrying = _count(select(func.count()).select_from(Notification)
                      .where(Notification.state == "pending", Notification.attempts > 0))
    failed_imports = _count(select(func.count()).select_from(AuditLog)
                            .where(AuditLog.action == IMPORT_FAILED_ACTION, AuditLog.at >= since))
    last_import = db.session.scalar(select(func.max(AuditLog.at)).where(AuditLog.action == IMPORT_ACTION))
    last_failed = db.session.scalar(select(func.max(AuditLog.at)).where(AuditLog.action == IMPORT_FAILED_ACTION))
    cutoff = verify_cutoff(today)
    active = Service.status == "active"
    to_verify = _count(select(func.count()).select_from(Service)
                       .where(active, or_(Service.assured_date.is_(None), Service.assured_date < cutoff)))
    services = _count(select(func.count()).select_from(Service).where(active))
    return NetworkHealth({kind.value: members.get(kind.value, 0) for kind in OrgKind}, users, join_requests,
                         open_referrals, overdue, failed, retrying, failed_imports, last_import, last_failed,
                         to_verify, services)
