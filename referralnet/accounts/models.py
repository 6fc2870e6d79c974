"""Network members: the organizations that use ReferralNet and their users.

A `NetworkOrganization` is a member of the network (a clinic that refers, a
partner agency that receives referrals, or the network's own operator). A
partner agency is linked to its public directory `organization` record.
"""
from __future__ import annotations

import enum
from datetime import datetime
from typing import Optional

from flask_login import UserMixin
from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from referralnet.db import Base, TimestampMixin, UTCDateTime, utcnow
from referralnet.directory.models import ID, Organization


class Role(str, enum.Enum):
    ADMIN = "admin"
    COORDINATOR = "coordinator"
    PARTNER = "partner"

    @property
    def label(self) -> str:
        return {"admin": "Network admin", "coordinator": "Care coordinator", "partner": "Partner staff"}[self.value]


class OrgKind(str, enum.Enum):
    REFERRER = "referrer"  # clinics, hospitals, health plans: send referrals
    PARTNER = "partner"  # community agencies: receive referrals
    NETWORK = "network"  # the network operator

    @property
    def label(self) -> str:
        return {"referrer": "Referring organization", "partner": "Partner agency",
                "network": "Network operator"}[self.value]


def _values(e: type[enum.Enum]) -> str:
    return ", ".join(f"'{m.value}'" for m in e)


class NetworkOrganization(TimestampMixin, Base):
    __tablename__ = "network_organization"
    __table_args__ = (CheckConstraint(f"kind IN ({_values(OrgKind)})", name="kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    directory_organization_id: Mapped[Optional[str]] = mapped_column(
        ID, ForeignKey("organization.id", ondelete="SET NULL"), index=True
    )
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # The number patients call to reach their care team (shown on the patient's status page).
    phone: Mapped[Optional[str]] = mapped_column(String(32))

    directory_organization: Mapped[Optional[Organization]] = relationship()
    users: Mapped[list["User"]] = relationship(back_populates="organization", order_by="User.email")

    @property
    def kind_label(self) -> str:
        return OrgKind(self.kind).label


class User(UserMixin, TimestampMixin, Base):
    __tablename__ = "user_account"  # "user" is reserved in PostgreSQL
    __table_args__ = (
        CheckConstraint(f"role IN ({_values(Role)})", name="role"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # A work number: the receiving agency sees it on the referrals this user sent, to call them back.
    phone: Mapped[Optional[str]] = mapped_column(String(32))
    password_hash: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(16))
    organization_id: Mapped[int] = mapped_column(ForeignKey("network_organization.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_login_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    # Two-factor sign-in (accounts.two_factor): the TOTP secret once enrolled, and the last time step
    # whose code was accepted (a code is good once: replaying it within its step is refused).
    totp_secret: Mapped[Optional[str]] = mapped_column(String(64))
    two_factor_enabled_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    totp_last_step: Mapped[Optional[int]] = mapped_column(Integer)

    organization: Mapped[NetworkOrganization] = relationship(back_populates="users")
    recovery_codes: Mapped[list["RecoveryCode"]] = relationship(back_populates="user", cascade="all, delete-orphan",
                                                               order_by="RecoveryCode.id")

    @property
    def two_factor_enabled(self) -> bool:
        return self.totp_secret is not None

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return bool(self.active) and bool(self.organization is None or self.organization.active)

    @property
    def role_enum(self) -> Role:
        return Role(self.role)

    def has_role(self, *roles: Role) -> bool:
        return self.role in {r.value for r in roles}


class RecoveryCode(Base):
    """A one-time code that stands in for the authenticator app; only its sha256 is kept."""

    __tablename__ = "recovery_code"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    used_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship(back_populates="recovery_codes")


class AccountToken(Base):
    """A one-time link to set a password: "reset" (forgot password, or sent by an admin) or "invite" (a new
    account's first password). Only the token's sha256 is kept; it expires, and is good once."""

    __tablename__ = "account_token"
    __table_args__ = (CheckConstraint("purpose IN ('reset', 'invite')", name="purpose"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(10))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    created_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))

    user: Mapped[User] = relationship(foreign_keys=[user_id])


def normalize_email(email: str) -> str:
    return email.strip().lower()



API_SCOPES = ("directory:read", "referrals:read", "referrals:write", "reports:read")


class ApiToken(TimestampMixin, Base):
    """A credential for one integration of one member organization (an EHR, a case-management system).

    The secret is shown once when created; only its sha256 is stored. `prefix` (the first
    characters of the secret) lets people tell tokens apart in lists and logs.
    """

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("network_organization.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user_account.id"))
    last_used_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    expires_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    revoked_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())

    organization: Mapped[NetworkOrganization] = relationship()
    created_by: Mapped[Optional[User]] = relationship()
