"""What reports keep of their own: searches that found nothing, counted in aggregate.

A row is one (local day, searching organization, need, SDOH domain, ZIP3) with how many
searches on that day found nothing. Never the words typed, never who searched for whom: the
need is a concept of the need lexicon (a fixed vocabulary) and the place is cut to its first
three ZIP digits, so nothing in it can point at a person.

The indexes the report queries need on `referral` (by period, within one sending or receiving
organization) are declared here too, next to the queries that use them.
"""
from __future__ import annotations

from datetime import date
from sqlalchemy import Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from referralnet.db import Base
from referralnet.referrals.models import Referral

NO_NEED = ""  # the search's words matched no need the lexicon knows
NO_ZIP3 = ""  # the search named no US ZIP code


class SearchGap(Base):
    """How many searches on `day` by one organization's staff for one need near one ZIP3 found nothing."""

    __tablename__ = "search_gap"
    __table_args__ = (UniqueConstraint("day", "organization_id", "need", "domain", "zip3"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, index=True)  # in the network's time zone
    organization_id: Mapped[int] = mapped_column(ForeignKey("network_organization.id"))
    need: Mapped[str] = mapped_column(String(64))  # need concept id, or NO_NEED
    domain: Mapped[str] = mapped_column(String(64))  # SDOH domain code, or "" when none
    zip3: Mapped[str] = mapped_column(String(3))
    count: Mapped[int] = mapped_column(Integer)


# Reports select referrals by when they were sent, across the network or within one organization.
Index("ix_referral_requested_at", Referral.requested_at)
Index("ix_referral_sending_organization_id_requested_at", Referral.sending_organization_id, Referral.requested_at)
Index("ix_referral_receiving_organization_id_requested_at", Referral.receiving_organization_id,
      Referral.requested_at)
