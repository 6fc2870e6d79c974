"""What the coordinator's and the partner's home pages show: "what do I do now?".

The counts are the worklist's and the inbox's own (`worklists.counts`), so a card on the
home page and the tab it links to always agree; the referrals listed (overdue, recent
patient reports) come from `access.visible_referrals`, like every other page, so
another organization's referrals never count or show.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Optional

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from referralnet.accounts.models import User
from referralnet.db import utcnow
from referralnet.extensions import db
from referralnet.referrals import worklists
from referralnet.referrals.access import visible_referrals
from referralnet.referrals.models import Referral, ReferralEvent
from referralnet.referrals.services import overdue_clause

# How many rows each list on a home page shows; the card links to the full list.
HOME_LIST_LENGTH = 5
# Patient reports older than this are not "recent" any more (the worklist still has them).
RECENT_REPORT_DAYS = 14


@dataclass
class HomeCounts:
    """The tabs of one list (worklist or inbox) with their counts, and the few referrals to act on now."""

    views: tuple[worklists.View, ...]
    counts: dict[str, int]
    overdue: list[Referral]
    overdue_total: int
    attention_keys: tuple[str, ...]
    reports: list[ReferralEvent] = field(default_factory=list)

    @property
    def attention(self) -> int:
        """How many referrals need the user now (the views in `attention_keys`)."""
        return sum(self.counts[k] for k in self.attention_keys)


def _overdue(user: User, now: datetime) -> tuple[list[Referral], int]:
    """The user's referrals past their response time, the longest overdue first, and how many there are."""
    query = visible_referrals(user).where(overdue_clause(now))
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db.session.scalars(query.options(selectinload(Referral.client), selectinload(Referral.service),
                                            selectinload(Referral.receiving_organization),
                                            selectinload(Referral.sending_organization))
                              .order_by(Referral.response_due_at, Referral.id).limit(HOME_LIST_LENGTH))
    return list(rows), total


def recent_patient_reports(user: User, now: Optional[datetime] = None,
                           limit: int = HOME_LIST_LENGTH) -> list[ReferralEvent]:
    """What patients reported from their status page in the last RECENT_REPORT_DAYS days on the user's
    referrals, newest first (what a coordinator recorded for the client is not news to them)."""
    now = now or utcnow()
    visible = visible_referrals(user).with_only_columns(Referral.id)
    query = (select(ReferralEvent)
             .where(ReferralEvent.kind == "report", ReferralEvent.on_behalf_of.is_(None),
                    ReferralEvent.at >= now - timedelta(days=RECENT_REPORT_DAYS),
                    ReferralEvent.referral_id.in_(visible))
             .options(selectinload(ReferralEvent.referral).selectinload(Referral.client),
                      selectinload(ReferralEvent.referral).selectinload(Referral.service))
             .order_by(ReferralEvent.at.desc(), ReferralEvent.id.desc()).limit(limit))
    return list(db.session.scalars(query))


def coordinator_home(user: User, now: Optional[datetime] = None) -> HomeCounts:
    """The coordinator's home: the worklist's counts per tab, the overdue referrals and recent patient reports,
    all of the user's organization only."""
    now = now or utcnow()
    overdue, overdue_total = _overdue(user, now)
    return HomeCounts(worklists.WORKLIST, worklists.counts(user, worklists.WORKLIST, worklists.Filters(), now),
                      overdue, overdue_total, worklists.ATTENTION_KEYS, recent_patient_reports(user, now))


def partner_home(user: User, now: Optional[datetime] = None) -> HomeCounts:
    """The partner's home: the inbox's counts per tab and the overdue referrals, of the user's agency only."""
    now = now or utcnow()
    overdue, overdue_total = _overdue(user, now)
    return HomeCounts(worklists.INBOX, worklists.counts(user, worklists.INBOX, worklists.Filters(), now),
                      overdue, overdue_total, worklists.INBOX_ATTENTION_KEYS)
