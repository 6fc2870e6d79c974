"""The outbox: one row per message to send (email, SMS) or to show in the app.

A row is written in the same transaction as the change it reports, so a change is never
announced without happening, nor happens unannounced. Delivery claims rows, sends them
and marks them sent; `dedupe_key` (unique) keeps one event from queuing the same message
twice. Bodies may hold patient data (they are messages to the patient): never log them.
"""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from referralnet.accounts.models import User
from referralnet.db import Base, UTCDateTime, utcnow

CHANNELS = ("email", "sms", "app")
STATES = ("pending", "sending", "sent", "failed", "skipped")


def _in(column: str, values) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


class Notification(Base):
    __tablename__ = "notification"
    __table_args__ = (
        CheckConstraint(_in("channel", CHANNELS), name="channel"),
        CheckConstraint(_in("state", STATES), name="state"),
        Index("ix_notification_state_next_attempt_at", "state", "next_attempt_at"),
        Index("ix_notification_recipient_user_id_created_at", "recipient_user_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    event: Mapped[str] = mapped_column(String(40))  # e.g. referral.sent, referral.accepted, referral.reminder
    channel: Mapped[str] = mapped_column(String(8))
    recipient_user_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user_account.id"))
    recipient_client_id: Mapped[Optional[int]] = mapped_column(ForeignKey("client.id"), index=True)
    address: Mapped[Optional[str]] = mapped_column(String(254))  # email address or phone number; never logged
    language: Mapped[str] = mapped_column(String(35), default="en")
    subject: Mapped[Optional[str]] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    referral_id: Mapped[Optional[int]] = mapped_column(ForeignKey("referral.id"), index=True)
    state: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    claimed_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    sent_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    read_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())  # staff notifications seen in the app
    last_error: Mapped[Optional[str]] = mapped_column(String(500))  # transport error, no message content
    dedupe_key: Mapped[Optional[str]] = mapped_column(String(200), unique=True)

    recipient_user: Mapped[Optional[User]] = relationship()
