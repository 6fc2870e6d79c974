"""Requests from agencies outside the network to join it (from their secure-link page)."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from referralnet.accounts.models import NetworkOrganization, User
from referralnet.db import Base, UTCDateTime, utcnow
from referralnet.directory.models import ID, Organization
from referralnet.referrals.models import AgencyLink

JOIN_STATES = ("pending", "approved", "declined")


class JoinRequest(Base):
    """An agency's request to become a member; a network admin approves (creating the member
    organization, linked to the directory organization, and its first user) or declines it."""

    __tablename__ = "join_request"
    __table_args__ = (
        CheckConstraint("state IN (" + ", ".join(f"'{s}'" for s in JOIN_STATES) + ")", name="state"),
        CheckConstraint("(state = 'approved') = (network_organization_id IS NOT NULL)", name="approved_has_member"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    directory_organization_id: Mapped[str] = mapped_column(ID, ForeignKey("organization.id"), index=True)
    agency_link_id: Mapped[Optional[int]] = mapped_column(ForeignKey("agency_link.id"))
    contact_name: Mapped[str] = mapped_column(String(200))
    contact_email: Mapped[str] = mapped_column(String(254))
    message: Mapped[Optional[str]] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    decided_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    decided_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user_account.id"))
    network_organization_id: Mapped[Optional[int]] = mapped_column(ForeignKey("network_organization.id"))
    user_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user_account.id"))

    directory_organization: Mapped[Organization] = relationship()
    agency_link: Mapped[Optional[AgencyLink]] = relationship()
    decided_by: Mapped[Optional[User]] = relationship(foreign_keys=[decided_by_id])
    network_organization: Mapped[Optional[NetworkOrganization]] = relationship()
    user: Mapped[Optional[User]] = relationship(foreign_keys=[user_id])
