"""Declarative base with a naming convention (so Alembic names constraints), mixins and utcnow."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

from sqlalchemy import DateTime, MetaData, TypeDecorator
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """Timezone-aware now in UTC; used as a callable column default."""
    return datetime.now(timezone.utc)


def new_uuid() -> str:
    """A fresh HSDS-style identifier (UUID4 as a string)."""
    return str(uuid.uuid4())


class UTCDateTime(TypeDecorator):
    """A timestamp stored as UTC and always read back timezone-aware.

    SQLite has no timezone support, so naive values read from it are taken as UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None:
            if value.tzinfo is None:
                value = value.replace(tzinfo=timezone.utc)
            value = value.astimezone(timezone.utc)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class TimestampMixin:
    """created_at / updated_at kept by the database layer, not by callers."""

    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, info={"hsds": False})
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow, info={"hsds": False}
    )


def get_or_404(model, ident, message: str):
    """The row of `model` with primary key `ident`, or NotFound(message) (a 404 in the error contract)."""
    from referralnet.errors import NotFound
    from referralnet.extensions import db

    row = db.session.get(model, ident)
    if row is None:
        raise NotFound(message)
    return row
