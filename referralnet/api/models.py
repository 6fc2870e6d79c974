"""Tables the machine interfaces own: the REST API's idempotency keys."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from referralnet.db import Base, UTCDateTime, utcnow


class IdempotencyKey(Base):
    """One `Idempotency-Key` a token used on `POST /api/v1/referrals`, and the answer it got.

    The unique (token, key) constraint is what makes a key work once: of two requests with
    the same new key at the same moment, the database lets one insert its row and makes the
    other wait for that transaction, then refuses it (api.v1.idempotency replays the stored
    answer to it). Only hashes, ids and the response the token itself was sent are kept; the
    key itself is stored as its sha256 (a client may put anything in it).

    The row is written before the referral (to claim the key) and completed with the
    response in the same transaction, so a committed row always has its response; a failed
    request rolls back its row and a retry runs again.
    """

    __tablename__ = "idempotency_key"
    __table_args__ = (UniqueConstraint("token_id", "key_hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_id: Mapped[int] = mapped_column(ForeignKey("api_token.id"))
    key_hash: Mapped[str] = mapped_column(String(64))
    request_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    referral_id: Mapped[Optional[int]] = mapped_column(ForeignKey("referral.id"))
    # Null only inside the claiming transaction (see above).
    response_status: Mapped[Optional[int]] = mapped_column(Integer)
    response_body: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON)
