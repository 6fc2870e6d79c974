"""The audit log table (append-only)."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Optional

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from referralnet.db import Base, UTCDateTime, utcnow

if TYPE_CHECKING:
    from referralnet.accounts.models import User


class AuditLog(Base):
    """Who did or saw what, when. `details` holds ids, codes and field names only, never patient data
    (services.audit enforces it): the log is read by admins who may not see clients."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_object_type_object_id", "object_type", "object_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    user_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user_account.id"), index=True)
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(64))
    organization_id: Mapped[Optional[int]] = mapped_column(ForeignKey("network_organization.id"))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    # By name: recording (this module and services) imports nothing from the packages it records for.
    user: Mapped[Optional["User"]] = relationship("User")


def _append_only(mapper, connection, target) -> None:
    raise RuntimeError(f"{type(target).__name__} rows are append-only; add a new row instead.")


event.listen(AuditLog, "before_update", _append_only)
event.listen(AuditLog, "before_delete", _append_only)
